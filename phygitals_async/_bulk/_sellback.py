"""Bulk sellback: bounded concurrency, one outcome per item, and the journal is the job.

A run opens the job's journal (an in-memory one without ``journal=``), includes the items
it was given, then works every unsettled item of the job, whichever run included it (see
``_run`` for how each item is settled without guessing).

Memory follows the concurrency, not the job: items stream from the journal a page at a
time. The report of a resumed job is read back from the journal, so it covers every run.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from decimal import Decimal

import anyio
import attrs

from .. import _errors
from .._journal import (
    Journal,
    JournalItem,
    JournalSpec,
    JournalState,
    MemoryJournal,
    entries_of,
    is_shared,
    open_journal,
)
from .._models import (
    BulkSellbackReport,
    FailedSellback,
    Inventory,
    Item,
    RunTotals,
    Sellback,
    UnconfirmedSellback,
)
from .._validation import item_id_of, require_id, require_int
from ._outcomes import DONE, Client, Fresh, SellbackOutcome, StopFlag, outcome_of
from ._run import Run

__all__ = ["SellbackOutcome", "iter_sell_back", "sell_back_many", "span_attributes"]

Items = Inventory | Iterable[str | Item]

_INCLUDE_BATCH = 1000  # items written to the journal per transaction when a job starts


# -- input and journal ---------------------------------------------------------------------


def _check(concurrency: int, user_id: str | None) -> None:
    require_int("concurrency", concurrency, minimum=1)
    if user_id is not None:
        require_id("user_id", user_id)


def _input(
    items: Items | None, user_id: str | None
) -> tuple[Iterable[str | Item] | None, str | None]:
    """The items to include and the owner they name; bad input fails before anything."""
    if isinstance(items, Inventory):
        if user_id is not None and user_id != items.user_id:
            msg = f"user_id {user_id!r} differs from the inventory's owner {items.user_id!r}"
            raise _errors.InvalidRequestError(msg)
        return items.items, items.user_id
    if items is not None and (isinstance(items, str | bytes) or not isinstance(items, Iterable)):
        msg = f"items_or_ids must be a list of items or item ids, got {items!r}"
        raise _errors.InvalidRequestError(msg)
    if items is None:
        return items, user_id
    # Items read by inventory(user_id) know their owner: a job of them reconciles alone.
    if isinstance(items, Sequence):
        owners = {i.owner for i in items if isinstance(i, Item) and i.owner is not None}
    else:
        items = iter(items)
        first = next(items, None)
        owners = {first.owner} if isinstance(first, Item) and first.owner is not None else set()
        rest = itertools.chain(() if first is None else (first,), items)
        # Checked as they are included, still before anything is sent.
        items = _one_owner(rest, user_id or next(iter(owners), None))
    if len(owners) > 1:
        msg = f"the items belong to several users ({', '.join(sorted(owners))}): one job per user"
        raise _errors.InvalidRequestError(msg)
    owner = next(iter(owners), None)
    if user_id is not None and owner is not None and user_id != owner:
        msg = f"user_id {user_id!r} differs from the items' owner {owner!r}"
        raise _errors.InvalidRequestError(msg)
    return items, user_id or owner


def _one_owner(items: Iterable[str | Item], owner: str | None) -> Iterator[str | Item]:
    """The items, refusing one read for another user than ``owner``."""
    for item in items:
        if (
            isinstance(item, Item)
            and owner is not None
            and item.owner is not None
            and item.owner != owner
        ):
            msg = (
                f"the items belong to several users ({owner}, {item.owner}, ...): one job per user"
            )
            raise _errors.InvalidRequestError(msg)
        yield item


async def _include(
    client: Client,
    journal: Journal,
    items: Iterable[str | Item],
    owner: str | None,
    order: list[str] | None,
    *,
    completed: bool,
) -> int:
    """Add the input to the job in batches (bare ids get the owner's current prices).

    Returns how many items were new to the job; ``order`` collects the ids given. A
    ``completed`` job takes no new item: :class:`JournalCompletedError` before any is added.
    """
    prices: dict[str, Decimal] | None = None
    batch: list[JournalItem] = []
    added = 0

    async def add(batch: list[JournalItem]) -> int:
        if completed:
            await _refuse_new(journal, [i.item_id for i in batch])
        if order is not None:
            order.extend(i.item_id for i in batch)
        return await journal.add_items(batch)

    for entry in items:
        if isinstance(entry, Item):
            batch.append(JournalItem(entry.id, entry.buyback_price))
        else:
            item_id = item_id_of(entry)
            if prices is None:
                prices = await _prices(client, owner)
            batch.append(JournalItem(item_id, prices.get(item_id)))
        if len(batch) >= _INCLUDE_BATCH:
            added += await add(batch)
            batch = []
    return added + await add(batch)


async def _refuse_new(journal: Journal, item_ids: list[str]) -> None:
    missing = getattr(journal, "missing", None)
    if missing is None or not item_ids:
        return  # a journal object of the caller's own: it decides what a job is
    new: Sequence[str] = await missing(item_ids)
    if new:
        where = getattr(journal, "path", None) or str(journal)
        msg = (
            f"journal {where!r} holds a completed job, and {len(new)} of the items given are"
            f" not part of it (the first: {new[0]!r}); nothing was sent. One journal is one"
            " job: use a new journal for a new job (a dated name for a nightly run, such as"
            " sellback-2026-12-07.db), or pass extend=True (the CLI's --extend) to add the"
            " items to this job"
        )
        raise _errors.JournalCompletedError(msg)


_UNFINISHED = frozenset({JournalState.PENDING, JournalState.UNKNOWN, JournalState.FAILED})


async def _is_completed(journal: Journal) -> bool:
    """Whether the job has items and none is left to work (pending, unknown, to retry)."""
    async with entries_of(journal, _UNFINISHED) as entries:
        async for entry in entries:
            if entry.state is not JournalState.FAILED or entry.retry:
                return False
    async with entries_of(journal) as entries:
        async for _ in entries:
            return True
    return False  # an empty job (another worker is still adding the items) is not done


async def _prices(client: Client, owner: str | None) -> dict[str, Decimal]:
    # Bare ids are quoted from the owner's inventory while they are still in it, so an
    # unconfirmed sale can later say what it was worth.
    if owner is None:
        return {}
    try:
        inventory = await client.inventory(owner)
    except _errors.PhygitalsError:
        return {}
    return {item.id: item.buyback_price for item in inventory.items}


# -- the public entry points ---------------------------------------------------------------


@attrs.define
class _Opened:
    journal: Journal
    owner: str | None
    total: int
    done: int
    # The job's order when this run is its first and only writer, so that the report can
    # be built from this run's outcomes without reading the job back.
    order: list[str] | None = None
    # The job when only this run knows it (no journal= : held in memory, forgotten after).
    fresh: Fresh | None = None


async def _open(
    client: Client,
    items_or_ids: Items | None,
    journal: JournalSpec | None,
    concurrency: int,
    user_id: str | None,
    *,
    extend: bool = False,
    keep_order: bool = False,
) -> _Opened:
    """Check the input, open the job, include the items; nothing is sent to sell yet."""
    _check(concurrency, user_id)
    if not isinstance(extend, bool):
        msg = f"extend must be True or False, got {extend!r}"
        raise _errors.InvalidRequestError(msg)
    items, owner = _input(items_or_ids, user_id)
    book = open_journal(journal, resume_only=items is None)
    own = book if journal is None and isinstance(book, MemoryJournal) else None
    try:
        job = await book.open(user_id=owner, base_url=client.base_url)
        fresh = job.runs == 1 and not is_shared(book)
        order: list[str] | None = [] if (keep_order and fresh) or own is not None else None
        added = 0
        if items is not None:
            # A shared job is filled by whichever worker starts first while others run:
            # only a job run alone can be told complete.
            completed = (
                job.runs > 1 and not extend and not is_shared(book) and await _is_completed(book)
            )
            added = await _include(client, book, items, job.user_id, order, completed=completed)
        total, done = added, 0
        if job.runs > 1:  # a resumed job: count what earlier runs settled
            total = 0
            async with entries_of(book) as entries:
                async for entry in entries:
                    total += 1
                    done += entry.state in DONE and not entry.retry
    except BaseException:
        await _close(book)
        raise
    if order is not None and len(order) != total:
        order = list(dict.fromkeys(order))  # the input repeated some items
    alone = Fresh(order, own.entry) if own is not None and order is not None else None
    return _Opened(book, job.user_id, total, done, order, alone)


async def _close(journal: Journal) -> None:
    """Close the journal to the end, even when cancelled meanwhile (then re-raised after).

    A cancelled run (Ctrl+C, the blocking client closing) still commits the outcomes it
    has and releases the journal's thread, files and lock before its task ends, so
    whoever waits for that task knows they are released.
    """
    closing = asyncio.ensure_future(journal.close())
    cancelled = False
    while not closing.done():
        try:
            await asyncio.wait([closing])
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        closing.exception()  # the cancellation is what the caller hears
        raise asyncio.CancelledError
    closing.result()


class _Tally:
    """This run's outcomes counted as they are committed (for ``report.this_run``)."""

    def __init__(self) -> None:
        self.sold = self.unconfirmed = self.failed = self.unknown = 0
        self.amount = self.unconfirmed_amount = Decimal(0)

    def add(self, outcome: SellbackOutcome) -> None:
        if isinstance(outcome, Sellback):
            self.sold += 1
            self.amount += outcome.amount
        elif isinstance(outcome, UnconfirmedSellback):
            self.unconfirmed += 1
            self.unconfirmed_amount += outcome.quoted_amount or 0
        elif isinstance(outcome.error, _errors.OutcomeUnknownError):
            self.unknown += 1
        else:
            self.failed += 1

    def totals(self) -> RunTotals:
        return RunTotals(
            self.sold,
            self.unconfirmed,
            self.failed,
            self.unknown,
            self.amount,
            self.unconfirmed_amount,
        )


async def _report(
    run: Run,
    opened: _Opened,
    outcomes: dict[str, SellbackOutcome] | None,
    started: float,
    tally: _Tally,
) -> BulkSellbackReport:
    sold: list[Sellback] = []
    unconfirmed: list[UnconfirmedSellback] = []
    failed: list[FailedSellback] = []
    unknown: list[FailedSellback] = []
    remaining = 0

    def place(outcome: SellbackOutcome) -> None:
        if isinstance(outcome, Sellback):
            sold.append(outcome)
        elif isinstance(outcome, UnconfirmedSellback):
            unconfirmed.append(outcome)
        elif isinstance(outcome.error, _errors.OutcomeUnknownError):
            unknown.append(outcome)
        else:
            failed.append(outcome)

    if (
        opened.order is not None
        and outcomes is not None
        and (len(outcomes) == opened.total or opened.fresh is not None)
    ):
        # This run was the job's only one: its outcomes are the whole job (an item without
        # one was never sent: the run was stopped first).
        for item_id in opened.order:
            outcome = outcomes.get(item_id)
            if outcome is None:
                remaining += 1
            else:
                place(outcome)
    else:
        async with entries_of(opened.journal) as entries:
            async for entry in entries:
                outcome = outcome_of(entry, run.errors)
                if outcome is None:
                    # Stopped before its turn, or another worker of a shared job holds it.
                    remaining += 1
                    continue
                place(outcome)
    return BulkSellbackReport(
        succeeded=tuple(sold),
        failed=tuple(failed),
        unknown=tuple(unknown),
        unconfirmed=tuple(unconfirmed),
        elapsed=time.perf_counter() - started,
        resumed=opened.done,
        this_run=tally.totals(),
        remaining=remaining,
    )


async def sell_back_many(
    client: Client,
    items_or_ids: Items | None = None,
    *,
    concurrency: int = 8,
    journal: JournalSpec | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    user_id: str | None = None,
    extend: bool = False,
    stop: StopFlag | None = None,
) -> BulkSellbackReport:
    """See :meth:`AsyncPhygitals.sell_back_many`."""
    started = time.perf_counter()
    opened = await _open(
        client, items_or_ids, journal, concurrency, user_id, extend=extend, keep_order=True
    )
    try:
        done = opened.done
        if on_progress is not None:
            on_progress(done, opened.total)
        outcomes: dict[str, SellbackOutcome] | None = {} if opened.order is not None else None
        tally = _Tally()

        async def emit(outcome: SellbackOutcome) -> None:
            # Called once the outcome is committed: progress never runs ahead of the journal.
            nonlocal done
            done += 1
            tally.add(outcome)
            if outcomes is not None:
                outcomes[outcome.item_id] = outcome
            if on_progress is not None:
                on_progress(done, opened.total)

        run = Run(
            client,
            opened.journal,
            opened.owner,
            concurrency,
            emit,
            stop=stop,
            fresh=opened.fresh,
        )
        await run.run()
        return await _report(run, opened, outcomes, started, tally)
    finally:
        await _close(opened.journal)


async def iter_sell_back(
    client: Client,
    items_or_ids: Items | None = None,
    *,
    concurrency: int = 8,
    journal: JournalSpec | None = None,
    user_id: str | None = None,
    extend: bool = False,
    stop: StopFlag | None = None,
) -> AsyncIterator[SellbackOutcome]:
    """See :meth:`AsyncPhygitals.iter_sell_back`."""
    opened = await _open(client, items_or_ids, journal, concurrency, user_id, extend=extend)
    try:
        async with entries_of(opened.journal, DONE) as entries:
            async for entry in entries:
                outcome = outcome_of(entry)
                if outcome is not None and not entry.retry:
                    yield outcome
        send, receive = anyio.create_memory_object_stream[SellbackOutcome](concurrency)

        async def produce() -> None:
            async with send:
                run = Run(
                    client,
                    opened.journal,
                    opened.owner,
                    concurrency,
                    send.send,
                    keep_errors=False,
                    stop=stop,
                    fresh=opened.fresh,
                )
                await run.run()

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
        await _close(opened.journal)


def span_attributes(report: BulkSellbackReport) -> dict[str, int]:
    """What a ``sell_back_many`` span records of its report (the ``otel`` extra)."""
    return {
        "phygitals.items": report.total,
        "phygitals.succeeded": len(report.succeeded),
        "phygitals.failed": len(report.failed),
        "phygitals.unknown": len(report.unknown),
        "phygitals.unconfirmed": len(report.unconfirmed),
    }
