"""Outcomes on their way to the journal: committed a group at a time while workers go on.

A worker that waited for its own outcome's commit before taking the next item would leave
its slot idle for a commit on every item. Instead it posts the outcome here and goes on;
one task commits what was posted, a group at a time (the journal's own group commit
gathers more meanwhile), and reports each outcome only once it is committed, so progress
never runs ahead of the journal. The posts waiting are bounded: when the journal falls
behind, workers wait for it, and at most about two groups of answers are uncommitted at
any moment (what a ``kill -9`` can lose).

Cancelled (a task cancelled, a second Ctrl+C), the outcomes still waiting are handed to the
journal all the same, which commits them before it closes; they are not reported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from .._journal import JournalSettlement
from ._outcomes import SellbackOutcome

__all__ = ["Outbox"]

_Posted = tuple[JournalSettlement, SellbackOutcome | None]


def _retrieved(task: asyncio.Future[None]) -> None:
    # A hand-over after a cancellation: its failure already stopped the run, or the next
    # run settles those items by the no-guess rule.
    if not task.cancelled():
        task.exception()


class Outbox:
    """Commits posted outcomes in groups, then reports them, while :meth:`serve` runs.

    ``record`` commits a group and says whether it was recorded (a journal that failed
    records nothing more); ``hand_over`` gives a group to the journal without waiting;
    ``emit`` reports one committed outcome. Outside :meth:`serve` a post is committed and
    reported before it returns.
    """

    def __init__(
        self,
        record: Callable[[Sequence[JournalSettlement]], Awaitable[bool]],
        hand_over: Callable[[Sequence[JournalSettlement]], Awaitable[None]],
        emit: Callable[[SellbackOutcome], Awaitable[None]],
        bound: int,
    ) -> None:
        self._record = record
        self._hand_over = hand_over
        self._emit = emit
        self._bound = max(1, bound)
        self._waiting: list[_Posted] = []
        self._serving = False
        self._wake = asyncio.Event()  # something to commit, or the last post came
        self._room = asyncio.Event()  # the waiting posts went to the journal

    async def post(self, settlement: JournalSettlement, outcome: SellbackOutcome | None) -> None:
        """Commit ``settlement``, then report ``outcome`` (``None``: nothing to report)."""
        if not self._serving:
            if await self._record([settlement]) and outcome is not None:
                await self._emit(outcome)
            return
        self._waiting.append((settlement, outcome))
        self._wake.set()
        while self._serving and len(self._waiting) >= self._bound:
            self._room.clear()  # the journal is behind: wait for it
            await self._room.wait()

    def start(self) -> None:
        """Posts wait for :meth:`serve` from now on."""
        self._serving = True

    def stop(self) -> None:
        """No more posts will come: :meth:`serve` ends once the waiting ones are committed."""
        self._serving = False
        self._wake.set()
        self._room.set()

    async def serve(self) -> None:
        """Commit and report the posts, a group at a time, until stopped and empty."""
        try:
            while self._waiting or self._serving:
                if not self._waiting:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                group, self._waiting = self._waiting, []
                self._room.set()
                if await self._record([settlement for settlement, _ in group]):
                    for _, outcome in group:
                        if outcome is not None:
                            await self._emit(outcome)
        except BaseException:
            self._serving = False
            if self._waiting:
                left, self._waiting = [s for s, _ in self._waiting], []
                asyncio.ensure_future(self._hand_over(left)).add_done_callback(_retrieved)
            raise
