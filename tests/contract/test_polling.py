"""Polling runs as a task: awaitable, cancellable, bounded by a deadline."""

from __future__ import annotations

import asyncio

import pytest
from support import ADDRESS, TOPPS, FakeTime

import phygitals_async as p
from phygitals_async.testing import Fault, LocalSandbox


async def test_pending_then_fulfilled_with_growing_interval(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, fake_time: FakeTime
) -> None:
    """Pending answers keep it polling; waits grow 1.5x from ``interval`` to the cap."""
    sandbox.production.pending_polls = 4
    purchase = await client.buy(TOPPS, amount=2, user_id="u1")
    result = await client.wait_for_purchase(
        purchase.session_id, interval=1.0, max_interval=2.0, timeout=60
    )
    assert isinstance(result, p.PurchaseResult)
    assert len(result.nfts) == 2
    assert fake_time.sleeps == [1.0, 1.5, 2.0, 2.0]
    assert sandbox.ledger.requests["vm/buy/status"] == 5


async def test_poll_handle_is_a_running_task(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """poll_purchase returns at once; the handle reports done() and keeps the last status."""
    sandbox.production.pending_polls = 1
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    poll = client.poll_purchase(purchase.session_id, interval=0)
    assert not poll.done()
    result = await poll
    assert poll.done()
    assert poll.result() == result
    assert poll.last_status == result
    assert poll.session_id == purchase.session_id


async def test_failed_purchase_raises_transaction_failed(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """A purchase that fails while polling raises TransactionFailedError."""
    sandbox.production.pending_polls = 2
    sandbox.production.fail_purchases = True
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    with pytest.raises(p.TransactionFailedError):
        await client.wait_for_purchase(purchase.session_id, interval=0.5)
    assert sandbox.ledger.requests["vm/buy/status"] == 3


async def test_deadline_raises_poll_timeout_with_last_status(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, fake_time: FakeTime
) -> None:
    """Still pending at the deadline: PollTimeoutError carrying the pending status."""
    sandbox.production.pending_polls = 10_000
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    with pytest.raises(p.PollTimeoutError) as caught:
        await client.wait_for_purchase(purchase.session_id, interval=1, max_interval=4, timeout=20)
    assert isinstance(caught.value, TimeoutError)
    assert isinstance(caught.value.last_status, p.PurchasePending)
    # The last wait is cut short so that the last check is made at the deadline itself.
    assert fake_time.sleeps == [1, 1.5, 2.25, 3.375, 4, 4, 3.875]
    assert sum(fake_time.sleeps) == 20
    assert sandbox.ledger.requests["vm/buy/status"] == len(fake_time.sleeps) + 1


async def test_transient_errors_while_polling_are_retried(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """A 503 during polling is retried by the seam and polling carries on."""
    sandbox.production.pending_polls = 1
    sandbox.faults.add(Fault.status(503, route="vm/buy/status", count=1))
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    assert isinstance(await client.wait_for_purchase(purchase.session_id), p.PurchaseResult)


async def test_cancel_mid_request_leaves_nothing_behind(sandbox: LocalSandbox) -> None:
    """Cancelling while a status request is in flight ends the task and its request."""
    sandbox.production.pending_polls = 10_000
    sandbox.faults.add(Fault.latency(30, route="vm/buy/status"))
    async with sandbox.client() as client:
        purchase = await client.buy(TOPPS, amount=1, user_id="u1")
        before = asyncio.all_tasks()
        poll = client.poll_purchase(purchase.session_id, interval=0)
        while sandbox.ledger.in_flight["vm/buy/status"] == 0:  # noqa: ASYNC110  sandbox state
            await asyncio.sleep(0)
        assert poll.cancel()
        with pytest.raises(asyncio.CancelledError):
            await poll
        assert poll.done()
        client_tasks = {t for t in asyncio.all_tasks() - before if "poll" in t.get_name()}
        assert client_tasks == set()
        connector = client._transport._session.connector  # type: ignore[union-attr]
        assert connector is not None
        assert len(connector._acquired) == 0


async def test_wait_for_shipment_until_shipped(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, fake_time: FakeTime
) -> None:
    """Shipment polling returns once the order reaches a wanted status."""
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    quote = await client.ship_quote(purchase.nfts, destination=ADDRESS)
    order_id = (await client.ship_request(quote.cheapest)).order_id
    fake_time.on_sleep.append(
        lambda n: sandbox.state.advance_order(order_id, "label_created" if n == 1 else "shipped")
    )
    order = await client.wait_for_shipment(order_id, interval=60)
    assert order.status is p.OrderStatus.SHIPPED
    assert order.tracking_number is not None
    assert order.shipped_at is not None
    assert fake_time.sleeps == [60, 90]


async def test_wait_for_shipment_stops_on_cancelled(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """A cancelled or failed order ends the wait; the caller reads its status."""
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    quote = await client.ship_quote(purchase.nfts, destination=ADDRESS)
    order_id = (await client.ship_request(quote.cheapest)).order_id
    sandbox.state.advance_order(order_id, "cancelled", error_message="Address undeliverable")
    order = await client.wait_for_shipment(order_id, until={"delivered"})
    assert order.status is p.OrderStatus.CANCELLED
    assert order.error_message == "Address undeliverable"


async def test_sandbox_orders_never_ship(client: p.AsyncPhygitals, fake_time: FakeTime) -> None:
    """Sandbox orders stay queued, so waiting for shipped times out with the queued order."""
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    quote = await client.ship_quote(purchase.nfts, destination=ADDRESS)
    order_id = (await client.ship_request(quote.cheapest)).order_id
    with pytest.raises(p.PollTimeoutError) as caught:
        await client.wait_for_shipment(order_id, interval=60, timeout=600)
    assert isinstance(caught.value.last_status, p.ShippingOrder)
    assert caught.value.last_status.status is p.OrderStatus.QUEUED
    assert sum(fake_time.sleeps) <= 600


@pytest.mark.parametrize("until", ["queued", p.OrderStatus.QUEUED, ["queued"]])
async def test_until_takes_one_status_or_several(
    client: p.AsyncPhygitals, fake_time: FakeTime, until: str | list[str]
) -> None:
    """until="queued" is that status, not its letters: a queued order ends the wait at once."""
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    quote = await client.ship_quote(purchase.nfts, destination=ADDRESS)
    order_id = (await client.ship_request(quote.cheapest)).order_id
    order = await client.wait_for_shipment(order_id, until=until, timeout=600)
    assert order.status is p.OrderStatus.QUEUED
    assert fake_time.sleeps == []


async def test_poll_arguments_are_checked(client: p.AsyncPhygitals) -> None:
    """An empty session id or an empty ``until`` fails at once."""
    with pytest.raises(p.InvalidRequestError):
        client.poll_purchase("")
    with pytest.raises(p.ConfigurationError):
        client.poll_shipment("order_x", until=())


async def test_a_request_cut_by_the_poll_deadline_is_a_poll_timeout(
    sandbox: LocalSandbox,
) -> None:
    """When the deadline passes during a slow status request, PollTimeoutError is raised."""
    sandbox.production.pending_polls = 1
    sandbox.faults.add(Fault.latency(5, route="vm/buy/status"))
    async with sandbox.client() as client:
        purchase = await client.buy(TOPPS, amount=1, user_id="u1")
        with pytest.raises(p.PollTimeoutError) as caught:
            await client.wait_for_purchase(purchase.session_id, interval=0, timeout=0.3)
    assert isinstance(caught.value.__cause__, p.APITimeoutError)


async def test_the_last_check_is_made_at_the_deadline(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, fake_time: FakeTime
) -> None:
    """wait_for_purchase(timeout=4) checks at 0, 1, 2.5 and 4 s, not giving up at 2.5 s."""
    sandbox.production.pending_polls = 10_000
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    with pytest.raises(p.PollTimeoutError):
        await client.wait_for_purchase(purchase.session_id, interval=1, timeout=4)
    assert fake_time.sleeps == [1, 1.5, 1.5]
    assert sandbox.ledger.requests["vm/buy/status"] == 4


async def test_a_purchase_fulfilled_at_the_deadline_is_returned(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, fake_time: FakeTime
) -> None:
    """The check at the deadline counts: a result seen then is returned, not a timeout."""
    sandbox.production.pending_polls = 3
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    result = await client.wait_for_purchase(purchase.session_id, interval=1, timeout=4)
    assert isinstance(result, p.PurchaseResult)
    assert sum(fake_time.sleeps) == 4
