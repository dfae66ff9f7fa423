"""Bulk sellback: bounded concurrency, an outcome for every item, an optional journal.

Each item ends in exactly one of three places:

- sold (:class:`Sellback`), with the amount the API answered, or ``reconciled=True`` when
  the answer was lost and the item had left the user's inventory;
- failed (:class:`FailedSellback`), with the typed error the API gave;
- unknown (:class:`FailedSellback` holding an :class:`OutcomeUnknownError`), when the
  answer was lost and reconciliation could not tell.

Lost answers are settled after the other items, with one inventory fetch for all of them
(reconciliation needs the owner: pass an :class:`Inventory` or ``user_id=``); an item still
in the inventory is tried once more.
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
from ._journal_sqlite import Journal
from ._models import BulkSellbackReport, FailedSellback, Inventory, Item, Sellback
from ._validation import item_id_of, require_id, require_int

if TYPE_CHECKING:
    from ._client import AsyncPhygitals

__all__ = ["SellbackOutcome", "iter_sell_back", "sell_back_many"]

SellbackOutcome = Sellback | FailedSellback
Items = Inventory | Iterable[str | Item]


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


@attrs.frozen
class _Lost:
    """A sellback whose answer was lost; settled from the owner's inventory after the run."""

    item_id: str
    error: Exception


class _Runner:
    def __init__(self, client: AsyncPhygitals, plan: _Plan, journal: Journal | None) -> None:
        self.client = client
        self.plan = plan
        self.journal = journal

    async def attempt(self, item_id: str) -> SellbackOutcome | _Lost:
        """Sell one item; a lost answer is deferred for reconciliation, not guessed."""
        if self.journal is not None:
            self.journal.begin(item_id)
        try:
            sale = await self.client.sell_back(item_id)
        except (_errors.OutcomeUnknownError, _errors.ResponseValidationError) as exc:
            # A 2xx we could not read is a sale whose answer was lost: reconcile it too.
            return _Lost(item_id, exc)
        except _errors.PhygitalsError as exc:
            return self._failed(item_id, exc)
        return self._sold(sale)

    async def reconcile(self, lost: list[_Lost]) -> list[tuple[_Lost, SellbackOutcome | None]]:
        """Settle lost answers with one inventory fetch taken after all of them.

        Gone from the inventory means sold (at the known buyback price); still there means
        not sold, and ``None`` asks the caller for one more try.
        """
        if not lost:
            return []
        present: set[str] | None = None
        if self.plan.user_id is not None:
            try:
                inventory = await self.client.inventory(self.plan.user_id)
            except _errors.PhygitalsError:
                pass
            else:
                present = {item.id for item in inventory.items}
        settled: list[tuple[_Lost, SellbackOutcome | None]] = []
        for entry in lost:
            price = self.plan.prices.get(entry.item_id)
            if present is None or (entry.item_id not in present and price is None):
                settled.append((entry, self.unknown(entry.item_id, entry.error)))
            elif entry.item_id in present:
                settled.append((entry, None))
            else:
                assert price is not None  # noqa: S101  checked in the first branch
                settled.append((entry, self._sold(Sellback(entry.item_id, price, reconciled=True))))
        return settled

    def _sold(self, sale: Sellback) -> Sellback:
        if self.journal is not None:
            self.journal.sold(sale)
        return sale

    def _failed(self, item_id: str, error: Exception) -> FailedSellback:
        if self.journal is not None:
            self.journal.failed(item_id, error, final=_is_final(error))
        return FailedSellback(item_id, error)

    def unknown(self, item_id: str, error: Exception) -> FailedSellback:
        """Record and return an outcome that could not be established."""
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
    """Sell every unsettled item, then settle the lost answers; emit each outcome once."""
    await _prefetch_prices(client, plan)
    runner = _Runner(client, plan, journal)
    # Items an earlier run left in flight are checked before anything is resent.
    lost = [
        _Lost(
            item_id,
            _errors.OutcomeUnknownError(
                "an earlier run stopped while this sellback was in flight",
                operation="sell_back",
                arguments={"item_id": item_id},
            ),
        )
        for item_id in plan.recheck
    ]
    rechecked = set(plan.recheck)
    todo = [i for i in plan.order if i not in plan.settled and i not in rechecked]

    async def sell(item_id: str) -> None:
        outcome = await runner.attempt(item_id)
        if isinstance(outcome, _Lost):
            lost.append(outcome)
        else:
            await emit(outcome)

    await _bounded(todo, concurrency, sell)
    retry: list[str] = []
    for entry, outcome in await runner.reconcile(lost):
        if outcome is None:
            retry.append(entry.item_id)
        else:
            await emit(outcome)

    async def sell_again(item_id: str) -> None:
        outcome = await runner.attempt(item_id)
        if isinstance(outcome, _Lost):
            outcome = runner.unknown(item_id, outcome.error)
        await emit(outcome)

    await _bounded(retry, concurrency, sell_again)


async def _bounded(
    item_ids: list[str], concurrency: int, work: Callable[[str], Awaitable[None]]
) -> None:
    """Run ``work`` for each id with at most ``concurrency`` running at once.

    A fixed pool of workers pulls from one shared iterator: the bound holds by
    construction, and no task is created per item (cheaper than a task each at 100k items).
    """
    pending = iter(item_ids)

    async def worker() -> None:
        for item_id in pending:
            await work(item_id)

    async with anyio.create_task_group() as group:
        for _ in range(min(concurrency, len(item_ids))):
            group.start_soon(worker)


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
