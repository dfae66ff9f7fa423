"""One worker of a shared journal among the others: its claims, its leases, its heartbeat.

A worker takes work with a claim: one statement picks the next unleased pending items in
job order with ``FOR UPDATE SKIP LOCKED`` (two workers never get the same row) and stamps
them with the worker's identity and a lease expiry taken from the database's clock (so the
workers' clocks do not matter). A live worker renews its leases, and its heartbeat, in the
background every third of the lease, on a connection of its own; a dead one's leases
expire and its items are claimed again by the others. A worker claims about as many items
as it sends at once, so a worker killed with ``-9`` delays the job by about a lease, while
a slow but living one keeps its claims. A worker that was stopped longer than its lease
(SIGSTOP, a frozen VM) may have lost its claims to others: it sends none of the items it
had claimed before the gap (:meth:`Fleet.still_held`), and gives them back.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import _postgres_sql as _sql
from ._postgres_db import Database
from ._protocol import Holder, JournalEntry

if TYPE_CHECKING:
    import psycopg

__all__ = ["DEFAULT_LEASE", "Fleet", "worker_identity"]

DEFAULT_LEASE = 10.0  # seconds: about what a dead worker costs the job
_MARGIN = 1.0  # seconds of a lease not relied on (statement time, clock steps)


def _lease_clock() -> float:
    # CLOCK_BOOTTIME keeps counting while the system is suspended; monotonic may not.
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(boottime) if boottime is not None else time.monotonic()


def worker_identity() -> str:
    """A worker's identity when it is given none: host:pid:random."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Fleet:
    """This worker's side of a shared job: the items it claims and holds, and its leases.

    Args:
        database: the journal's database; claims run on its connection.
        connect: opens a connection of the renewals' own.
        job: the job's name.
        worker: this worker's identity, recorded on its claims.
        lease: seconds a claim is held without renewal.
    """

    def __init__(
        self,
        database: Database,
        connect: Callable[[], Awaitable[psycopg.AsyncConnection[tuple[Any, ...]]]],
        *,
        job: str,
        worker: str,
        lease: float,
    ) -> None:
        self._db = database
        self._connect = connect
        self._lease = lease
        # What this worker's statements are given (each takes the parameters it names).
        self._mine: dict[str, Any] = {"job": job, "worker": worker, "lease": lease}
        self._renewer: asyncio.Task[None] | None = None
        # Monotonic times: the last renewal that followed the one before without a gap
        # longer than a lease, and the start of the last such gap (claims made before it
        # may have been taken over).
        self._renewed_at = 0.0
        self._valid_from = 0.0

    async def begin(self, item_ids: Sequence[str]) -> list[str]:
        """Claim the given items and count them as begun; return those this worker may send."""
        if not item_ids:
            return []
        rows = await self._db.execute(_sql.BEGIN, {**self._mine, "ids": list(item_ids)})
        got = {r[0] for r in rows}
        return [i for i in item_ids if i in got]

    async def claim(self, limit: int, *, since: datetime | None) -> list[JournalEntry]:
        """Up to ``limit`` items nobody holds, begun: pending first, then retryable ones.

        Retryable outcomes count only when they were settled before ``since``, when this
        worker opened the job: once a run, never in a loop within one.
        """
        params = {**self._mine, "limit": limit, "since": since}
        rows = await self._db.execute(_sql.CLAIM.format(todo=_sql.PENDING), params)
        if len(rows) < limit:
            params["limit"] = limit - len(rows)
            rows += await self._db.execute(_sql.CLAIM.format(todo=_sql.RETRYABLE), params)
        return sorted((_sql.entry(r) for r in rows), key=lambda e: e.position)

    async def release(self, item_ids: Sequence[str]) -> None:
        """Give back the given items this worker holds."""
        if item_ids:
            await self._db.execute(
                _sql.RELEASE.format(only="AND item_id = ANY(%(ids)s)"),
                {**self._mine, "ids": list(item_ids)},
            )

    async def leave(self) -> None:
        """Give back everything this worker holds, and drop its heartbeat."""
        # Nothing of this worker is in flight any more: what it still holds is free for
        # the next claimer now, not when the lease runs out (a begun item is then settled
        # by the no-guess rule, as its attempts say).
        await self._db.execute(_sql.RELEASE.format(only=""), self._mine)
        await self._db.execute(
            "DELETE FROM phygitals_journal_worker WHERE job = %(job)s AND worker = %(worker)s",
            self._mine,
        )

    async def holders(self) -> list[Holder]:
        """Every worker holding unsettled items of the job, or with a heartbeat recorded."""
        rows = await self._db.execute(_sql.HOLDERS, self._mine)
        return [Holder(*row) for row in rows]

    async def outstanding(self) -> tuple[int, float | None]:
        """Pending items this worker does not hold, and seconds until the soonest lease ends."""
        rows = await self._db.execute(
            "SELECT count(*), EXTRACT(EPOCH FROM min(lease_until) - now())"
            " FROM phygitals_journal_item WHERE job = %(job)s AND state = 'pending'"
            " AND worker IS DISTINCT FROM %(worker)s",
            self._mine,
        )
        count, soonest = rows[0]
        return int(count), None if soonest is None else float(soonest)

    def lease_clock(self) -> float:
        """Seconds on the clock leases are judged by: monotonic, counting a suspended system."""
        return _lease_clock()

    @property
    def _margin(self) -> float:
        return min(_MARGIN, self._lease / 4)

    def still_held(self, claimed_at: float) -> bool:
        """Whether items claimed at ``claimed_at`` (:meth:`lease_clock`) are surely still ours."""
        if claimed_at < self._valid_from:
            return False
        held_since = max(claimed_at, self._renewed_at)
        return _lease_clock() < held_since + self._lease - self._margin

    def start_renewals(self) -> None:
        """Renew this worker's leases and heartbeat in the background until stopped."""
        # A plain task, not a task group: open() and close() need not run in one task.
        self._renewer = asyncio.ensure_future(self._renew())

    async def stop_renewals(self) -> None:
        """Stop the renewals, and wait until they have."""
        if self._renewer is not None:
            renewer, self._renewer = self._renewer, None
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)

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
                    await db.execute(_sql.RENEW, self._mine)
                except Exception:  # noqa: BLE001  the runner's own statements report a loss
                    await asyncio.sleep(self._lease / 6)
                    continue
                self._renewed(started, _lease_clock())
                await asyncio.sleep(self._lease / 3)
        finally:
            if db is not None:
                await db.close()

    def _renewed(self, started: float, ended: float) -> None:
        """A renewal ran from ``started`` to ``ended``: extend, or mark a gap."""
        if self._renewed_at and ended - self._renewed_at > self._lease - self._margin:
            # Leases may have lapsed before this renewal reached them (the process was
            # stopped, or renewals were slow or failing): what was claimed before may be
            # another worker's now.
            self._valid_from = ended
        self._renewed_at = started
