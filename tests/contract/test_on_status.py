"""on_status: a poll shows every status it reads, in order, and the callback can stop it."""

from __future__ import annotations

import pytest
from support import ADDRESS, TOPPS, FakeTime

import phygitals_async as p
from phygitals_async.testing import LocalSandbox


class StopPollingError(Exception):
    """The caller's own reason to stop polling."""


async def test_sees_pending_then_fulfilled(sandbox: LocalSandbox, client: p.AsyncPhygitals) -> None:
    """Every status read reaches on_status in order: pending, pending, then the result."""
    sandbox.production.pending_polls = 2
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    seen: list[p.PurchaseResult | p.PurchasePending] = []
    result = await client.wait_for_purchase(purchase.session_id, interval=0, on_status=seen.append)
    assert [type(s) for s in seen] == [p.PurchasePending, p.PurchasePending, p.PurchaseResult]
    assert seen[-1] == result


async def test_an_exception_from_it_stops_the_poll(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """What on_status raises ends the poll with that exception; no further status is asked."""
    sandbox.production.pending_polls = 5
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")

    def give_up(status: p.PurchaseResult | p.PurchasePending) -> None:
        raise StopPollingError(status)

    poll = client.poll_purchase(purchase.session_id, interval=0, on_status=give_up)
    with pytest.raises(StopPollingError) as caught:
        await poll
    assert isinstance(caught.value.args[0], p.PurchasePending)
    assert sandbox.ledger.requests["vm/buy/status"] == 1
    assert poll.done()


async def test_a_coroutine_callback_is_awaited(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """An async on_status is awaited before the next check."""
    sandbox.production.pending_polls = 1
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    seen: list[str] = []

    async def note(status: p.PurchaseResult | p.PurchasePending) -> None:
        seen.append(type(status).__name__)

    await client.wait_for_purchase(purchase.session_id, interval=0, on_status=note)
    assert seen == ["PurchasePending", "PurchaseResult"]


async def test_a_slow_callback_does_not_move_the_deadline(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, fake_time: FakeTime
) -> None:
    """Time spent in on_status counts against the poll's deadline, which stays where it was."""
    sandbox.production.pending_polls = 10_000
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")

    def slow(_: p.PurchaseResult | p.PurchasePending) -> None:
        fake_time.advance(25)  # as if the callback took 25 s

    with pytest.raises(p.PollTimeoutError):
        await client.wait_for_purchase(purchase.session_id, interval=1, timeout=60, on_status=slow)
    # Checks at 0, 26 and 52.5 s; the third callback ends past the 60 s deadline.
    assert sandbox.ledger.requests["vm/buy/status"] == 3
    assert fake_time.sleeps == [1, 1.5]


async def test_wait_for_shipment_reports_each_order(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, fake_time: FakeTime
) -> None:
    """wait_for_shipment shows each order read, the last one being the result."""
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    quote = await client.ship_quote(purchase.nfts, destination=ADDRESS)
    order_id = (await client.ship_request(quote.cheapest)).order_id
    fake_time.on_sleep.append(lambda _: sandbox.state.advance_order(order_id, "shipped"))
    seen: list[p.ShippingOrder] = []
    order = await client.wait_for_shipment(order_id, interval=60, on_status=seen.append)
    assert [s.status for s in seen] == [p.OrderStatus.QUEUED, p.OrderStatus.SHIPPED]
    assert seen[-1] == order


def test_the_blocking_client_calls_it_on_its_loop_thread(
    threaded: LocalSandbox, sync_client: p.Phygitals
) -> None:
    """The blocking wait calls on_status on the client's loop thread, as documented."""
    import threading  # noqa: PLC0415  only this test looks at threads

    threaded.production.pending_polls = 1
    purchase = sync_client.buy(TOPPS, amount=1, user_id="u1")
    threads: list[int] = []
    statuses: list[object] = []

    def note(status: p.PurchaseResult | p.PurchasePending) -> None:
        threads.append(threading.get_ident())
        statuses.append(status)

    result = sync_client.wait_for_purchase(purchase.session_id, interval=0, on_status=note)
    assert statuses[-1] == result
    assert len(statuses) == 2
    assert threading.get_ident() not in threads
