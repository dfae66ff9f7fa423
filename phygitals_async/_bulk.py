"""Bulk sellback: bounded concurrency, an outcome for every item, an optional journal.

Each item ends in exactly one of three places:

- sold (:class:`Sellback`), with the amount the API answered, or ``reconciled=True`` when
  the answer was lost and the item had left the user's inventory;
- failed (:class:`FailedSellback`), with the typed error the API gave;
- unknown (:class:`FailedSellback` holding an :class:`OutcomeUnknownError`), when the
  answer was lost and reconciliation could not tell.

Reconciliation needs the owner: pass an :class:`Inventory` or ``user_id=``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

import anyio
import attrs

from . import _errors
from ._journal import Journal
from ._models import BulkSellbackReport, FailedSellback, Inventory, Item, Sellback
from ._validation import item_id_of, require_id, require_int

if TYPE_CHECKING:
    from ._client import AsyncPhygitals

__all__ = ["BuybackAnswer", "SellbackOutcome", "iter_sell_back", "sell_back_many"]

SellbackOutcome = Sellback | FailedSellback
Items = Inventory | Iterable[str | Item]


@attrs.frozen
class BuybackAnswer:
    """The body of a successful ``POST /vm/buyback``."""

    success: bool
    amount: Decimal


@attrs.define
class _Plan:
    """What a run must do: the items in order, what the journal already settled."""

    order: list[str]
    prices: dict[str, Decimal]
    user_id: str | None
    settled: dict[str, SellbackOutcome]
    recheck: list[str]


def _plan(items: Items, user_id: str | None, journal: Journal | None) -> _Plan:
    if isinstance(items, Inventory):
        user_id = user_id or items.user_id
        items = items.items
    if isinstance(items, str | bytes) or not isinstance(items, Iterable):
        msg = f"items_or_ids must be a list of items or item ids, got {items!r}"
        raise _errors.InvalidRequestError(msg)
    order: dict[str, None] = {}  # insertion-ordered set: duplicates are sold once
    prices: dict[str, Decimal] = {}
    for entry in items:
        item_id = item_id_of(entry)
        order[item_id] = None
        if isinstance(entry, Item):
            prices[item_id] = entry.buyback_price
    settled, recheck = _from_journal(journal, order.keys())
    return _Plan(list(order), prices, user_id, settled, recheck)


def _from_journal(
    journal: Journal | None, wanted: Collection[str]
) -> tuple[dict[str, SellbackOutcome], list[str]]:
    """Outcomes an earlier run settled, and the items it left in flight or unknown."""
    settled: dict[str, SellbackOutcome] = {}
    recheck: list[str] = []
    if journal is None:
        return settled, recheck
    for item_id, (state, outcome) in journal.load().items():
        if item_id not in wanted:
            continue
        if outcome is not None:
            settled[item_id] = outcome
        elif state in {"pending", "unknown"}:
            recheck.append(item_id)
    return settled, recheck


def _is_final(error: Exception) -> bool:
    # A 4xx about the item will answer the same next time; a busy or failing server may not.
    return isinstance(error, _errors.BadRequestError) and not isinstance(
        error, _errors.BuybackInProgressError
    )


class _Runner:
    def __init__(self, client: AsyncPhygitals, plan: _Plan, journal: Journal | None) -> None:
        self.client = client
        self.plan = plan
        self.journal = journal

    async def outcome(self, item_id: str, *, recheck: bool) -> SellbackOutcome:
        """Sell one item (or first reconcile one whose earlier request may have landed)."""
        if recheck:
            settled = await self._reconcile(item_id, None)
            if settled is not None:
                return settled
        if self.journal is not None:
            self.journal.begin(item_id)
        try:
            sale = await self.client.sell_back(item_id)
        except (_errors.OutcomeUnknownError, _errors.ResponseValidationError) as exc:
            # A 2xx we could not read is a sale whose answer was lost: reconcile it too.
            return await self._after_lost_answer(item_id, exc)
        except _errors.PhygitalsError as exc:
            return self._failed(item_id, exc)
        return self._sold(sale)

    async def _after_lost_answer(self, item_id: str, error: Exception) -> SellbackOutcome:
        settled = await self._reconcile(item_id, error)
        if settled is not None:
            return settled
        # Still in the inventory: the sale did not happen; one more try is safe.
        try:
            sale = await self.client.sell_back(item_id)
        except (_errors.OutcomeUnknownError, _errors.ResponseValidationError) as exc:
            return self._unknown(item_id, exc)
        except _errors.PhygitalsError as exc:
            return self._failed(item_id, exc)
        return self._sold(sale)

    async def _reconcile(self, item_id: str, error: Exception | None) -> SellbackOutcome | None:
        """Settle an ambiguous item from the inventory, or ``None`` when it is still there."""
        reason = error or _errors.OutcomeUnknownError(
            "an earlier run stopped while this sellback was in flight",
            operation="sell_back",
            arguments={"item_id": item_id},
        )
        user_id = self.plan.user_id
        if user_id is None:
            return self._unknown(item_id, reason)
        try:
            inventory = await self.client.inventory(user_id)
        except _errors.PhygitalsError:
            return self._unknown(item_id, reason)
        for item in inventory.items:
            self.plan.prices.setdefault(item.id, item.buyback_price)
            if item.id == item_id:
                return None
        price = self.plan.prices.get(item_id)
        if price is None:
            return self._unknown(item_id, reason)
        return self._sold(Sellback(item_id, price, reconciled=True))

    def _sold(self, sale: Sellback) -> Sellback:
        if self.journal is not None:
            self.journal.sold(sale)
        return sale

    def _failed(self, item_id: str, error: Exception) -> FailedSellback:
        if self.journal is not None:
            self.journal.failed(item_id, error, final=_is_final(error))
        return FailedSellback(item_id, error)

    def _unknown(self, item_id: str, error: Exception) -> FailedSellback:
        if not isinstance(error, _errors.OutcomeUnknownError):
            error = _errors.OutcomeUnknownError(
                f"the sellback's answer was lost ({error}) and the outcome could not be checked",
                operation="sell_back",
                arguments={"item_id": item_id},
            )
        if self.journal is not None:
            self.journal.unknown(item_id, error)
        return FailedSellback(item_id, error)


async def _prefetch_prices(client: AsyncPhygitals, plan: _Plan) -> None:
    # Bare ids with a known owner: learn their prices now, while they are still owned, so a
    # lost answer can later be reconciled to an amount.
    if plan.user_id is None or all(i in plan.prices for i in plan.order):
        return
    try:
        inventory = await client.inventory(plan.user_id)
    except _errors.PhygitalsError:
        return
    for item in inventory.items:
        plan.prices.setdefault(item.id, item.buyback_price)


async def _run(
    client: AsyncPhygitals,
    plan: _Plan,
    journal: Journal | None,
    concurrency: int,
    emit: Callable[[SellbackOutcome], Awaitable[None]],
) -> None:
    await _prefetch_prices(client, plan)
    runner = _Runner(client, plan, journal)
    recheck = set(plan.recheck)
    slots = anyio.Semaphore(concurrency)

    async def work(item_id: str) -> None:
        try:
            await emit(await runner.outcome(item_id, recheck=item_id in recheck))
        finally:
            slots.release()

    async with anyio.create_task_group() as group:
        for item_id in plan.order:
            if item_id in plan.settled:
                continue
            # Acquire before spawning: at most `concurrency` tasks exist, even for 100k items.
            await slots.acquire()
            group.start_soon(work, item_id)


def _check(concurrency: int, user_id: str | None) -> None:
    require_int("concurrency", concurrency, minimum=1)
    if user_id is not None:
        require_id("user_id", user_id)


async def sell_back_many(
    client: AsyncPhygitals,
    items_or_ids: Items,
    *,
    concurrency: int = 8,
    journal: str | os.PathLike[str] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    user_id: str | None = None,
) -> BulkSellbackReport:
    """See :meth:`AsyncPhygitals.sell_back_many`."""
    _check(concurrency, user_id)
    started = time.perf_counter()
    book = Journal(journal) if journal is not None else None
    try:
        plan = _plan(items_or_ids, user_id, book)
        outcomes: dict[str, SellbackOutcome] = dict(plan.settled)
        total = len(plan.order)
        if on_progress is not None:
            on_progress(len(outcomes), total)

        async def emit(outcome: SellbackOutcome) -> None:
            outcomes[outcome.item_id] = outcome
            if on_progress is not None:
                on_progress(len(outcomes), total)

        await _run(client, plan, book, concurrency, emit)
    finally:
        if book is not None:
            book.close()
    ordered = [outcomes[i] for i in plan.order]
    return BulkSellbackReport(
        succeeded=tuple(o for o in ordered if isinstance(o, Sellback)),
        failed=tuple(
            o
            for o in ordered
            if isinstance(o, FailedSellback)
            and not isinstance(o.error, _errors.OutcomeUnknownError)
        ),
        unknown=tuple(
            o
            for o in ordered
            if isinstance(o, FailedSellback) and isinstance(o.error, _errors.OutcomeUnknownError)
        ),
        elapsed=time.perf_counter() - started,
        resumed=len(plan.settled),
    )


async def iter_sell_back(
    client: AsyncPhygitals,
    items_or_ids: Items,
    *,
    concurrency: int = 8,
    journal: str | os.PathLike[str] | None = None,
    user_id: str | None = None,
) -> AsyncIterator[SellbackOutcome]:
    """See :meth:`AsyncPhygitals.iter_sell_back`."""
    _check(concurrency, user_id)
    book = Journal(journal) if journal is not None else None
    try:
        plan = _plan(items_or_ids, user_id, book)
        for outcome in plan.settled.values():
            yield outcome
        send, receive = anyio.create_memory_object_stream[SellbackOutcome](concurrency)

        async def produce() -> None:
            async with send:
                await _run(client, plan, book, concurrency, send.send)

        # The task group lives in its own task, not across this generator's yields.
        producer = asyncio.ensure_future(produce())
        try:
            async with receive:
                async for outcome in receive:
                    yield outcome
            await producer
        finally:
            if not producer.done():
                producer.cancel()
                await asyncio.gather(producer, return_exceptions=True)
    finally:
        if book is not None:
            book.close()
