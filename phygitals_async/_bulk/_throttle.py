"""Adaptive concurrency for bulk sellback: additive increase, multiplicative decrease.

The API documents no numeric rate limit; a 429 is its only signal. A bulk run holds an
:class:`AdaptiveLimit` (its ``concurrency`` is the ceiling) and cuts it by a quarter when a
request it sent is answered 429 (once per round of requests), then grows it back by half a
request per round of successes, as TCP does with its window. Every worker of a fleet does
the same on the 429s it sees, so a fleet slows down together and its total concurrency
never exceeds the sum of its workers' ceilings.

Why these two numbers: a fleet at the API's limit (``python -m benchmarks.fleet_latency``,
four workers of 8 against a limit of 24) kept 88% of the limit busy halving and growing by
one a round, its workers' cuts deep and their growth overshooting together; cutting by a
quarter and growing by half keeps 92-93% busy with 3-4% of requests answered 429.

Each slot observes its own sellback through the seam's one hook (:func:`.._http.observe`),
scoped to the task that sends it: concurrent runs on one client each adapt to their own
429s only.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any

from .._http import Attempt, observe, observers

__all__ = ["AdaptiveLimit", "Slot", "settles_lost_answers"]

log = logging.getLogger("phygitals_async")

_DECREASE = 0.75  # the limit kept on a 429 (once per round)
_INCREASE = 0.5  # slots added per round of successes


def settles_lost_answers(attempt: Attempt) -> bool:
    """An observer for a bulk run's calls: the run reconciles a lost answer itself."""
    return attempt.lost


class AdaptiveLimit:
    """At most ``limit`` holders at once, where ``limit`` adapts between 1 and ``ceiling``.

    Example::

        limit = AdaptiveLimit(8)
        async with limit.slot():
            await client.sell_back(item_id)   # a 429 on the way cuts the limit

    Waiters are served in order; a slot freed is handed to the first waiter directly, so
    one that wakes never has to wait again. A slot lent back while its call waits to
    retry (a 429's backoff) is taken again ahead of the queue: that item was first.
    """

    def __init__(self, ceiling: int) -> None:
        self.ceiling = ceiling
        self.limit = float(ceiling)
        #: How many may hold a slot now.
        self.allowed = ceiling
        self.in_flight = 0
        self.cuts = 0
        self.lowest = float(ceiling)
        self._epoch = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def slot(self) -> Slot:
        """Hold one slot while sending; 429s seen inside cut the limit, success grows it.

        A slot can be held again once released: a worker keeps one for all its items.
        """
        return Slot(self)

    def _set(self, limit: float) -> None:
        self.limit = limit
        self.allowed = max(1, int(limit))

    async def _enter(self, *, first: bool = False) -> None:
        # A free slot is taken at once, unless others already wait: they go first.
        if not self._waiters and self.in_flight < self.allowed:
            self.in_flight += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        if first:
            self._waiters.appendleft(waiter)
        else:
            self._waiters.append(waiter)
        try:
            await waiter  # resolved with the slot already counted as ours
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed a slot, then cancelled
                self._leave(limited=True)
            elif waiter in self._waiters:  # a waiter left behind would block the queue
                self._waiters.remove(waiter)
            raise

    def _leave(self, *, limited: bool) -> None:
        if not limited and self.limit < self.ceiling:
            # Half a slot per round: +0.5 after ``limit`` successes.
            self._set(min(float(self.ceiling), self.limit + _INCREASE / self.limit))
        self.in_flight -= 1
        # Hand the free slots to the first waiters (after a cut there may be none).
        waiters = self._waiters
        while waiters and self.in_flight < self.allowed:
            waiter = waiters.popleft()
            if not waiter.done():  # not cancelled meanwhile
                self.in_flight += 1
                waiter.set_result(None)

    def _cut(self, epoch: int) -> None:
        # Requests sent before the last cut were counted in it: one cut per round of 429s.
        if epoch != self._epoch:
            return
        self._epoch += 1
        self.cuts += 1
        self._set(max(1.0, self.limit * _DECREASE))
        self.lowest = min(self.lowest, self.limit)
        log.info("bulk sellback: answered 429, concurrency now %d", self.allowed)


class Slot:
    """One holder of an :class:`AdaptiveLimit` slot, as an async context manager.

    While held, it is the seam's observer (a :class:`~.._http.LendingObserver`) of the calls
    made. A worker that sends item after item takes and gives back its slot without an await
    where one is free (:meth:`enter_now`, :meth:`leave`), and registers it as an observer
    once for its whole life (``with observe(slot):``) instead of once an item: outside its
    holds it then sees nothing and lends nothing. It answers only to calls made in the task
    that took it: a call the worker runs in a task of its own (``asyncio.wait_for`` on
    Python 3.11 starts one) neither cuts the limit on a 429 nor lends the slot.
    """

    __slots__ = (
        "_epoch",
        "_held",
        "_holder",
        "_lent",
        "_limit",
        "_limited",
        "_observing",
        "_registered",
    )

    def __init__(self, limit: AdaptiveLimit) -> None:
        self._limit = limit
        self._limited = False
        self._held = False
        self._lent = False  # released while its call waits to retry: taken again before it
        self._registered = False  # observing for this hold only (not for a worker's life)
        # The task holding it: a task started from the worker's context (an on_progress
        # callback's) sees the slot among its observers, but its calls are not the slot's.
        self._holder: asyncio.Task[Any] | None = None
        self._epoch = 0
        self._observing = observe(self)

    def enter_now(self) -> bool:
        """Take a slot if one is free and nobody waits for one; whether it did."""
        limit = self._limit
        if limit._waiters or limit.in_flight >= limit.allowed:  # noqa: SLF001
            return False
        limit.in_flight += 1
        self._entered()
        return True

    async def enter(self) -> None:
        """Wait for a slot and take it."""
        await self._limit._enter()  # noqa: SLF001  the slot is the limit's own half
        self._entered()

    def _entered(self) -> None:
        self._held = True
        self._holder = asyncio.current_task()
        self._limited = False
        self._epoch = self._limit._epoch  # noqa: SLF001
        seen = observers()
        if not (seen and seen[-1] is self):  # else its worker registered it for good
            self._observing.__enter__()
            self._registered = True

    def leave(self) -> None:
        """Give the slot back (a success grows the limit)."""
        if self._registered:
            self._registered = False
            self._observing.__exit__()
        self._lent = False
        self._holder = None
        if self._held:
            self._held = False
            self._limit._leave(limited=self._limited)  # noqa: SLF001

    def _own(self) -> bool:
        """Whether the call being observed is the slot's own (made by its holder, holding)."""
        return (self._held or self._lent) and asyncio.current_task() is self._holder

    def __call__(self, attempt: Attempt) -> None:
        if attempt.status == 429 and self._own():
            self._limited = True
            self._limit._cut(self._epoch)  # noqa: SLF001

    def release(self) -> None:
        """The call waits to retry: its slot serves others meanwhile."""
        if self._held and self._own():
            self._held = False
            self._lent = True
            self._limit._leave(limited=True)  # noqa: SLF001

    async def reacquire(self) -> None:
        """The retry is about to leave: a slot again, ahead of the items not yet sent."""
        if self._lent and self._own():
            await self._limit._enter(first=True)  # noqa: SLF001
            self._held = True
            self._lent = False
            self._epoch = self._limit._epoch  # noqa: SLF001

    async def __aenter__(self) -> None:
        if not self.enter_now():
            await self.enter()

    async def __aexit__(self, *_: object) -> None:
        self.leave()
