"""The SQLite journal: the default backend, one file per job, stdlib only.

The event loop never waits on the disk. Commits are made by a writer process of the
journal's own (``_writer``; its thread where none can run), every other statement on one
worker thread. A :meth:`~SqliteJournal.begin` is one transaction for a whole group of
items, committed before it returns; settlements are group-committed as soon as the writer
is free (``_commit``). WAL mode, ``synchronous=NORMAL``: a commit survives a crash of the
process, ``kill -9`` included.

A run holds the journal exclusively (``_lock``: an OS lock on ``JOURNAL.lock`` beside the
file, which dies with its process). Reading a journal (``phygitals journal show``) takes
no lock, and works in a directory this process cannot write.

The file layout (schema version 1, also in ``PRAGMA user_version``)::

    job    one row: schema_version, base_url, user_id, created_at, runs
    items  position (job order), item_id (unique), state, quoted_amount, amount,
           error_type, error_message, status_code, retry, attempts, begun_at, settled_at

Amounts are exact decimal strings, times ISO 8601 UTC strings, so the file reads well
with the ``sqlite3`` shell too.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from .._errors import (
    JournalCorruptedError,
    JournalError,
    JournalNotFoundError,
    JournalVersionError,
)
from . import _sqlite_sql as _sql
from ._commit import GroupCommit, done_future
from ._lock import release_run_lock, take_run_lock
from ._protocol import (
    JournalEntry,
    JournalItem,
    JournalJob,
    JournalSettlement,
    JournalState,
    check_binding,
)
from ._writer import WriterProcess

__all__ = ["SCHEMA_VERSION", "SqliteJournal"]

SCHEMA_VERSION = 1
# Marks the file as a phygitals journal ("PHYJ"), so another SQLite database is refused.
_APPLICATION_ID = 0x5048594A
_SQLITE_MAGIC = b"SQLite format 3\x00"
_PAGE = 512  # rows read per query while streaming
# SQLite's errors about reaching a file rather than about what is in it.
_NOT_THE_CONTENT = (
    "SQLITE_CANTOPEN",
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_READONLY",
    "SQLITE_IOERR",
    "SQLITE_PERM",
)

T = TypeVar("T")


class SqliteJournal:
    """A bulk sellback journal in one SQLite file (see :class:`Journal` for the contract).

    ``sell_back_many(journal="run.db")`` builds one for you; build it yourself only to
    pass it around as an object.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._db: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        # Where no writer process runs: settlements grouped here, committed on the thread.
        self._commits = GroupCommit(lambda batch: self._call(self._commit, batch, ()))
        self._job: JournalJob | None = None
        self._lock: int | None = None  # the run lock's file descriptor, while held
        self._writer: WriterProcess | None = None  # makes the commits, where it can run
        self._closing = False

    def __repr__(self) -> str:
        return f"SqliteJournal({self.path!r})"

    # -- the worker thread ------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            if self._closing:
                msg = f"journal {self.path!r} is closed"
                raise JournalError(msg)
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="phygitals-journal")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, functools.partial(fn, *args))
        except sqlite3.Error as exc:
            # A full disk or a file removed under a run: still one of our typed errors.
            msg = f"journal {self.path!r} failed: {exc}"
            raise JournalError(msg) from exc

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            msg = f"journal {self.path!r} is not open"
            raise JournalError(msg)
        return self._db

    # -- opening ----------------------------------------------------------------------------

    def _connect(self, *, create: bool) -> sqlite3.Connection:
        """Connect after checking the path, without writing a byte to a file we refuse."""
        path = self.path
        file_path = Path(path)
        if file_path.is_dir():
            msg = f"journal {path!r} is a directory, not a journal file"
            raise JournalError(msg)
        if file_path.exists() and not file_path.is_file():
            # A FIFO or a device would block or stream forever on the first read.
            msg = f"journal {path!r} is not a regular file"
            raise JournalError(msg)
        if file_path.exists():
            try:
                with file_path.open("rb") as file:
                    head = file.read(len(_SQLITE_MAGIC))
            except OSError as exc:
                msg = f"journal {path!r} cannot be read: {exc.strerror or exc}"
                raise JournalError(msg) from exc
            if not os.access(path, os.W_OK) and create:
                msg = f"journal {path!r} cannot be written (permission denied)"
                raise JournalError(msg)
            if head and head != _SQLITE_MAGIC:
                msg = f"journal {path!r} is not an SQLite database"
                raise JournalCorruptedError(msg)
        elif not create:
            msg = f"journal {path!r} does not exist"
            raise JournalNotFoundError(msg)
        elif not file_path.absolute().parent.is_dir():
            msg = f"journal {path!r}: its directory does not exist"
            raise JournalError(msg)
        try:
            db = _sql.connect(file_path, create=create)
        except sqlite3.Error as exc:
            msg = f"journal {path!r} cannot be opened: {exc}"
            raise JournalError(msg) from exc
        return db

    def _read_job(self, db: sqlite3.Connection) -> JournalJob | None:
        """The stored job, ``None`` for an empty database; checks everything, writes nothing."""
        path = self.path
        try:
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
            if app_id == 0 and not tables:
                return None
            if app_id != _APPLICATION_ID:
                msg = f"journal {path!r} is an SQLite database, but not a sellback journal"
                raise JournalCorruptedError(msg)
            if version != SCHEMA_VERSION:
                msg = (
                    f"journal {path!r} has schema version {version}; this version of"
                    f" phygitals_async reads version {SCHEMA_VERSION}"
                )
                raise JournalVersionError(msg)
            check = db.execute("PRAGMA quick_check(1)").fetchone()[0]
            if check != "ok":
                msg = f"journal {path!r} is corrupted: {check}"
                raise JournalCorruptedError(msg)
            row = db.execute(
                "SELECT schema_version, base_url, user_id, created_at, runs FROM job"
            ).fetchone()
            db.execute(_sql.SELECT + " LIMIT 1").fetchall()
        except sqlite3.OperationalError as exc:
            if not getattr(exc, "sqlite_errorname", "").startswith(_NOT_THE_CONTENT):
                msg = f"journal {path!r} is corrupted: {exc}"
                raise JournalCorruptedError(msg) from exc
            # SQLite could not open, lock or read the file (or its side files): not damage.
            msg = f"journal {path!r} cannot be opened: {exc}"
            raise JournalError(msg) from exc
        except sqlite3.DatabaseError as exc:
            msg = f"journal {path!r} is corrupted: {exc}"
            raise JournalCorruptedError(msg) from exc
        if row is None:
            msg = f"journal {path!r} is corrupted: its job row is missing"
            raise JournalCorruptedError(msg)
        return JournalJob(row[0], row[1], row[2], datetime.fromisoformat(row[3]), row[4])

    def _check_job(self, job: JournalJob, user_id: str | None, base_url: str) -> None:
        where = f"journal {self.path!r}"
        check_binding(
            job,
            user_id,
            base_url,
            environment=lambda bound, asked: (
                f"{where} is a job for {bound}, not {asked}; use another journal file"
            ),
            owner=lambda bound, asked: (
                f"{where} is a job for user {bound!r}, not {asked!r}; use another journal file"
            ),
        )

    # -- the run lock ------------------------------------------------------------------------

    @property
    def lock_path(self) -> str:
        """The file whose OS lock a run holds (beside the journal)."""
        return self.path + ".lock"

    def _hold(self) -> None:
        """Take the run lock, or raise :class:`JournalBusyError` naming its holder."""
        if self._lock is None:
            self._lock = take_run_lock(self.path, self.lock_path)

    def _let_go(self) -> None:
        fd, self._lock = self._lock, None
        if fd is not None:
            release_run_lock(fd)

    def _open(self, user_id: str | None, base_url: str) -> JournalJob:
        self._hold()
        try:
            return self._open_held(user_id, base_url)
        except BaseException:
            self._let_go()
            raise

    def _open_held(self, user_id: str | None, base_url: str) -> JournalJob:
        db = self._connect(create=True)
        try:
            job = self._read_job(db)
            if job is not None:
                self._check_job(job, user_id, base_url)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("BEGIN IMMEDIATE")
            if job is None:
                for statement in _sql.SCHEMA:
                    db.execute(statement)
                db.execute(f"PRAGMA application_id={_APPLICATION_ID}")
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                job = JournalJob(SCHEMA_VERSION, base_url, user_id, datetime.now(UTC), 1)
                db.execute(
                    "INSERT INTO job VALUES (1, ?, ?, ?, ?, 1)",
                    (SCHEMA_VERSION, base_url, user_id, job.created_at.isoformat()),
                )
            else:
                owner = job.user_id if job.user_id is not None else user_id
                job = JournalJob(job.schema_version, base_url, owner, job.created_at, job.runs + 1)
                db.execute("UPDATE job SET user_id = ?, runs = ?", (owner, job.runs))
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            db.close()
            msg = f"journal {self.path!r} cannot be written: {exc}"
            raise JournalError(msg) from exc
        except BaseException:
            db.close()
            raise
        self._db = db
        return job

    def _open_for_reading(self) -> JournalJob:
        db = self._connect(create=False)
        try:
            job = self._read_job(db)
        except BaseException:
            db.close()
            raise
        if job is None:
            db.close()
            msg = f"journal {self.path!r} is empty: no job has been recorded in it"
            raise JournalCorruptedError(msg)
        self._db = db
        return job

    async def open(self, *, user_id: str | None, base_url: str) -> JournalJob:
        """See :meth:`Journal.open`."""
        self._job = await self._call(self._open, user_id, base_url)
        try:
            self._writer = await WriterProcess.start(self.path, self._lock)
        except BaseException:
            await self.close()
            raise
        return self._job

    async def open_for_reading(self) -> JournalJob:
        """See :meth:`Journal.open_for_reading`."""
        self._job = await self._call(self._open_for_reading)
        return self._job

    def _check_ready(self, user_id: str | None, base_url: str) -> None:
        if not Path(self.path).is_file() or not Path(self.path).stat().st_size:
            return  # a run starts a new job in it
        try:
            self._check_job(self._open_for_reading(), user_id, base_url)
            self._hold()
        finally:
            self._let_go()
            self._close()

    async def check_ready(self, *, user_id: str | None, base_url: str) -> None:
        """Refuse now what a run's :meth:`open` would: a foreign, broken or busy journal.

        For a caller that reads something before a run (the CLI's ``--all`` reads the
        inventory), so that a journal the run cannot use is refused before any request.
        Changes nothing in the journal, and leaves this object closed.
        """
        try:
            await self._call(self._check_ready, user_id, base_url)
        finally:
            await self.close()

    async def job(self) -> JournalJob:
        """See :meth:`Journal.job`."""
        if self._job is None:
            msg = f"journal {self.path!r} is not open"
            raise JournalError(msg)
        return self._job

    # -- writing ----------------------------------------------------------------------------

    def _add(self, items: Sequence[JournalItem]) -> int:
        db = self._conn()
        rows = [
            (i.item_id, None if i.quoted_amount is None else str(i.quoted_amount)) for i in items
        ]
        db.execute("BEGIN IMMEDIATE")
        try:
            last = db.execute("SELECT COALESCE(MAX(position), -1) FROM items").fetchone()[0]
            # New items are appended, known ones only learn a price.
            if _sql.JSON:
                db.execute(_sql.ADD_JSON, (json.dumps(rows),))
            else:
                db.executemany(_sql.ADD, rows)
            added: int = db.execute(
                "SELECT COUNT(*) FROM items WHERE position > ?", (last,)
            ).fetchone()[0]
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return added

    def _write_settlements(self, db: sqlite3.Connection, batch: list[JournalSettlement]) -> None:
        rows = _sql.settlement_rows(batch)
        if _sql.JSON:
            db.execute(_sql.SETTLE_JSON, (_sql.now(), json.dumps(rows)))
        else:
            now = _sql.now()
            db.executemany(_sql.SETTLE, [(*row[1:], now, row[0]) for row in rows])

    def _commit(self, batch: list[JournalSettlement], begin: Sequence[str]) -> None:
        db = self._conn()
        # Where it can, one statement is its own transaction: one call into SQLite, so the
        # writer thread takes the interpreter's lock once per commit, not three times.
        whole = not _sql.JSON or bool(batch and begin)
        if whole:
            db.execute("BEGIN IMMEDIATE")
        try:
            if batch:
                self._write_settlements(db, batch)
            if begin:
                db.execute(_sql.BEGIN, (_sql.now(), json.dumps(list(begin))))
            if whole:
                db.execute("COMMIT")
        except BaseException:
            if whole:
                db.execute("ROLLBACK")
            raise

    async def add_items(self, items: Sequence[JournalItem]) -> int:
        """See :meth:`Journal.add_items`."""
        if not items:
            return 0
        return await self._call(self._add, items)

    def _refuse_if_closing(self) -> None:
        """No write starts once :meth:`close` has: it would race what the writer still has."""
        if self._closing:
            msg = f"journal {self.path!r} is closed"
            raise JournalError(msg)

    async def begin(self, item_ids: Sequence[str]) -> Sequence[str]:
        """See :meth:`Journal.begin`: one transaction for the group."""
        self._refuse_if_closing()
        if self._commits.failed is not None:
            raise self._commits.failed
        if self._writer is not None:
            await self._writer.commit("B", item_ids)
        else:
            await self._call(self._commit, [], item_ids)
        return item_ids

    async def settle(self, settlements: Sequence[JournalSettlement]) -> None:
        """See :meth:`Journal.settle`: group-committed; returns once durable."""
        await asyncio.shield(self.settle_soon(settlements))

    def settle_soon(self, settlements: Sequence[JournalSettlement]) -> asyncio.Future[None]:
        """Hand outcomes over now, in order with every other write; done once durable."""
        self._refuse_if_closing()
        if self._writer is None:
            return self._commits.submit(settlements)
        if not settlements:
            return done_future(asyncio.get_running_loop())
        # Sent at once (the run hands a turn's sales over together); the writer process
        # groups what arrives while it commits.
        return self._writer.submit("S", _sql.settlement_rows(settlements), now=True)

    async def flush(self) -> None:
        """See :meth:`Journal.flush`."""
        if self._writer is not None:
            await self._writer.drain()
        await self._commits.drain()

    # -- reading ----------------------------------------------------------------------------

    def _missing(self, item_ids: Sequence[str]) -> list[str]:
        db = self._conn()
        known = {
            row[0]
            for row in db.execute(
                "SELECT item_id FROM items WHERE item_id IN (SELECT value FROM json_each(?))",
                (json.dumps(list(item_ids)),),
            )
        }
        return [i for i in item_ids if i not in known]

    async def missing(self, item_ids: Sequence[str]) -> Sequence[str]:
        """The ids, among ``item_ids``, that the job does not include (in their order)."""
        return await self._call(self._missing, item_ids) if item_ids else []

    def _page(self, after: int, states: tuple[str, ...] | None) -> list[Any] | str:
        """One page of entries as SQLite gives them: its JSON text, or its rows."""
        rows = self._conn().execute(_sql.page(states, _PAGE), (after, *(states or ())))
        return rows.fetchone()[0] if _sql.JSON else rows.fetchall()

    async def entries(
        self, states: Collection[JournalState] | None = None
    ) -> AsyncIterator[JournalEntry]:
        """See :meth:`Journal.entries`: keyset pages of a few hundred rows."""
        wanted = None if states is None else tuple(sorted(s.value for s in states))
        if wanted == ():
            return
        after = -1
        while True:
            # Decoded here: on the thread, its many small steps would contend for the
            # interpreter's lock with the event loop.
            page = _sql.entries(await self._call(self._page, after, wanted))
            for entry in page:
                yield entry
            if len(page) < _PAGE:
                return
            after = page[-1].position

    # -- closing ----------------------------------------------------------------------------

    def _close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            db.close()

    async def close(self) -> None:
        """See :meth:`Journal.close`: commits what was settled, then releases everything.

        The writer process and thread have ended and the run lock is released when this
        returns, on every path (a failed commit, a cancellation: the process is reaped).
        """
        executor, writer = self._executor, self._writer
        self._closing = True  # no write starts now; the writer writes what it has (bounded)
        try:
            with contextlib.suppress(JournalError):  # already raised to the run
                await self._commits.drain()
        finally:
            self._writer = None
            try:
                if writer is not None:
                    await writer.close()  # it writes what it was sent, then ends
            finally:
                self._executor = None
                if executor is not None:
                    # What is queued still runs (a commit under way); then the thread ends.
                    executor.shutdown(wait=True)
                self._close()  # the worker thread is gone: this thread may close the file
                self._let_go()
