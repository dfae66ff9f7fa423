"""Bulk sellback: every item one outcome, exact totals, bounded concurrency, resumable."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from support import ADDRESS, TOPPS

import phygitals_async as p
from phygitals_async._journal import MemoryJournal
from phygitals_async.testing import Fault, LocalSandbox


async def stock(client: p.AsyncPhygitals, user_id: str, count: int) -> list[p.Item]:
    """Buy ``count`` items for ``user_id`` (10 per purchase) and return the inventory."""
    for start in range(0, count, 10):
        await client.buy(TOPPS, amount=min(10, count - start), user_id=user_id)
    return list((await client.inventory(user_id)).items)


def assert_one_outcome_each(report: p.BulkSellbackReport, ids: list[str]) -> None:
    seen = [s.item_id for s in report.succeeded] + [u.item_id for u in report.unconfirmed]
    seen += [f.item_id for f in (*report.failed, *report.unknown)]
    assert sorted(seen) == sorted(ids)


async def test_thousands_of_items_with_faults_reconcile_to_the_ledger(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """2,000 items, ~15% faults of every kind: one outcome each; totals match to the cent."""
    items = await stock(client, "bulk", 2000)
    for fault in (
        Fault.drop_before(route="vm/buyback", probability=0.025),
        Fault.drop_after(route="vm/buyback", probability=0.025),
        Fault.status(503, route="vm/buyback", probability=0.025),
        Fault.status(
            429,
            route="vm/buyback",
            probability=0.025,
            retry_after=0,
            body={"error": "A buyback request for this item is already being processed"},
        ),
        Fault.html_error(502, route="vm/buyback", probability=0.025),
        Fault.malformed_json(route="vm/buyback", probability=0.025),
        Fault.status(503, route="inventory", probability=0.05),
    ):
        sandbox.faults.add(fault)
    report = await client.sell_back_many(items, concurrency=16, user_id="bulk")
    assert_one_outcome_each(report, [i.id for i in items])
    sold = sandbox.ledger.sold
    for sale in report.succeeded:
        assert sold[sale.item_id] == sale.amount
    for unconfirmed in report.unconfirmed:
        assert sold[unconfirmed.item_id] == unconfirmed.quoted_amount  # sandbox prices are frozen
    assert not {f.item_id for f in report.failed} & sold.keys()
    unknown_but_sold = sum(
        (sold[f.item_id] for f in report.unknown if f.item_id in sold), Decimal(0)
    )
    paid = report.total_amount + report.unconfirmed_amount + unknown_but_sold
    assert paid == sandbox.ledger.amount_paid
    # 5xx and HTML pages fail an item; so can three injected 429s in a row (retries exhausted).
    assert {type(f.error) for f in report.failed} <= {p.ServerError, p.RateLimitError}
    assert len(report.failed) > 0
    assert len(report.unconfirmed) > 0
    assert sandbox.ledger.sellback_executions == len(sold)


async def test_concurrency_bound_is_respected(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """The server never sees more sellbacks in flight than ``concurrency``."""
    items = await stock(client, "u1", 60)
    sandbox.faults.add(Fault.latency(0.01, route="vm/buyback"))
    report = await client.sell_back_many(items, concurrency=5)
    assert len(report.succeeded) == 60
    assert sandbox.ledger.max_in_flight["vm/buyback"] == 5


async def test_item_failures_carry_their_typed_errors(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """Expired, already sold and shipped items fail with their own classes; others sell."""
    expired = (await client.buy(TOPPS, amount=1, user_id="u1")).nfts[0]
    sandbox.clock.advance(days=8)
    fresh = (await client.buy(TOPPS, amount=3, user_id="u1")).nfts
    sold, shipped, good = fresh
    await client.sell_back(sold)
    quote = await client.ship_quote([shipped], destination=ADDRESS)
    await client.ship_request(quote.cheapest)
    report = await client.sell_back_many([expired, sold, shipped, good])
    errors = {f.item_id: type(f.error) for f in report.failed}
    assert errors == {
        expired.id: p.ItemExpiredError,
        sold.id: p.ItemNotFoundError,
        shipped.id: p.ItemNotFoundError,
    }
    assert [s.item_id for s in report.succeeded] == [good.id]
    assert report.total_amount == good.buyback_price
    assert not report.ok


async def test_duplicates_are_sold_once_and_ids_are_accepted(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """The same item given twice (as Item and as id) is sold once."""
    items = await stock(client, "u1", 3)
    report = await client.sell_back_many([items[0], items[0].id, items[1].id, items[2]])
    assert [s.item_id for s in report.succeeded] == [i.id for i in items]
    assert sandbox.ledger.requests["vm/buyback"] == 3
    assert report.total == 3
    assert report.ok


async def test_lost_answers_without_an_owner_are_unknown(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """With no way to check the inventory, a lost answer is reported unknown, not guessed."""
    items = await stock(client, "u1", 2)
    sandbox.faults.add(Fault.drop_after(route="vm/buyback", count=1))
    report = await client.sell_back_many([i.id for i in items], concurrency=1)
    assert len(report.unknown) == 1
    assert isinstance(report.unknown[0].error, p.OutcomeUnknownError)
    assert len(report.succeeded) == 1
    assert report.failed == ()


async def test_lost_answer_on_an_unsold_item_is_retried_once(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """Dropped before processing: still in the inventory, so it is sold on one more try."""
    await client.buy(TOPPS, amount=1, user_id="u1")
    inventory = await client.inventory("u1")
    sandbox.faults.add(Fault.drop_before(route="vm/buyback", count=1))
    report = await client.sell_back_many(inventory)
    assert len(report.succeeded) == 1
    assert report.unconfirmed == ()
    assert sandbox.ledger.requests["vm/buyback"] == 2


async def test_iter_sell_back_yields_each_outcome(client: p.AsyncPhygitals) -> None:
    """The async iterator yields one outcome per item as they complete."""
    items = await stock(client, "u1", 12)
    outcomes = [o async for o in client.iter_sell_back(items, concurrency=4)]
    assert sorted(o.item_id for o in outcomes) == sorted(i.id for i in items)
    assert all(isinstance(o, p.Sellback) for o in outcomes)


async def test_leaving_the_iterator_early_stops_the_work(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """Breaking out of iter_sell_back cancels what is left; no task keeps selling."""
    items = await stock(client, "u1", 40)
    before = asyncio.all_tasks()
    stream = client.iter_sell_back(items, concurrency=2)
    async for _ in stream:
        break
    await stream.aclose()  # type: ignore[attr-defined]
    sold_then = len(sandbox.ledger.sold)
    assert sold_then < 40
    await asyncio.sleep(0)
    # Only the sandbox's own connection handlers may remain; none of the client's tasks.
    leftover = [t for t in asyncio.all_tasks() - before if "RequestHandler" not in repr(t)]
    assert leftover == []
    assert len(sandbox.ledger.sold) <= sold_then + 2


async def test_progress_is_reported(client: p.AsyncPhygitals) -> None:
    """on_progress gets (done, total) at the start and after each item."""
    items = await stock(client, "u1", 5)
    calls: list[tuple[int, int]] = []
    await client.sell_back_many(items, on_progress=lambda d, t: calls.append((d, t)))
    assert calls == [(n, 5) for n in range(6)]


async def test_cancelled_run_resumes_from_the_journal(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """Cancel midway, rerun with the same journal: every item settled once, nothing twice."""
    items = await stock(client, "u1", 80)
    journal = tmp_path / "run.db"
    sandbox.faults.add(Fault.latency(0.005, route="vm/buyback"))
    halfway = asyncio.Event()

    def progress(done: int, _total: int) -> None:
        if done >= 30:
            halfway.set()

    job = asyncio.ensure_future(
        client.sell_back_many(
            items, concurrency=4, journal=journal, on_progress=progress, user_id="u1"
        )
    )
    await halfway.wait()
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    sold_before = dict(sandbox.ledger.sold)
    assert 30 <= len(sold_before) < 80

    report = await client.sell_back_many(items, concurrency=4, journal=journal, user_id="u1")
    assert_one_outcome_each(report, [i.id for i in items])
    assert report.resumed >= 30
    assert len(report.succeeded) + len(report.unconfirmed) == 80
    assert report.total_amount + report.unconfirmed_amount == sandbox.ledger.amount_paid
    assert len(sandbox.ledger.sold) == 80
    for sale in report.succeeded:
        assert sandbox.ledger.sold[sale.item_id] == sale.amount

    again = await client.sell_back_many(items, journal=journal, user_id="u1")
    assert again.resumed == 80
    assert again.this_run == p.RunTotals()  # nothing was left for the third run
    assert again == attrs.evolve(report, elapsed=again.elapsed, resumed=80, this_run=again.this_run)


async def test_journal_keeps_final_failures_and_retries_transient_ones(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """A rerun reports a 4xx failure from the journal and tries a 5xx failure again."""
    items = await stock(client, "u1", 2)
    refused, flaky = items
    sandbox.production.fail_sellbacks.add(refused.id)
    sandbox.faults.add(Fault.status(503, route="vm/buyback", count=1))
    journal = tmp_path / "run.db"
    first = await client.sell_back_many([flaky, refused], concurrency=1, journal=journal)
    assert {f.item_id: type(f.error) for f in first.failed} == {
        flaky.id: p.ServerError,
        refused.id: p.TransactionFailedError,
    }
    second = await client.sell_back_many([flaky, refused], journal=journal)
    assert [s.item_id for s in second.succeeded] == [flaky.id]
    assert [(f.item_id, type(f.error)) for f in second.failed] == [
        (refused.id, p.TransactionFailedError)
    ]
    assert second.resumed == 1


async def test_bare_ids_with_an_owner_reconcile_to_their_price(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """Ids plus user_id: prices are learnt up front, so an unconfirmed sale carries its quote."""
    items = await stock(client, "u1", 3)
    sandbox.faults.add(Fault.drop_after(route="vm/buyback", count=1))
    report = await client.sell_back_many([i.id for i in items], concurrency=1, user_id="u1")
    assert len(report.succeeded) == 2
    assert report.unconfirmed == (p.UnconfirmedSellback(items[0].id, items[0].buyback_price),)
    assert report.total_amount + report.unconfirmed_amount == sandbox.ledger.amount_paid
    assert report.total_amount == sum((s.amount for s in report.succeeded), Decimal(0))
    assert sandbox.ledger.requests["inventory"] == 3  # stock, prefetch, one reconciliation


async def test_unreachable_inventory_leaves_lost_answers_unknown(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """If the inventory cannot be read, lost answers are unknown, never guessed."""
    items = await stock(client, "u1", 2)
    sandbox.faults.add(Fault.drop_after(route="vm/buyback", count=1))
    sandbox.faults.add(Fault.status(503, route="inventory"))
    report = await client.sell_back_many(items, concurrency=1)
    assert len(report.unknown) == 1
    assert len(report.succeeded) == 1
    assert report.unknown[0].item_id in sandbox.ledger.sold


async def test_a_retry_that_loses_its_answer_again_is_settled_by_the_inventory(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """Still owned after a lost answer: one more try; that one lost too, the inventory decides."""
    items = await stock(client, "u1", 1)
    sandbox.faults.add(Fault.drop_before(route="vm/buyback", count=1))
    sandbox.faults.add(Fault.malformed_json(route="vm/buyback", count=1))
    report = await client.sell_back_many(items, user_id="u1")
    assert report.unconfirmed == (p.UnconfirmedSellback(items[0].id, items[0].buyback_price),)
    assert items[0].id in sandbox.ledger.sold
    assert sandbox.ledger.requests["vm/buyback"] == 2
    assert sandbox.ledger.requests["inventory"] == 3  # stock, then one read per round


async def test_a_lost_answer_on_an_item_still_owned_after_the_retry_is_unknown(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """Owned after two lost answers may be a sale still in progress: unknown, not failed."""
    items = await stock(client, "u1", 1)
    sandbox.faults.add(Fault.drop_before(route="vm/buyback", count=2))
    report = await client.sell_back_many(items, user_id="u1")
    assert [f.item_id for f in report.unknown] == [items[0].id]
    assert isinstance(report.unknown[0].error, p.OutcomeUnknownError)
    assert sandbox.ledger.sold == {}


async def test_iter_sell_back_resumes_from_the_journal(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """Settled outcomes come first from the journal; only the rest are sold."""
    items = await stock(client, "u1", 4)
    journal = tmp_path / "run.db"
    await client.sell_back_many(items[:2], journal=journal)
    outcomes = [o async for o in client.iter_sell_back(items, journal=journal, extend=True)]
    assert [o.item_id for o in outcomes[:2]] == [i.id for i in items[:2]]
    assert sorted(o.item_id for o in outcomes) == sorted(i.id for i in items)
    assert sandbox.ledger.sellback_executions == 4


async def test_unknown_outcomes_are_rechecked_on_the_next_run(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """An item unknown for want of an owner is not resent; a run with the owner settles it.

    The inventory settles it without a second buyback, and the quote the rerun's items
    carry is recorded.
    """
    items = await stock(client, "u1", 1)
    journal = tmp_path / "run.db"
    sandbox.faults.add(Fault.drop_after(route="vm/buyback", count=1))
    first = await client.sell_back_many([items[0].id], journal=journal)
    assert len(first.unknown) == 1
    assert "pass user_id=" in str(first.unknown[0].error)
    again = await client.sell_back_many(journal=journal)  # still no owner: nothing resent
    assert [f.item_id for f in again.unknown] == [items[0].id]
    assert sandbox.ledger.requests["vm/buyback"] == 1
    second = await client.sell_back_many(items, journal=journal, user_id="u1")
    assert second.succeeded == ()
    assert second.unconfirmed == (p.UnconfirmedSellback(items[0].id, items[0].buyback_price),)
    assert second.this_run == p.RunTotals(unconfirmed=1, unconfirmed_amount=items[0].buyback_price)
    assert sandbox.ledger.requests["vm/buyback"] == 1  # settled by the inventory alone
    assert sandbox.ledger.sellback_executions == 1


async def test_a_stop_starts_nothing_more_and_leaves_the_rest_for_a_rerun(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """stop= set mid-run: the requests in flight finish and are recorded, no new one leaves."""
    items = await stock(client, "u1", 20)
    sandbox.faults.add(Fault.latency(0.02, route="vm/buyback"))
    stop = asyncio.Event()
    at_stop: list[int] = []

    def progress(done: int, _total: int) -> None:
        if done >= 1 and not stop.is_set():
            stop.set()
            at_stop.append(sandbox.ledger.requests["vm/buyback"])

    journal = tmp_path / "run.db"
    report = await client.sell_back_many(
        items, concurrency=2, journal=journal, on_progress=progress, stop=stop
    )
    sent = sandbox.ledger.requests["vm/buyback"]
    # Only the requests already on their way when it stopped (concurrency 2) arrive after.
    assert sent <= at_stop[0] + 2
    assert sent < 20
    assert len(report.succeeded) == sent
    assert report.remaining == 20 - sent
    assert not report.ok
    rest = await client.sell_back_many(journal=journal)
    assert len(rest.succeeded) == 20
    assert sandbox.ledger.sellback_executions == 20


async def test_a_stop_without_a_journal_reports_what_was_sold_and_what_was_not_sent(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """An in-memory job stopped mid-run: every sale is in the report, the rest is remaining."""
    items = await stock(client, "u1", 20)
    sandbox.faults.add(Fault.latency(0.02, route="vm/buyback"))
    stop = asyncio.Event()

    def progress(done: int, _total: int) -> None:
        if done >= 3:
            stop.set()

    report = await client.sell_back_many(items, concurrency=2, on_progress=progress, stop=stop)
    sent = sandbox.ledger.requests["vm/buyback"]
    assert 3 <= sent < 20
    left = {i.id for i in (await client.inventory("u1")).items}
    assert sorted(s.item_id for s in report.succeeded) == sorted(
        i.id for i in items if i.id not in left
    )
    assert len(report.succeeded) == sent == sandbox.ledger.sellback_executions
    assert report.remaining == 20 - sent
    assert report.this_run.sold == sent
    assert not report.ok


async def test_items_of_two_owners_in_a_stream_are_refused_before_sending(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """A generator mixing two users' items: InvalidRequestError, nothing sold."""
    mine = await stock(client, "u1", 2)
    theirs = await stock(client, "u2", 2)
    owned = [*(await client.inventory("u1")).items, *(await client.inventory("u2")).items]
    assert {i.owner for i in owned} == {"u1", "u2"}
    with pytest.raises(p.InvalidRequestError, match="several users"):
        await client.sell_back_many((i for i in owned), journal=tmp_path / "run.db")
    assert sandbox.ledger.requests["vm/buyback"] == 0
    assert len(mine) == len(theirs) == 2


class _FailingJournal(MemoryJournal):
    """An in-memory journal whose settlements start failing after ``ok`` of them."""

    def __init__(self, ok: int) -> None:
        super().__init__()
        self.ok = ok

    async def settle(self, settlements: Sequence[p.JournalSettlement]) -> None:
        if self.ok <= 0:
            msg = "journal 'failing' failed: disk full"
            raise p.JournalError(msg)
        self.ok -= 1
        await super().settle(settlements)


async def test_a_journal_failing_mid_run_names_the_sales_it_could_not_record(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """The requests in flight finish; the error names each answered sale it lost."""
    items = await stock(client, "u1", 12)
    sandbox.faults.add(Fault.latency(0.01, route="vm/buyback"))
    journal = _FailingJournal(ok=3)
    with pytest.raises(p.JournalError, match="could not be recorded") as raised:
        await client.sell_back_many(items, concurrency=4, journal=journal)
    sold = sandbox.ledger.sold
    assert 3 < len(sold) < 12  # it stopped starting items, but let those in flight finish
    recorded = {e.item_id async for e in journal.entries() if e.state is p.JournalState.SOLD}
    assert len(recorded) == 3
    for item_id in sold:  # every answered sale is in the journal or named in the error
        assert item_id in recorded or item_id in str(raised.value)


async def test_a_closed_client_refuses_a_bulk_run_before_any_journal(
    sandbox: LocalSandbox, tmp_path: Path
) -> None:
    """sell_back_many and iter_sell_back on a closed client: ClientClosedError, no job made."""
    client = sandbox.client()
    items = (await client.buy(TOPPS, amount=2, user_id="u1")).nfts
    await client.aclose()
    journal = tmp_path / "job.db"
    with pytest.raises(p.ClientClosedError):
        await client.sell_back_many(items, journal=journal)
    with pytest.raises(p.ClientClosedError):
        client.iter_sell_back(items, journal=journal)
    assert not journal.exists()
    assert sandbox.ledger.requests["vm/buyback"] == 0


def reconciled(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The run's summary lines of the lost answers it reconciled."""
    return [r.getMessage() for r in caplog.records if "reconciled (" in r.getMessage()]


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_job_reconciling_lost_answers_warns_of_none_and_says_how_once(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, caplog: pytest.LogCaptureFixture
) -> None:
    """Answers lost and settled by the inventory: no WARNING each, one INFO line for all."""
    items = await stock(client, "u1", 6)
    sandbox.faults.add(Fault.drop_after(route="vm/buyback", count=2))
    caplog.set_level(logging.DEBUG, logger="phygitals_async")
    report = await client.sell_back_many(items, concurrency=2)  # the items carry their owner
    assert len(report.unconfirmed) == 2
    assert warnings_of(caplog) == []
    assert reconciled(caplog) == [
        "bulk sellback: 2 lost answers reconciled (2 sold, amount unconfirmed)"
    ]


@pytest.mark.parametrize("inventory", ["no owner", "unreadable"])
async def test_the_summary_says_why_a_lost_answer_was_left_unknown(
    sandbox: LocalSandbox,
    client: p.AsyncPhygitals,
    caplog: pytest.LogCaptureFixture,
    inventory: str,
) -> None:
    """Without an owner no inventory is read: the line does not claim one was."""
    items = await stock(client, "u1", 3)
    sandbox.faults.add(Fault.drop_after(route="vm/buyback", count=1))
    caplog.set_level(logging.INFO, logger="phygitals_async")
    if inventory == "no owner":
        report = await client.sell_back_many([i.id for i in items])
        why = "no owner to check the inventory of"
    else:
        sandbox.faults.add(Fault.status(503, route="inventory"))
        report = await client.sell_back_many(items)
        why = "the owner's inventory could not be read"
    assert len(report.unknown) == 1
    assert reconciled(caplog) == [
        f"bulk sellback: 1 lost answer reconciled (1 left unknown, {why})"
    ]
