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
from .._journal import JournalSettlement, JournalState, SettleSoon, failed_future
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
        # Once the reporting task has ended early (``report`` raised): the writes left
        # unreported, and the one being reported when it ended (from the sale at ``done``).
        self._ended = False
        self._orphans: list[tuple[asyncio.Future[None], list[Sellback]]] = []
        self._current: tuple[asyncio.Future[None], list[Sellback], int] | None = None

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
            durable = failed_future(asyncio.get_running_loop(), exc)
        durable.add_done_callback(self._written)
        # Once the reporting task has ended, nobody reports them: drain() names the failed.
        (self._orphans if self._ended else self._waiting).append((durable, sales))
        _wake(self._wake)

    def _written(self, durable: asyncio.Future[None]) -> None:
        error = _error_of(durable)  # (marked as seen)
        if error is not None:
            self._failed(error)

    def close(self) -> None:
        """No sale is handed over after this: :meth:`run` ends once it has reported all."""
        self._closed = True
        self._to_journal()
        _wake(self._wake)

    async def run(self) -> None:
        """Report each sale once its commit ends, in order, until closed and none is left.

        However it ends (``report`` raised, the run was cancelled), no worker is left
        waiting for room, and the sales it had not reported are left to :meth:`drain`.
        """
        try:
            await self._run()
        finally:
            self._ended = self._closed = True
            if self._current is not None:
                durable, sales, done = self._current
                self._orphans.append((durable, sales[done:]))
            self._orphans.extend(self._waiting)
            self._waiting.clear()
            self._roomy, roomy = None, self._roomy
            _wake(roomy)

    async def drain(self) -> None:
        """Wait for the writes a reporting task that ended early left; name the failed.

        Their sales go to ``lost``, so the run's error names them.
        """
        while self._orphans:
            orphans, self._orphans = self._orphans, []
            pending = [durable for durable, _ in orphans if not durable.done()]
            if pending:
                await asyncio.wait(pending)
            for durable, sales in orphans:
                error = _error_of(durable)
                if error is not None:
                    for sale in sales:
                        self._lost(_sold(sale), error)

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
            error = _error_of(durable)
            for done, sale in enumerate(sales):
                self._current = (durable, sales, done)  # for run() if this report raises
                self._unreported -= 1
                if error is None:
                    await self._report(sale)
                else:
                    self._lost(_sold(sale), error)
            self._current = None
            if self._unreported < self._room:
                self._roomy, roomy = None, self._roomy
                _wake(roomy)


def _error_of(durable: asyncio.Future[None]) -> _errors.JournalError | None:
    """Why a write failed, as a JournalError (a journal's own error stays as it is)."""
    if durable.cancelled():
        return _errors.JournalError("the journal's write was cancelled")
    error = durable.exception()
    if error is None or isinstance(error, _errors.JournalError):
        return error
    wrapped = _errors.JournalError(f"the journal's write failed: {error}")
    wrapped.__cause__ = error
    return wrapped


def _sold(sale: Sellback) -> JournalSettlement:
    return JournalSettlement(sale.item_id, JournalState.SOLD, sale.amount)


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)
