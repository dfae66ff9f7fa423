"""Adaptive concurrency: a bulk run halves its concurrency on 429s and grows it back."""

from __future__ import annotations

import asyncio
import logging

import pytest
from support import TOPPS

import phygitals_async as p
from phygitals_async._bulk import AdaptiveLimit
from phygitals_async._http import Attempt
from phygitals_async._http._observe import observers, tell
from phygitals_async.testing import Fault, LocalSandbox

BUSY = {"error": "A buyback request for this item is already being processed"}


def told() -> None:
    """A 429 answer, told to the observers of this context as the seam tells them."""
    seen = observers()
    assert seen
    tell(seen, Attempt("POST", "http://127.0.0.1:9/_/api/v1/vm/buyback", 429, {}))


async def test_a_round_of_429s_halves_the_limit_once() -> None:
    """Eight requests in flight all answered 429 cut the limit once, to 4, not to 1."""
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
    assert (limit.cuts, limit.allowed) == (1, 4)


async def test_the_limit_holds_back_new_requests_and_grows_back() -> None:
    """After a cut only ``allowed`` hold slots; successes add one per round, up to the ceiling."""
    limit = AdaptiveLimit(8)
    async with limit.slot():
        told()
    assert limit.allowed == 4
    release = asyncio.Event()
    peak = 0

    async def one() -> None:
        nonlocal peak
        async with limit.slot():
            peak = max(peak, limit.in_flight)
            await release.wait()

    tasks = [asyncio.ensure_future(one()) for _ in range(8)]
    await asyncio.sleep(0)
    assert peak == 4
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
    assert "concurrency now 8" in cuts[0].getMessage()
    assert len(report.succeeded) + len(report.failed) == 200
    assert {type(f.error) for f in report.failed} <= {p.RateLimitError}
    assert report.total_amount == sandbox.ledger.amount_paid
