"""Sales handed to the journal without waiting: reported once durable, in the order handed.

A worker that waited for each sale's commit before its next item kept its slot idle for a
commit's time, and every wait was a resumption of the worker through its whole chain of
awaits. Where the journal takes outcomes as they come (``settle_soon``: the SQLite writer
process, a group commit), a worker hands its sale over and goes on; one task reports the
sales (progress, the report, an item yielded) as their commits end. Nothing is reported
before it is durable, and a sale handed over is committed even if the run is cancelled
the moment after.

At most ``room`` sales wait for their commit: past that the workers wait too, so a journal
that has stalled, or a consumer that reads slowly, holds the run back instead of piling up.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable

from .. import _errors
from .._journal import JournalSettlement, JournalState, SettleSoon
from .._models import Sellback

__all__ = ["Handed"]


class Handed:
    """Sales handed to the journal, waiting for their commit to be reported."""

    def __init__(
        self,
        settle_soon: SettleSoon,
        report: Callable[[Sellback], Awaitable[None]],
        lost: Callable[[JournalSettlement, _errors.JournalError], None],
        room: int,
    ) -> None:
        self._settle_soon = settle_soon
        self._report = report
        self._lost = lost  # a sale the journal failed to record
        self._room = room
        self._waiting: collections.deque[
            tuple[asyncio.Future[None], JournalSettlement, Sellback]
        ] = collections.deque()
        self._wake: asyncio.Future[None] | None = None  # the reporting task's, while idle
        self._roomy: asyncio.Future[None] | None = None  # the workers', while it is full
        self._closed = False

    async def hand(self, sale: Sellback) -> None:
        """Hand a sale to the journal; returns at once, unless ``room`` sales already wait.

        A sale the journal fails to record is passed to ``lost``, in its turn.
        """
        settlement = JournalSettlement(sale.item_id, JournalState.SOLD, sale.amount)
        try:
            durable = self._settle_soon([settlement])
        except _errors.JournalError as exc:  # closed under the run: kept, and named
            self._lost(settlement, exc)
            return
        self._waiting.append((durable, settlement, sale))
        _wake(self._wake)
        while len(self._waiting) >= self._room and not self._closed:
            if self._roomy is None:
                self._roomy = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._roomy)

    def close(self) -> None:
        """No sale is handed over after this: :meth:`run` ends once it has reported all."""
        self._closed = True
        _wake(self._wake)

    async def run(self) -> None:
        """Report each sale once its commit ends, in order, until closed and none is left."""
        loop = asyncio.get_running_loop()
        waiting = self._waiting
        while waiting or not self._closed:
            if not waiting:
                self._wake = loop.create_future()
                await self._wake
                self._wake = None
                continue
            durable, settlement, sale = waiting[0]
            if not durable.done():
                # Waited for, never cancelled: other writes share the future.
                await asyncio.wait([durable])
            waiting.popleft()
            if len(waiting) < self._room:
                self._roomy, roomy = None, self._roomy
                _wake(roomy)
            error = durable.exception()
            if error is None:
                await self._report(sale)
            elif isinstance(error, _errors.JournalError):
                self._lost(settlement, error)
            else:
                raise error


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)
