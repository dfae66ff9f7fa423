"""The items of a run for its workers: begun a group at a time, or claimed on a fleet."""

from __future__ import annotations

import asyncio
import collections
import math
from collections.abc import Sequence
from typing import Protocol

from .._journal import (
    NO_OWNER,
    Journal,
    JournalEntry,
    JournalSettlement,
    JournalState,
    SharedJournal,
    entries_of,
)
from ._outcomes import (
    _BEGIN_GROUP,
    _RECONCILE_BATCH,
    _WORK,
    _failure,
    _rebuild_error,
)

__all__ = ["Feed"]


class Run(Protocol):
    """What the feed needs of its run (``_run.Run``)."""

    journal: Journal
    owner: str | None
    concurrency: int
    workers: int

    @property
    def stopping(self) -> bool:
        """Whether to start no more items."""
        ...

    def lease_clock(self) -> float:
        """Now, on the clock of the journal's leases."""
        ...

    async def sold_already(self, entries: list[JournalEntry]) -> list[JournalEntry]:
        """Settle those gone from the inventory; return the rest."""
        ...

    async def settle(self, settlement: JournalSettlement, error: Exception | None = None) -> None:
        """Record an outcome and report it."""
        ...


class Feed:
    """The job's unsettled items for the workers, begun a group at a time, a group ahead.

    A group is begun (durably) before any of its items is handed out, and the next one as
    soon as fewer than ``concurrency`` are left waiting, so the workers rarely wait for a
    commit and at most about two groups are ever begun but not yet sent. Once the run is
    asked to stop, nothing more is handed out.

    Items an earlier run left ``unknown`` are not simply sent again: with an owner, the
    inventory settles those already sold (no second request); without one, those left
    unknown for lack of an owner are skipped, since the answer would be the same.
    """

    def __init__(self, run: Run) -> None:
        self.run = run
        self.journal = run.journal
        self.shared = isinstance(self.journal, SharedJournal)
        if self.shared:
            # A fleet's worker claims about twice what it sends at once: a dead one
            # strands little.
            self.low, self.group = run.concurrency, 2 * run.concurrency
        else:
            self.low, self.group = run.workers, max(run.workers, _BEGIN_GROUP)
        # Each item with when it was claimed (monotonic; infinite where nobody else may
        # take it), so a claim that may have lapsed is never sent.
        self.ready: collections.deque[tuple[JournalEntry, float]] = collections.deque()
        self.done = False
        self.wanted = asyncio.Event()
        self.arrived = asyncio.Event()

    async def fill(self) -> None:
        """Stream the unsettled items from the journal and begin them group by group."""
        try:
            if isinstance(self.journal, SharedJournal):
                await self._claim(self.journal)
                return
            group: list[JournalEntry] = []
            unknown: list[JournalEntry] = []
            async with entries_of(self.journal, _WORK) as entries:
                async for entry in entries:
                    if self.run.stopping:
                        return
                    if self._skipped(entry):
                        continue
                    if entry.state is JournalState.UNKNOWN and entry.attempts > 0:
                        unknown.append(entry)  # (with an owner) the inventory may settle it
                        if len(unknown) >= _RECONCILE_BATCH:
                            group += await self.run.sold_already(unknown)
                            unknown = []
                        continue
                    group.append(entry)
                    if len(group) >= self.group:
                        await self._hand_out(group)
                        group = []
            if unknown:
                group += await self.run.sold_already(unknown)
            await self._hand_out(group)
        finally:
            self.done = True
            self.arrived.set()

    def _skipped(self, entry: JournalEntry) -> bool:
        if entry.state is JournalState.FAILED:
            return not entry.retry  # a final refusal stands
        # Left unknown for want of an owner: without one, sending again would end the same.
        return (
            entry.state is JournalState.UNKNOWN
            and self.run.owner is None
            and NO_OWNER in (entry.error_message or "")
        )

    async def _claim(self, journal: SharedJournal) -> None:
        # Claims, not a listing: each worker of a fleet takes only items nobody holds, a
        # begin group at a time (one statement claims and begins it), once fewer than
        # ``concurrency`` are waiting. A dead worker leaves at most about a group to the
        # others, after its lease.
        while not self.run.stopping:
            await self._room()
            if self.run.stopping:
                return
            at = self.run.lease_clock()  # before the statement: the lease runs from then
            claimed = await journal.claim(self.group)  # begun by the claim itself
            if not claimed:
                return
            self.ready.extend((entry, at) for entry in await self._sift(claimed))
            self.arrived.set()

    async def _sift(self, claimed: Sequence[JournalEntry]) -> list[JournalEntry]:
        """The claimed items to send: earlier runs' unknown ones follow the same rules here."""
        unknown = [e for e in claimed if e.state is JournalState.UNKNOWN and e.attempts > 0]
        if not unknown:
            return list(claimed)
        send = [e for e in claimed if e not in unknown]
        if self.run.owner is not None:
            send += await self.run.sold_already(unknown)
        else:
            for entry in unknown:
                if NO_OWNER in (entry.error_message or ""):
                    # Without an owner the answer would be the same: it stays unknown.
                    error = _rebuild_error(entry)
                    await self.run.settle(
                        _failure(entry.item_id, error, JournalState.UNKNOWN), error
                    )
                else:
                    send.append(entry)
        return sorted(send, key=lambda e: e.position)

    async def _room(self) -> None:
        while len(self.ready) >= self.low:
            self.wanted.clear()
            await self.wanted.wait()

    async def _hand_out(self, group: list[JournalEntry]) -> None:
        await self._room()
        if group and not self.run.stopping:
            # Durable before any of them is sent: a crash can never hide a request.
            begun = set(await self.journal.begin([e.item_id for e in group]))
            self.ready.extend((e, math.inf) for e in group if e.item_id in begun)
            self.arrived.set()

    async def take(self) -> tuple[JournalEntry, float] | None:
        """The next begun item and when it was claimed, or ``None`` when none is left."""
        while not self.ready:
            if self.done:
                return None
            self.arrived.clear()
            await self.arrived.wait()
        if self.run.stopping:
            # Begun but never sent: the next run settles them by the no-guess rule.
            self.ready.clear()
            self.wanted.set()
            return None
        taken = self.ready.popleft()
        if len(self.ready) < self.low:
            self.wanted.set()
        return taken
