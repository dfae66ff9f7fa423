"""``phygitals_async.testing.FakeTime``: a client's waits are instant and keep deadlines."""

from __future__ import annotations

import time

import pytest
from support import TOPPS

import phygitals_async as p
from phygitals_async.testing import FakeTime, Fault, LocalSandbox


async def test_backoff_waits_are_recorded_not_waited(sandbox: LocalSandbox) -> None:
    sandbox.faults.add(Fault.status(503, route="vm/available", count=2))
    async with sandbox.client() as client:
        fake = FakeTime(jitter=1.0).attach(client)
        started = time.monotonic()
        await client.list_packs()
    assert fake.sleeps == [0.5, 1.0]
    assert fake.now == 1001.5
    assert time.monotonic() - started < 5


async def test_a_poll_deadline_is_kept_on_the_fake_clock(sandbox: LocalSandbox) -> None:
    sandbox.production.pending_polls = 1_000
    async with sandbox.client() as client:
        fake = FakeTime().attach(client)
        purchase = await client.buy(TOPPS, amount=1, user_id="u1")
        with pytest.raises(p.PollTimeoutError):
            await client.wait_for_purchase(
                purchase.session_id, interval=10, max_interval=100, timeout=60
            )
    assert fake.sleeps[:3] == [10, 15, 22.5]
    assert sum(fake.sleeps) == 60


async def test_advance_moves_the_deadline_closer(sandbox: LocalSandbox) -> None:
    """Time that passes outside the client's waits counts against its deadline too."""

    class Slow(FakeTime):
        async def sleep(self, seconds: float) -> None:
            await super().sleep(seconds)
            self.advance(100)  # e.g. the event loop was busy elsewhere

    sandbox.production.pending_polls = 1_000
    async with sandbox.client() as client:
        fake = Slow().attach(client)
        purchase = await client.buy(TOPPS, amount=1, user_id="u1")
        with pytest.raises(p.PollTimeoutError):
            await client.wait_for_purchase(
                purchase.session_id, interval=10, max_interval=100, timeout=60
            )
    assert fake.sleeps == [10]


def test_the_blocking_client_polls_on_fake_time(threaded: LocalSandbox) -> None:
    threaded.production.pending_polls = 3
    with threaded.sync_client() as client:
        fake = FakeTime().attach(client)
        started = time.monotonic()
        purchase = client.buy(TOPPS, amount=1, user_id="u1")
        result = client.wait_for_purchase(
            purchase.session_id, interval=10, max_interval=100, timeout=600
        )
    assert result.session_id == purchase.session_id
    assert fake.sleeps == [10, 15, 22.5]
    assert time.monotonic() - started < 10


async def test_views_made_after_attaching_share_the_fake_time(sandbox: LocalSandbox) -> None:
    sandbox.faults.add(Fault.status(503, route="vm/available", count=1))
    async with sandbox.client() as client:
        fake = FakeTime(jitter=0.0).attach(client)
        await client.with_options(max_retries=1).list_packs()
    assert fake.sleeps == [0.25]
