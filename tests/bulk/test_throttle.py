"""Adaptive concurrency: a bulk run cuts its concurrency on 429s and grows it back."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from support import TOPPS

import phygitals_async as p
from phygitals_async._bulk import AdaptiveLimit
from phygitals_async._http import Attempt
from phygitals_async._http._observe import observe, observers, tell, wait_to_retry
from phygitals_async.testing import FakeTime, Fault, LocalSandbox

BUSY = {"error": "A buyback request for this item is already being processed"}


def told() -> None:
    """A 429 answer, told to the observers of this context as the seam tells them."""
    seen = observers()
    assert seen
    tell(seen, Attempt("POST", "http://127.0.0.1:9/_/api/v1/vm/buyback", 429, {}))


async def test_a_round_of_429s_cuts_the_limit_once() -> None:
    """Eight requests in flight all answered 429 cut the limit once, by a quarter, to 6."""
    limit = AdaptiveLimit(8)
    release = asyncio.Event()

    async def one() -> None:
        async with limit.slot():
            await release.wait()
            told()

    tasks = [asyncio.ensure_future(one()) for _ in range(8)]
    await asyncio.sleep(0)
    assert limit.in_flight == 8
    release.set()
    await asyncio.gather(*tasks)
    assert (limit.cuts, limit.allowed) == (1, 6)


async def test_the_limit_holds_back_new_requests_and_grows_back() -> None:
    """After a cut only ``allowed`` hold slots; successes grow it back to the ceiling."""
    limit = AdaptiveLimit(8)
    async with limit.slot():
        told()
    assert limit.allowed == 6
    release = asyncio.Event()
    peak = 0

    async def one() -> None:
        nonlocal peak
        async with limit.slot():
            peak = max(peak, limit.in_flight)
            await release.wait()

    tasks = [asyncio.ensure_future(one()) for _ in range(8)]
    await asyncio.sleep(0)
    assert peak == 6
    release.set()
    await asyncio.gather(*tasks)
    for _ in range(100):
        async with limit.slot():
            pass
    assert limit.allowed == 8


async def test_the_limit_never_goes_below_one() -> None:
    """Repeated cuts stop at one request at a time."""
    limit = AdaptiveLimit(4)
    for _ in range(5):
        async with limit.slot():
            told()
    assert limit.allowed == 1
    assert limit.lowest == 1


async def test_a_call_waiting_to_retry_lends_its_slot_and_takes_it_again_first() -> None:
    """During a retry's wait its slot serves another; after it, the retry goes before the queue."""
    limit = AdaptiveLimit(1)
    waiting = asyncio.Event()
    order: list[str] = []

    async def wait(_: float) -> None:  # the seam's wait before a retry, as the test drives it
        waiting.set()
        await release.wait()

    async def retried() -> None:
        async with limit.slot():
            order.append("first attempt")
            await wait_to_retry(0.5, wait)
            order.append("retry")

    async def other(name: str) -> None:
        async with limit.slot():
            order.append(name)
            await proceed.wait()

    release, proceed = asyncio.Event(), asyncio.Event()
    first = asyncio.ensure_future(retried())
    await waiting.wait()
    assert limit.in_flight == 0  # lent back while it waits
    second = asyncio.ensure_future(other("sent meanwhile"))
    await asyncio.sleep(0)
    third = asyncio.ensure_future(other("queued"))
    await asyncio.sleep(0)
    release.set()  # the wait ends: the retry queues ahead of "queued"
    await asyncio.sleep(0)
    proceed.set()
    await asyncio.gather(first, second, third)
    assert order == ["first attempt", "sent meanwhile", "retry", "queued"]
    assert limit.in_flight == 0


async def test_a_waiter_cancelled_after_it_was_handed_a_slot_passes_it_on() -> None:
    """Cancelled between being handed a slot and running: the slot goes to the next waiter."""
    limit = AdaptiveLimit(1)
    got: list[str] = []

    async def one(name: str) -> None:
        async with limit.slot():
            got.append(name)

    holder = limit.slot()
    await holder.__aenter__()
    cancelled = asyncio.ensure_future(one("cancelled"))
    after = asyncio.ensure_future(one("after"))
    await asyncio.sleep(0)
    await holder.__aexit__(None, None, None)  # hands the slot to "cancelled"...
    cancelled.cancel()  # ...which is cancelled before it runs
    await asyncio.gather(cancelled, after, return_exceptions=True)
    assert got == ["after"]
    assert limit.in_flight == 0


async def test_a_worker_s_slot_observes_and_lends_only_while_it_holds_it() -> None:
    """A worker registers its slot once for its life: between items it cuts and takes nothing.

    Its other calls (an inventory read between items, answered 429 and retried) must neither
    cut the limit nor take a slot it never gave back.
    """
    limit = AdaptiveLimit(2)
    slot = limit.slot()
    with observe(slot):
        told()  # not held: a 429 of another call
        await wait_to_retry(0.0, asyncio.sleep)  # lends nothing, takes nothing back
        assert (limit.cuts, limit.in_flight) == (0, 0)
        assert slot.enter_now()
        told()  # held: its own call's 429
        assert (limit.cuts, limit.in_flight) == (1, 1)
        slot.release()  # its backoff
        assert limit.in_flight == 0
        await slot.reacquire()
        assert limit.in_flight == 1
        slot.leave()
        await wait_to_retry(0.0, asyncio.sleep)
        assert (limit.cuts, limit.in_flight) == (1, 0)
    async with slot:  # observing for this hold only, as any other holder
        assert observers()[-1] is slot
    assert observers() == ()


async def test_a_task_started_by_a_worker_neither_cuts_nor_borrows_its_slot() -> None:
    """A task started from a worker's context (by an ``on_progress`` callback) sees the slot.

    Its 429 and its backoff are its own: while the worker holds its slot, the task must not
    cut the limit, lend the worker's slot away, or take one back that nobody then gives up.
    """
    limit = AdaptiveLimit(2)
    slot = limit.slot()
    backing_off = asyncio.Event()
    resume = asyncio.Event()

    async def pause(_: float) -> None:
        backing_off.set()
        await resume.wait()

    async def other_call() -> None:
        told()  # its 429
        await wait_to_retry(0.0, pause)

    with observe(slot):
        assert slot.enter_now()
        task = asyncio.ensure_future(other_call())  # a copy of the worker's context
        await asyncio.wait_for(backing_off.wait(), 5)
        assert (limit.cuts, limit.in_flight) == (0, 1)  # the worker still holds its slot
        slot.leave()
        resume.set()
        await asyncio.wait_for(task, 5)
    assert (limit.cuts, limit.in_flight) == (0, 0)
    async with limit.slot(), limit.slot():  # both slots free, nothing stranded
        assert limit.in_flight == 2


async def test_a_sale_waiting_out_a_429_does_not_hold_back_the_others(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """At concurrency 1 the other item is sold while the first waits out its 429 backoff.

    A journaled run keeps a second worker per slot (it waits for commits holding none): the
    slot lent back during a backoff is what lets that worker send.
    """
    await client.buy(TOPPS, amount=2, user_id="u")
    items = list((await client.inventory("u")).items)
    sandbox.faults.add(Fault.status(429, route="vm/buyback", count=1, body=BUSY))
    other_sold = asyncio.Event()

    class Backoff(FakeTime):
        async def sleep(self, seconds: float) -> None:
            await super().sleep(seconds)
            # Bounded: were the slot kept, the other item could not be sold meanwhile.
            await asyncio.wait_for(other_sold.wait(), 10)

    backoff = Backoff().attach(client)

    def progress(done: int, _: int) -> None:
        if done:  # an item settled (the first call, 0 done, only says how many there are)
            other_sold.set()

    report = await client.sell_back_many(
        items, concurrency=1, on_progress=progress, journal=tmp_path / "job.db"
    )
    assert len(report.succeeded) == len(items) == 2
    assert len(backoff.sleeps) == 1


async def test_a_run_seeing_429s_slows_down_and_still_settles_everything(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, caplog: pytest.LogCaptureFixture
) -> None:
    """429s answered to a bulk run cut its concurrency (logged); every item is sold once."""
    for _ in range(20):
        await client.buy(TOPPS, amount=10, user_id="u")
    items = list((await client.inventory("u")).items)
    sandbox.faults.add(Fault.latency(0.002, route="vm/buyback"))
    sandbox.faults.add(Fault.status(429, route="vm/buyback", count=30, retry_after=0, body=BUSY))
    with caplog.at_level(logging.INFO, logger="phygitals_async"):
        report = await client.sell_back_many(items, concurrency=16)
    cuts = [r for r in caplog.records if "answered 429" in r.getMessage()]
    assert cuts
    assert "concurrency now 12" in cuts[0].getMessage()
    assert len(report.succeeded) + len(report.failed) == 200
    assert {type(f.error) for f in report.failed} <= {p.RateLimitError}
    assert report.total_amount == sandbox.ledger.amount_paid
