"""The shared bulk sellback journal: one job in PostgreSQL, run by any number of workers.

Each item is one row. Workers take work with :meth:`PostgresJournal.claim`: one statement
picks the next unleased pending items in job order with ``FOR UPDATE SKIP LOCKED`` (two
workers never get the same row) and stamps them with the worker's identity and a lease
expiry taken from the database's clock (so the workers' clocks do not matter). A live
worker renews its leases in the background; a dead one's leases expire and its items are
claimed again by the others. An item whose buyback was begun (``attempts > 0``) and never
settled is settled by the same no-guess rule as a resumed SQLite job.

Settlements are guarded so a worker whose lease was taken over cannot overwrite the new
holder's outcome: a worker records an outcome only for an item it still holds, except a
confirmed sale (the API's own answer, with its amount), which always replaces a pending,
unknown, retryable or unconfirmed state.

The URL names the job: ``postgresql://user:pass@host:5432/db?job=season-end``, with
optional ``lease`` (seconds, default 10) and ``worker`` (an identity; by default
host:pid:random). A worker claims about as many items as it sends at once and renews its
leases (and its heartbeat) every third of the lease, so a worker killed with ``-9``
delays the job by about a lease, while a slow but living one keeps its claims. A worker
that was stopped longer than its lease (SIGSTOP, a frozen VM) may have lost its claims to
others: it sends none of the items it had claimed before the gap, and gives them back.
Other query parameters go to libpq unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
import urllib.parse
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Self

import attrs

from .. import _errors
from . import _postgres_sql as _sql
from ._commit import GroupCommit
from ._protocol import (
    JournalEntry,
    JournalItem,
    JournalJob,
    JournalSettlement,
    JournalState,
    check_binding,
)

if TYPE_CHECKING:
    import psycopg

__all__ = ["SCHEMA_VERSION", "PostgresJournal", "is_postgres_url"]

SCHEMA_VERSION = 1
DEFAULT_LEASE = 10.0  # seconds: about what a dead worker costs the job
_MARGIN = 1.0  # seconds of a lease not relied on (statement time, clock steps)
_PAGE = 1000
_DEADLOCK_RETRIES = 3
_CHUNK = 5000  # items per statement when a job is created: bounded memory and message size


def is_postgres_url(value: object) -> bool:
    """Whether ``value`` names a PostgreSQL journal rather than an SQLite file."""
    return isinstance(value, str) and value.startswith(("postgresql://", "postgres://"))


def _lease_clock() -> float:
    # CLOCK_BOOTTIME keeps counting while the system is suspended; monotonic may not.
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(boottime) if boottime is not None else time.monotonic()


def _worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@attrs.frozen
class Holder:
    """A worker of a shared job, as ``journal show`` lists it.

    Attributes:
        worker: its identity (host:pid:random by default).
        items: the unsettled items it holds now.
        lease_until: when its soonest lease ends (``None`` when it holds nothing).
        latest_lease: when its latest lease ends.
        heartbeat_at: its last heartbeat (``None`` for a worker of an older version).
        expired: whether its soonest lease has ended (a dead or stopped worker).
    """

    worker: str
    items: int
    lease_until: datetime | None
    latest_lease: datetime | None
    heartbeat_at: datetime | None
    expired: bool


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    (item_id, position, state, quoted, amount, etype, message, code, retry, attempts) = row[:10]
    begun_at: datetime | None = row[10]
    settled_at: datetime | None = row[11]
    return JournalEntry(
        item_id=item_id,
        position=position,
        state=JournalState(state),
        quoted_amount=quoted,
        amount=amount,
        error_type=etype,
        error_message=message,
        status_code=code,
        retry=retry,
        attempts=attempts,
        begun_at=begun_at,
        settled_at=settled_at,
        worker=row[12] if len(row) > 12 else None,
        lease_until=row[13] if len(row) > 13 else None,
    )


class PostgresJournal:
    """A bulk sellback job kept in PostgreSQL, shared by any number of worker processes.

    Pass it (or its URL) as ``journal=`` to ``sell_back_many``. Needs the ``postgres``
    extra (``pip install 'phygitals-async[postgres]'``).

    Example::

        journal = "postgresql://app:secret@db:5432/sellbacks?job=season-end-2026"
        report = await client.sell_back_many(items, journal=journal, concurrency=8)

    Args:
        url: ``postgresql://...?job=NAME`` (``lease`` and ``worker`` are optional query
            parameters; the others are passed to the database driver).
        job: the job's name, instead of ``?job=``.
        lease: seconds a claim is held without renewal (default 10); a worker renews its
            claims every third of it, so only a dead or cut-off worker's claims expire, and
            a dead worker delays the job by about this much.
        worker: this worker's identity, recorded on its claims.
        connect_timeout: seconds to wait for the database when opening.
        create: whether opening creates the job when it does not exist; ``False`` for
            workers that only resume a job recorded elsewhere (a misspelt name then fails).

    Raises:
        ConfigurationError: the URL has no job, or a bad ``lease``.
    """

    def __init__(
        self,
        url: str,
        *,
        job: str | None = None,
        lease: float | None = None,
        worker: str | None = None,
        connect_timeout: float = 10.0,
        create: bool = True,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in {"postgresql", "postgres"}:
            msg = f"a PostgreSQL journal URL starts with postgresql://, got {parts.scheme!r}"
            raise _errors.ConfigurationError(msg)
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        ours = {k: v for k, v in query if k in {"job", "lease", "worker"}}
        job = job or ours.get("job")
        if not job:
            msg = "the PostgreSQL journal URL names no job: add ?job=NAME"
            raise _errors.ConfigurationError(msg)
        try:
            self.lease: float = float(
                lease if lease is not None else ours.get("lease", DEFAULT_LEASE)
            )
        except ValueError:
            msg = f"lease must be a number of seconds, got {ours.get('lease')!r}"
            raise _errors.ConfigurationError(msg) from None
        if not 0 < self.lease < 86400:
            msg = f"lease must be between 0 and 86400 seconds, got {self.lease}"
            raise _errors.ConfigurationError(msg)
        self.job_name = job
        self.worker: str = worker or ours.get("worker") or _worker_identity()
        self.connect_timeout: float = connect_timeout
        rest = urllib.parse.urlencode([(k, v) for k, v in query if k not in ours])
        self._conninfo = urllib.parse.urlunsplit(parts._replace(query=rest))
        # Where, for messages: never the password.
        self.where: str = f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"
        self._db: psycopg.AsyncConnection[tuple[Any, ...]] | None = None
        self._commits = GroupCommit(self._write_group)
        self._since: datetime | None = None
        #: Whether :meth:`open` creates a missing job (a resuming worker wants it to exist).
        self.create = create
        self._renewer: asyncio.Task[None] | None = None
        # Monotonic times: the last renewal that followed the one before without a gap
        # longer than a lease, and the start of the last such gap (claims made before it
        # may have been taken over).
        self._renewed_at = 0.0
        self._valid_from = 0.0

    def __repr__(self) -> str:
        return f"PostgresJournal({self.where!r}, job={self.job_name!r}, worker={self.worker!r})"

    def __str__(self) -> str:
        return f"postgresql://{self.where}?job={self.job_name}"

    # -- connection ----------------------------------------------------------------------

    def _unavailable(self, exc: BaseException) -> _errors.JournalUnavailableError:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return _errors.JournalUnavailableError(
            f"the journal database {self.where} is unavailable: {detail}"
        )

    async def _connect(self) -> psycopg.AsyncConnection[tuple[Any, ...]]:
        try:
            import psycopg  # noqa: PLC0415  the optional extra is needed only here
        except ImportError:
            msg = (
                "a postgresql:// journal needs the postgres extra:"
                " pip install 'phygitals-async[postgres]' (from a checkout of the SDK:"
                " pip install '.[postgres]')"
            )
            raise _errors.JournalError(msg) from None
        try:
            return await psycopg.AsyncConnection.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=max(1, round(self.connect_timeout)),
                application_name="phygitals-journal",
                prepare_threshold=None,
            )
        except psycopg.ProgrammingError as exc:  # libpq could not parse the URL
            msg = f"the journal URL for {self.where} is not valid: {exc}"
            raise _errors.JournalError(msg) from None
        except psycopg.Error as exc:
            raise self._unavailable(exc) from None

    async def _execute(self, query: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Run one statement (its own transaction); database loss is a journal error."""
        import psycopg  # noqa: PLC0415  loaded by _connect already
        from psycopg import pq  # noqa: PLC0415  ditto

        if self._db is None:
            msg = "the journal is not open"
            raise _errors.JournalError(msg)
        try:
            tries = 1
            while True:
                try:
                    cursor = await self._db.execute(query, params)
                    return await cursor.fetchall() if cursor.description else []
                except psycopg.errors.DeadlockDetected:
                    # Should not happen (one lock order everywhere), and is harmless if it
                    # does: the server rolled the statement back, so it can run again,
                    # unless it was part of a larger transaction.
                    idle = self._db.info.transaction_status is pq.TransactionStatus.IDLE
                    if tries >= _DEADLOCK_RETRIES or not idle:
                        raise
                    tries += 1
        except (psycopg.errors.UndefinedColumn, psycopg.errors.UndefinedTable) as exc:
            msg = f"the journal tables in {self.where} are not a phygitals journal: {exc}"
            raise _errors.JournalCorruptedError(msg) from None
        except psycopg.errors.DeadlockDetected as exc:
            msg = f"the journal database {self.where} kept refusing a statement: {exc}"
            raise _errors.JournalError(msg) from None
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise self._unavailable(exc) from None
        except psycopg.Error as exc:
            msg = f"the journal database {self.where} refused a statement: {exc}"
            raise _errors.JournalError(msg) from None

    async def _open_job(self) -> None:
        self._db = await self._connect()
        async with self._db.transaction():
            # Workers starting together must not race to create the tables.
            await self._execute("SELECT pg_advisory_xact_lock(hashtext('phygitals_journal'))")
            await self._execute(_sql.TABLES)

    async def _row(self) -> tuple[Any, ...] | None:
        rows = await self._execute(
            "SELECT schema_version, base_url, user_id, created_at, runs"
            " FROM phygitals_journal_job WHERE job = %(job)s",
            {"job": self.job_name},
        )
        return tuple(rows[0]) if rows else None

    def _checked(self, row: tuple[Any, ...]) -> JournalJob:
        version, base_url, user_id, created_at, runs = row
        if version != SCHEMA_VERSION:
            msg = (
                f"journal job {self.job_name!r} in {self.where} has schema version {version};"
                f" this version of phygitals_async reads version {SCHEMA_VERSION}"
            )
            raise _errors.JournalVersionError(msg)
        return JournalJob(
            schema_version=version,
            base_url=base_url,
            user_id=user_id,
            created_at=created_at,
            runs=runs,
        )

    def _check_binding(self, job: JournalJob, user_id: str | None, base_url: str) -> None:
        where = f"journal job {self.job_name!r}"
        check_binding(
            job,
            user_id,
            base_url,
            environment=lambda bound, asked: (
                f"{where} sells through {bound}, not {asked}: use another job name"
            ),
            owner=lambda bound, asked: (
                f"{where} belongs to user {bound!r}, not {asked!r}: use another job name"
            ),
        )

    # -- the Journal interface -----------------------------------------------------------

    async def open(self, *, user_id: str | None, base_url: str) -> JournalJob:
        """Open (or create) the job and check its owner and environment; start renewals."""
        try:
            await self._open_job()
            await self._bind(user_id, base_url)
        except BaseException:
            await self.close()
            raise
        await self._start_renewals()
        return await self.job()

    async def _bind(self, user_id: str | None, base_url: str) -> None:
        async with self._db_transaction():
            if not self.create and await self._row() is None:
                msg = f"no journal job {self.job_name!r} in {self.where}: nothing to resume"
                raise _errors.JournalError(msg)
            await self._execute(
                "INSERT INTO phygitals_journal_job (job, schema_version, base_url, user_id)"
                " VALUES (%(job)s, %(version)s, %(base_url)s, %(user_id)s)"
                " ON CONFLICT (job) DO NOTHING",
                {
                    "job": self.job_name,
                    "version": SCHEMA_VERSION,
                    "base_url": base_url,
                    "user_id": user_id,
                },
            )
            row = await self._execute(
                "SELECT schema_version, base_url, user_id, created_at, runs"
                " FROM phygitals_journal_job WHERE job = %(job)s FOR UPDATE",
                {"job": self.job_name},
            )
            self._check_binding(self._checked(tuple(row[0])), user_id, base_url)
            opened = await self._execute(
                "UPDATE phygitals_journal_job SET runs = runs + 1,"
                " user_id = COALESCE(user_id, %(user_id)s) WHERE job = %(job)s"
                " RETURNING now()",
                {"job": self.job_name, "user_id": user_id},
            )
            self._since = opened[0][0]

    async def open_for_reading(self) -> JournalJob:
        """Open an existing job to read it; nothing is written (``journal show``)."""
        try:
            self._db = await self._connect()
            await self._execute("SET default_transaction_read_only = on")
            rows = await self._execute("SELECT to_regclass('phygitals_journal_job') IS NULL")
            if rows[0][0]:
                msg = f"no journal job {self.job_name!r} in {self.where} (no journal tables)"
                raise _errors.JournalError(msg)  # noqa: TRY301  closed by the handler below
            return await self.job()
        except BaseException:
            await self.close()
            raise

    async def job(self) -> JournalJob:
        """The job's metadata."""
        row = await self._row()
        if row is None:
            msg = f"no journal job {self.job_name!r} in {self.where}"
            raise _errors.JournalError(msg)
        return self._checked(row)

    async def add_items(self, items: Sequence[JournalItem]) -> int:
        """Include items after those the job has (in chunks); return how many were new."""
        added = 0
        for start in range(0, len(items), _CHUNK):
            chunk = items[start : start + _CHUNK]
            async with self._db_transaction():
                # The job row's lock hands out positions to one adder at a time.
                rows = await self._execute(
                    "SELECT next_position FROM phygitals_journal_job"
                    " WHERE job = %(job)s FOR UPDATE",
                    {"job": self.job_name},
                )
                first = rows[0][0]
                inserted = await self._execute(
                    _sql.ADD,
                    {
                        "job": self.job_name,
                        "start": first,
                        "ids": [i.item_id for i in chunk],
                        "quotes": [i.quoted_amount for i in chunk],
                    },
                )
                await self._execute(
                    "UPDATE phygitals_journal_job SET next_position = %(next)s WHERE job = %(job)s",
                    {"job": self.job_name, "next": first + len(chunk) + 1},
                )
            added += sum(1 for (new,) in inserted if new)
        return added

    async def begin(self, item_ids: Sequence[str]) -> Sequence[str]:
        """Claim and count as begun the given items this worker may send; return those."""
        if self._commits.failed is not None:
            raise self._commits.failed
        if not item_ids:
            return []
        rows = await self._execute(
            _sql.BEGIN,
            {
                "job": self.job_name,
                "ids": list(item_ids),
                "worker": self.worker,
                "lease": self.lease,
            },
        )
        got = {r[0] for r in rows}
        return [i for i in item_ids if i in got]

    async def claim(self, limit: int) -> list[JournalEntry]:
        """Take up to ``limit`` items nobody holds, in job order, with a lease, and begin them.

        Pending items first, then retryable outcomes (unknown, or a failure worth another
        try) recorded before this worker opened the job. The items are begun (durably
        counted as possibly sent, as :meth:`begin` does) in the same statement. Each entry
        is as it was before the claim: ``attempts > 0`` means a buyback may already have
        been sent for it (by a worker that died), so it must be settled by the no-guess
        rule rather than sent as new.
        """
        if self._commits.failed is not None:
            raise self._commits.failed
        params = {
            "job": self.job_name,
            "limit": limit,
            "worker": self.worker,
            "lease": self.lease,
            "since": self._since,
        }
        rows = await self._execute(_sql.CLAIM.format(todo=_sql.PENDING), params)
        if len(rows) < limit:
            params["limit"] = limit - len(rows)
            rows += await self._execute(_sql.CLAIM.format(todo=_sql.RETRYABLE), params)
        return sorted((_entry(r) for r in rows), key=lambda e: e.position)

    async def release(self, item_ids: Sequence[str]) -> None:
        """Give back claimed items this worker will not work on (on a clean stop)."""
        await self.flush()
        if item_ids:
            await self._execute(
                _sql.RELEASE.format(only="AND item_id = ANY(%(ids)s)"),
                {"job": self.job_name, "ids": list(item_ids), "worker": self.worker},
            )

    async def holders(self) -> list[Holder]:
        """Every worker holding unsettled items of the job, or with a heartbeat recorded."""
        rows = await self._execute(_sql.HOLDERS, {"job": self.job_name})
        return [Holder(*row) for row in rows]

    def lease_clock(self) -> float:
        """Seconds on the clock leases are judged by: monotonic, counting a suspended system."""
        return _lease_clock()

    @property
    def _margin(self) -> float:
        return min(_MARGIN, self.lease / 4)

    def still_held(self, claimed_at: float) -> bool:
        """Whether items claimed at ``claimed_at`` (:meth:`lease_clock`) are surely still ours.

        A lease lasts :attr:`lease` seconds from the claim or the last renewal, whichever is
        later; after a gap in renewals longer than that (the process was stopped, or a
        renewal was slow or failed), claims made before the gap may have been taken over,
        and are not ours to send.
        """
        if claimed_at < self._valid_from:
            return False
        held_since = max(claimed_at, self._renewed_at)
        return _lease_clock() < held_since + self.lease - self._margin

    async def outstanding(self) -> tuple[int, float | None]:
        """Pending items this worker does not hold, and seconds until the soonest lease ends.

        A worker whose :meth:`claim` comes back empty waits while this is not ``(0, None)``:
        the holders either settle their items or die and let their leases expire (an item
        given back meanwhile is counted too, and the next claim takes it).
        """
        rows = await self._execute(
            "SELECT count(*), EXTRACT(EPOCH FROM min(lease_until) - now())"
            " FROM phygitals_journal_item WHERE job = %(job)s AND state = 'pending'"
            " AND worker IS DISTINCT FROM %(worker)s",
            {"job": self.job_name, "worker": self.worker},
        )
        count, soonest = rows[0]
        return int(count), None if soonest is None else float(soonest)

    async def settle(self, settlements: Sequence[JournalSettlement]) -> None:
        """Record outcomes, group-committed (one statement a group); returns once durable."""
        await self._commits.settle(settlements)

    async def flush(self) -> None:
        """Wait until every outcome recorded so far is committed."""
        await self._commits.drain()

    async def _write_group(self, batch: list[JournalSettlement]) -> None:
        await self._execute(
            _sql.SETTLE,
            {
                "job": self.job_name,
                "worker": self.worker,
                "ids": [s.item_id for s in batch],
                "states": [s.state.value for s in batch],
                "amounts": [s.amount for s in batch],
                "quotes": [s.quoted_amount for s in batch],
                "types": [s.error_type for s in batch],
                "messages": [s.error_message for s in batch],
                "codes": [s.status_code for s in batch],
                "retries": [s.retry for s in batch],
            },
        )

    async def entries(
        self, states: Collection[JournalState] | None = None
    ) -> AsyncIterator[JournalEntry]:
        """The job's items in job order, a page at a time (keyset pagination)."""
        wanted = None if states is None else [JournalState(s).value for s in states]
        after = -1
        while True:
            rows = await self._execute(
                f"SELECT {_sql.COLUMNS} FROM phygitals_journal_item"  # noqa: S608  constant columns
                " WHERE job = %(job)s AND position > %(after)s"
                " AND (%(states)s::text[] IS NULL OR state = ANY(%(states)s::text[]))"
                " ORDER BY position LIMIT %(page)s",
                {"job": self.job_name, "after": after, "states": wanted, "page": _PAGE},
            )
            for row in rows:
                yield _entry(tuple(row))
            if len(rows) < _PAGE:
                return
            after = rows[-1][1]

    async def missing(self, item_ids: Sequence[str]) -> Sequence[str]:
        """The ids, among ``item_ids``, that the job does not include (in their order)."""
        if not item_ids:
            return []
        rows = await self._execute(
            "SELECT item_id FROM phygitals_journal_item"
            " WHERE job = %(job)s AND item_id = ANY(%(ids)s)",
            {"job": self.job_name, "ids": list(item_ids)},
        )
        known = {r[0] for r in rows}
        return [i for i in item_ids if i not in known]

    async def totals(self) -> dict[JournalState, tuple[int, Decimal]]:
        """Counts and amounts by state, computed by the database (for reports of big jobs).

        The amount is the confirmed sum for ``sold`` and the quoted sum for ``unconfirmed``.
        """
        rows = await self._execute(
            "SELECT state, count(*), COALESCE(sum(CASE WHEN state = 'sold' THEN amount"
            " WHEN state = 'unconfirmed' THEN quoted_amount END), 0)"
            " FROM phygitals_journal_item WHERE job = %(job)s GROUP BY state",
            {"job": self.job_name},
        )
        return {JournalState(s): (int(n), Decimal(a)) for s, n, a in rows}

    async def close(self) -> None:
        """Stop renewing, finish the running commit, give back every claim, disconnect."""
        if self._renewer is not None:
            renewer, self._renewer = self._renewer, None
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
        with contextlib.suppress(_errors.JournalError):  # already raised to the run
            await self._commits.drain()
        db, self._db = self._db, None
        if db is None:
            return
        try:
            if self._since is not None:  # opened to run, not only to read
                self._db = db
                if db.closed:
                    # A cancelled statement costs the connection (a run left early, or
                    # Ctrl+C): one more, briefly, so the claims need not wait out a lease.
                    self.connect_timeout = min(self.connect_timeout, 2.0)
                    self._db = await self._connect()
                await self._release()
        except _errors.JournalError:
            pass  # the database is gone: what was begun is settled by the next run
        finally:
            if self._db is not None and self._db is not db:
                await self._db.close()
            self._db = None
            await db.close()

    async def _release(self) -> None:
        if self._commits.failed is None:
            await self.flush()
        # Nothing of this worker is in flight any more: what it still holds is free for
        # the next claimer now, not when the lease runs out (a begun item is then settled
        # by the no-guess rule, as its attempts say).
        await self._execute(
            _sql.RELEASE.format(only=""), {"job": self.job_name, "worker": self.worker}
        )
        await self._execute(
            "DELETE FROM phygitals_journal_worker WHERE job = %(job)s AND worker = %(worker)s",
            {"job": self.job_name, "worker": self.worker},
        )

    # -- helpers -------------------------------------------------------------------------

    def _db_transaction(self) -> Any:
        if self._db is None:
            msg = "the journal is not open"
            raise _errors.JournalError(msg)
        return self._db.transaction()

    async def _start_renewals(self) -> None:
        # A plain task, not a task group: open() and close() need not run in one task.
        self._renewer = asyncio.ensure_future(self._renew())

    async def _renew(self) -> None:
        # A separate connection: renewals must not queue behind the runner's statements. A
        # failed renewal (a dropped connection) is tried again; the gap it leaves is
        # judged like any other.
        db: psycopg.AsyncConnection[tuple[Any, ...]] | None = None
        try:
            while True:
                started = _lease_clock()
                try:
                    if db is None or db.closed:
                        db = await self._connect()
                    await db.execute(
                        _sql.RENEW,
                        {"job": self.job_name, "worker": self.worker, "lease": self.lease},
                    )
                except Exception:  # noqa: BLE001  the runner's own statements report a loss
                    await asyncio.sleep(self.lease / 6)
                    continue
                self._renewed(started, _lease_clock())
                await asyncio.sleep(self.lease / 3)
        finally:
            if db is not None:
                await db.close()

    def _renewed(self, started: float, ended: float) -> None:
        """A renewal ran from ``started`` to ``ended``: extend, or mark a gap."""
        if self._renewed_at and ended - self._renewed_at > self.lease - self._margin:
            # Leases may have lapsed before this renewal reached them (the process was
            # stopped, or renewals were slow or failing): what was claimed before may be
            # another worker's now.
            self._valid_from = ended
        self._renewed_at = started

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
