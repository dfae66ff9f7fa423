"""Sales handed to the journal without waiting: reported once durable, in the order handed.

A worker that waited for each sale's commit before its next item kept its slot idle for a
commit's time, and every wait was a resumption of the worker through its whole chain of
awaits. Where the journal takes outcomes as they come (``settle_soon``: the SQLite writer
process, a group commit), a worker hands its sale over and goes on; one task reports the
sales (progress, the report, an item yielded) as their commits end. Nothing is reported
before it is durable, and a sale handed over is committed even if the run is cancelled
the moment after.

Past ``room`` sales waiting for their commit, each worker waits too once it has handed its
own over (at most ``room + workers - 1`` wait): a journal that has stalled, or a consumer
that reads slowly, holds the run back instead of letting answers pile up. A write that
fails is known at once (``failed``), so the run stops starting items the moment it fails.
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
        failed: Callable[[_errors.JournalError], None],
        room: int,
    ) -> None:
        self._settle_soon = settle_soon
        self._report = report
        self._lost = lost  # a sale the journal failed to record, in its turn
        self._failed = failed  # a write failed: told at once
        self._room = room
        self._turn: list[Sellback] = []  # handed in this turn of the loop: one write at its end
        # Each write handed to the journal, with its sales: reported in this order.
        self._waiting: collections.deque[tuple[asyncio.Future[None], list[Sellback]]] = (
            collections.deque()
        )
        self._unreported = 0
        self._wake: asyncio.Future[None] | None = None  # the reporting task's, while idle
        self._roomy: asyncio.Future[None] | None = None  # the workers', while it is full
        self._closed = False

    async def hand(self, sale: Sellback) -> None:
        """Hand a sale to the journal; returns at once, unless ``room`` sales already wait.

        The sales of one turn of the event loop go to the journal together as it ends. A
        sale the journal fails to record is passed to ``lost``, in its turn.
        """
        if not self._turn:
            asyncio.get_running_loop().call_soon(self._to_journal)
        self._turn.append(sale)
        self._unreported += 1
        while self._unreported >= self._room and not self._closed:
            if self._roomy is None:
                self._roomy = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._roomy)

    def _to_journal(self) -> None:
        sales, self._turn = self._turn, []
        if not sales:
            return
        try:
            durable = self._settle_soon([_sold(sale) for sale in sales])
        except Exception as exc:  # noqa: BLE001  closed under the run: kept, and named
            error = exc if isinstance(exc, _errors.JournalError) else _errors.JournalError(str(exc))
            error.__cause__ = None if error is exc else exc
            durable = asyncio.get_running_loop().create_future()
            durable.set_exception(error)
        durable.add_done_callback(self._written)
        self._waiting.append((durable, sales))
        _wake(self._wake)

    def _written(self, durable: asyncio.Future[None]) -> None:
        error = None if durable.cancelled() else durable.exception()  # (marked as seen)
        if isinstance(error, _errors.JournalError):
            self._failed(error)

    def close(self) -> None:
        """No sale is handed over after this: :meth:`run` ends once it has reported all."""
        self._closed = True
        self._to_journal()
        _wake(self._wake)

    async def run(self) -> None:
        """Report each sale once its commit ends, in order, until closed and none is left.

        However it ends (``report`` raised, the run was cancelled), no worker is left
        waiting for room.
        """
        try:
            await self._run()
        finally:
            self._closed = True
            self._roomy, roomy = None, self._roomy
            _wake(roomy)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        waiting = self._waiting
        while waiting or not self._closed:
            if not waiting:
                self._wake = loop.create_future()
                await self._wake
                self._wake = None
                continue
            durable, sales = waiting[0]
            if not durable.done():
                # Waited for, never cancelled: other writes share the future.
                await asyncio.wait([durable])
            waiting.popleft()
            error = durable.exception()
            if error is not None and not isinstance(error, _errors.JournalError):
                raise error
            for sale in sales:
                self._unreported -= 1
                if error is None:
                    await self._report(sale)
                else:
                    self._lost(
                        JournalSettlement(sale.item_id, JournalState.SOLD, sale.amount), error
                    )
            if self._unreported < self._room:
                self._roomy, roomy = None, self._roomy
                _wake(roomy)


def _sold(sale: Sellback) -> JournalSettlement:
    return JournalSettlement(sale.item_id, JournalState.SOLD, sale.amount)


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)
