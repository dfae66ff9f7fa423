"""The shared bulk sellback journal: one job in PostgreSQL, run by any number of workers.

Each item is one row. Workers take work with :meth:`PostgresJournal.claim`, which leases
the items to the worker; a live worker renews its leases, a dead one's expire and its
items are claimed again by the others (``_postgres_fleet`` says how). An item whose buyback
was begun (``attempts > 0``) and never settled is settled by the same no-guess rule as a
resumed SQLite job.

Settlements are guarded so a worker whose lease was taken over cannot overwrite the new
holder's outcome: a worker records an outcome only for an item it still holds, except a
confirmed sale (the API's own answer, with its amount), which always replaces a pending,
unknown, retryable or unconfirmed state.

The URL names the job: ``postgresql://user:pass@host:5432/db?job=season-end``, with
optional ``lease`` (seconds, default 10) and ``worker`` (an identity; by default
host:pid:random). Other query parameters go to libpq unchanged (``_postgres_db`` holds the
connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.parse
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Self

from .. import _errors
from . import _postgres_sql as _sql
from ._commit import GroupCommit
from ._postgres_db import Database
from ._postgres_fleet import DEFAULT_LEASE, Fleet, worker_identity
from ._protocol import (
    Holder,
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
_PAGE = 1000
_CHUNK = 5000  # items per statement when a job is created: bounded memory and message size
# Items added since the table's statistics were last gathered, past which they are gathered
# again before the next claim: with statistics from when the job was small, the planner
# reads a statement's rows by scanning the whole job.
_ANALYZE_AFTER = 1000


def is_postgres_url(value: object) -> bool:
    """Whether ``value`` names a PostgreSQL journal rather than an SQLite file."""
    return isinstance(value, str) and value.startswith(("postgresql://", "postgres://"))


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
        self.worker: str = worker or ours.get("worker") or worker_identity()
        self.connect_timeout: float = connect_timeout
        rest = urllib.parse.urlencode([(k, v) for k, v in query if k not in ours])
        # Where, for messages: never the password.
        self.where: str = f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"
        self._db = Database(urllib.parse.urlunsplit(parts._replace(query=rest)), self.where)
        self._fleet = Fleet(self._db, self._connect, job=job, worker=self.worker, lease=self.lease)
        self._commits = GroupCommit(self._write_group)
        self._since: datetime | None = None
        self._unanalyzed = 0
        #: Whether :meth:`open` creates a missing job (a resuming worker wants it to exist).
        self.create = create

    def __repr__(self) -> str:
        return f"PostgresJournal({self.where!r}, job={self.job_name!r}, worker={self.worker!r})"

    def __str__(self) -> str:
        return f"postgresql://{self.where}?job={self.job_name}"

    # -- connection ----------------------------------------------------------------------

    async def _connect(self) -> psycopg.AsyncConnection[tuple[Any, ...]]:
        return await self._db.connect(self.connect_timeout)

    async def _open_job(self) -> None:
        await self._db.open(self.connect_timeout)
        async with self._db.transaction():
            # Workers starting together must not race to create the tables.
            await self._db.execute("SELECT pg_advisory_xact_lock(hashtext('phygitals_journal'))")
            await self._db.execute(_sql.TABLES)

    async def _row(self) -> tuple[Any, ...] | None:
        rows = await self._db.execute(
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
        self._fleet.start_renewals()
        return await self.job()

    async def _bind(self, user_id: str | None, base_url: str) -> None:
        async with self._db.transaction():
            if not self.create and await self._row() is None:
                msg = f"no journal job {self.job_name!r} in {self.where}: nothing to resume"
                raise _errors.JournalError(msg)
            await self._db.execute(
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
            row = await self._db.execute(
                "SELECT schema_version, base_url, user_id, created_at, runs"
                " FROM phygitals_journal_job WHERE job = %(job)s FOR UPDATE",
                {"job": self.job_name},
            )
            self._check_binding(self._checked(tuple(row[0])), user_id, base_url)
            opened = await self._db.execute(
                "UPDATE phygitals_journal_job SET runs = runs + 1,"
                " user_id = COALESCE(user_id, %(user_id)s) WHERE job = %(job)s"
                " RETURNING now()",
                {"job": self.job_name, "user_id": user_id},
            )
            self._since = opened[0][0]

    async def open_for_reading(self) -> JournalJob:
        """Open an existing job to read it; nothing is written (``journal show``)."""
        try:
            await self._db.open(self.connect_timeout)
            await self._db.execute("SET default_transaction_read_only = on")
            rows = await self._db.execute("SELECT to_regclass('phygitals_journal_job') IS NULL")
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
            async with self._db.transaction():
                # The job row's lock hands out positions to one adder at a time.
                rows = await self._db.execute(
                    "SELECT next_position FROM phygitals_journal_job"
                    " WHERE job = %(job)s FOR UPDATE",
                    {"job": self.job_name},
                )
                first = rows[0][0]
                inserted = await self._db.execute(
                    _sql.ADD,
                    {
                        "job": self.job_name,
                        "start": first,
                        "ids": [i.item_id for i in chunk],
                        "quotes": [i.quoted_amount for i in chunk],
                    },
                )
                await self._db.execute(
                    "UPDATE phygitals_journal_job SET next_position = %(next)s WHERE job = %(job)s",
                    {"job": self.job_name, "next": first + len(chunk) + 1},
                )
            added += sum(1 for (new,) in inserted if new)
        self._unanalyzed += added
        return added

    async def _analyze_if_grown(self) -> None:
        if self._unanalyzed >= _ANALYZE_AFTER:
            self._unanalyzed = 0
            # Samples a bounded number of rows, however large the table; a user that does
            # not own the table gets a notice and the statistics stay as they were.
            await self._db.execute("ANALYZE phygitals_journal_item")

    async def begin(self, item_ids: Sequence[str]) -> Sequence[str]:
        """Claim and count as begun the given items this worker may send; return those."""
        if self._commits.failed is not None:
            raise self._commits.failed
        await self._analyze_if_grown()
        return await self._fleet.begin(item_ids)

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
        await self._analyze_if_grown()
        return await self._fleet.claim(limit, since=self._since)

    async def release(self, item_ids: Sequence[str]) -> None:
        """Give back claimed items this worker will not work on (on a clean stop)."""
        await self.flush()
        await self._fleet.release(item_ids)

    async def holders(self) -> list[Holder]:
        """Every worker holding unsettled items of the job, or with a heartbeat recorded."""
        return await self._fleet.holders()

    def lease_clock(self) -> float:
        """Seconds on the clock leases are judged by: monotonic, counting a suspended system."""
        return self._fleet.lease_clock()

    def still_held(self, claimed_at: float) -> bool:
        """Whether items claimed at ``claimed_at`` (:meth:`lease_clock`) are surely still ours.

        A lease lasts :attr:`lease` seconds from the claim or the last renewal, whichever is
        later; after a gap in renewals longer than that (the process was stopped, or a
        renewal was slow or failed), claims made before the gap may have been taken over,
        and are not ours to send.
        """
        return self._fleet.still_held(claimed_at)

    async def outstanding(self) -> tuple[int, float | None]:
        """Pending items this worker does not hold, and seconds until the soonest lease ends.

        A worker whose :meth:`claim` comes back empty waits while this is not ``(0, None)``:
        the holders either settle their items or die and let their leases expire (an item
        given back meanwhile is counted too, and the next claim takes it).
        """
        return await self._fleet.outstanding()

    async def settle(self, settlements: Sequence[JournalSettlement]) -> None:
        """Record outcomes, group-committed (one statement a group); returns once durable."""
        await self._commits.settle(settlements)

    def settle_soon(self, settlements: Sequence[JournalSettlement]) -> asyncio.Future[None]:
        """Hand outcomes over now, in order with every other write; done once durable."""
        return self._commits.submit(settlements)

    async def flush(self) -> None:
        """Wait until every outcome recorded so far is committed."""
        await self._commits.drain()

    async def _write_group(self, batch: list[JournalSettlement]) -> None:
        rows = [
            {
                "item_id": s.item_id,
                "state": s.state.value,
                "amount": None if s.amount is None else str(s.amount),
                "quoted_amount": None if s.quoted_amount is None else str(s.quoted_amount),
                "error_type": s.error_type,
                "error_message": s.error_message,
                "status_code": s.status_code,
                "retry": s.retry,
            }
            for s in batch
        ]
        await self._db.execute(
            _sql.SETTLE, {"job": self.job_name, "worker": self.worker, "rows": json.dumps(rows)}
        )

    async def entries(
        self, states: Collection[JournalState] | None = None
    ) -> AsyncIterator[JournalEntry]:
        """The job's items in job order, a page at a time (keyset pagination)."""
        wanted = None if states is None else [JournalState(s).value for s in states]
        after = -1
        while True:
            rows = await self._db.execute(
                f"SELECT {_sql.COLUMNS} FROM phygitals_journal_item"  # noqa: S608  constant columns
                " WHERE job = %(job)s AND position > %(after)s"
                " AND (%(states)s::text[] IS NULL OR state = ANY(%(states)s::text[]))"
                " ORDER BY position LIMIT %(page)s",
                {"job": self.job_name, "after": after, "states": wanted, "page": _PAGE},
            )
            for row in rows:
                yield _sql.entry(tuple(row))
            if len(rows) < _PAGE:
                return
            after = rows[-1][1]

    async def missing(self, item_ids: Sequence[str]) -> Sequence[str]:
        """The ids, among ``item_ids``, that the job does not include (in their order)."""
        if not item_ids:
            return []
        rows = await self._db.execute(
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
        rows = await self._db.execute(
            "SELECT state, count(*), COALESCE(sum(CASE WHEN state = 'sold' THEN amount"
            " WHEN state = 'unconfirmed' THEN quoted_amount END), 0)"
            " FROM phygitals_journal_item WHERE job = %(job)s GROUP BY state",
            {"job": self.job_name},
        )
        return {JournalState(s): (int(n), Decimal(a)) for s, n, a in rows}

    async def close(self) -> None:
        """Stop renewing, finish the running commit, give back every claim, disconnect."""
        await self._fleet.stop_renewals()
        with contextlib.suppress(_errors.JournalError):  # already raised to the run
            await self._commits.drain()
        db = self._db.connection
        if db is None:
            return
        try:
            if self._since is not None:  # opened to run, not only to read
                if db.closed:
                    # A cancelled statement costs the connection (a run left early, or
                    # Ctrl+C): one more, briefly, so the claims need not wait out a lease.
                    self.connect_timeout = min(self.connect_timeout, 2.0)
                    await self._db.open(self.connect_timeout)
                if self._commits.failed is None:
                    await self.flush()
                await self._fleet.leave()
        except _errors.JournalError:
            pass  # the database is gone: what was begun is settled by the next run
        finally:
            await self._db.close()
            await db.close()  # when a new connection replaced it (closing twice is harmless)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
