"""Adaptive concurrency for bulk sellback: additive increase, multiplicative decrease.

The API documents no numeric rate limit; a 429 is its only signal. A bulk run holds an
:class:`AdaptiveLimit` (its ``concurrency`` is the ceiling) and halves it when a request it
sent is answered 429, then grows back by one request per round of successes, as TCP does
with its window. Every worker of a fleet does the same on the 429s it sees, so a fleet slows
down together and its total concurrency never exceeds the sum of its workers' ceilings.

Each slot observes its own sellback through the seam's one hook (:func:`.._http.observe`),
scoped to the task that sends it: concurrent runs on one client each adapt to their own
429s only.
"""

from __future__ import annotations

import asyncio
import logging

from .._http import Attempt, observe

__all__ = ["AdaptiveLimit", "settles_lost_answers"]

log = logging.getLogger("phygitals_async")


def settles_lost_answers(attempt: Attempt) -> bool:
    """An observer for a bulk run's calls: the run reconciles a lost answer itself."""
    return attempt.lost


class AdaptiveLimit:
    """At most ``limit`` holders at once, where ``limit`` adapts between 1 and ``ceiling``.

    Example::

        limit = AdaptiveLimit(8)
        async with limit.slot():
            await client.sell_back(item_id)   # a 429 on the way halves the limit
    """

    def __init__(self, ceiling: int) -> None:
        self.ceiling = ceiling
        self.limit = float(ceiling)
        self.in_flight = 0
        self.cuts = 0
        self.lowest = float(ceiling)
        self._epoch = 0
        self._waiting = 0
        self._changed = asyncio.Condition()

    @property
    def allowed(self) -> int:
        """How many may hold a slot now."""
        return max(1, int(self.limit))

    def slot(self) -> _Slot:
        """Hold one slot while sending; 429s seen inside cut the limit, success grows it."""
        return _Slot(self)

    async def _enter(self) -> None:
        # Taking a free slot needs no lock (nothing awaits between the test and the count),
        # unless others already wait: they go first. A bulk run takes a slot per item.
        if self._waiting or self.in_flight >= self.allowed:
            async with self._changed:
                self._waiting += 1
                try:
                    await self._changed.wait_for(lambda: self.in_flight < self.allowed)
                finally:
                    self._waiting -= 1
        self.in_flight += 1

    async def _leave(self, *, limited: bool) -> None:
        if not limited:
            # One slot's worth per round: +1 after ``limit`` successes.
            self.limit = min(float(self.ceiling), self.limit + 1 / self.limit)
        self.in_flight -= 1
        if self._waiting:
            async with self._changed:
                # Wake as many as may now send, not every waiter: a bulk run keeps more
                # workers than slots, and each wake-up of one that must wait again is work.
                self._changed.notify(max(1, self.allowed - self.in_flight))

    def _cut(self, epoch: int) -> None:
        # Requests sent before the last cut were counted in it: one cut per round of 429s.
        if epoch != self._epoch:
            return
        self._epoch += 1
        self.cuts += 1
        self.limit = max(1.0, self.limit / 2)
        self.lowest = min(self.lowest, self.limit)
        log.info("bulk sellback: answered 429, concurrency now %d", self.allowed)


class _Slot:
    """One holder of an :class:`AdaptiveLimit` slot, as an async context manager."""

    __slots__ = ("_epoch", "_limit", "_limited", "_observing")

    def __init__(self, limit: AdaptiveLimit) -> None:
        self._limit = limit
        self._limited = False

    async def __aenter__(self) -> None:
        await self._limit._enter()  # noqa: SLF001  the slot is the limit's own half
        self._epoch = self._limit._epoch  # noqa: SLF001
        self._observing = observe(self._seen)
        self._observing.__enter__()

    def _seen(self, attempt: Attempt) -> None:
        if attempt.status == 429:
            self._limited = True
            self._limit._cut(self._epoch)  # noqa: SLF001

    async def __aexit__(self, *_: object) -> None:
        self._observing.__exit__()
        await self._limit._leave(limited=self._limited)  # noqa: SLF001
