"""The SDK against the local sandbox over loopback: every endpoint and the documented rules."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from support import ADDRESS, DIGITAL, RETIRED, SOLD_OUT, TOPPS

import phygitals_async as p
from phygitals_async.testing import LocalSandbox


async def test_full_flow(sandbox: LocalSandbox, client: p.AsyncPhygitals) -> None:
    """Buy, wait, list, sell back, quote, ship and look up the order, end to end."""
    packs = await client.list_packs()
    assert {pk.id for pk in packs} >= {TOPPS, DIGITAL, RETIRED, SOLD_OUT}
    purchase = await client.buy(TOPPS, amount=3, user_id="u1")
    assert len(purchase.nfts) == 3
    result = await client.wait_for_purchase(purchase.session_id, interval=0)
    assert result.user_id == "u1"
    assert result.tx_hash.startswith("sandbox_")
    assert [n.id for n in result.nfts] == [n.id for n in purchase.nfts]
    inventory = await client.inventory("u1")
    assert [i.id for i in inventory.items] == [n.id for n in purchase.nfts]
    first, second, third = inventory.items
    sale = await client.sell_back(first)
    assert sale.amount == first.buyback_price
    assert sandbox.ledger.sold == {first.id: first.buyback_price}
    quote = await client.ship_quote([second], destination=ADDRESS)
    created = await client.ship_request(quote.quotes[0])
    assert created.status == "success"
    assert created.order_id.startswith("order_")
    assert len(created.order_id) == len("order_") + 16
    order = await client.ship_order(created.order_id)
    assert order.status is p.OrderStatus.QUEUED
    assert order.tracking_number is None
    assert order.destination == ADDRESS
    assert [i.item_id for i in order.items] == [second.id]
    remaining = await client.inventory("u1")
    assert [i.id for i in remaining.items] == [third.id]


async def test_pulls_are_priced_within_their_tier(client: p.AsyncPhygitals) -> None:
    """Each pulled item's buyback is 85% of a value inside one of the pack's tiers."""
    pack = next(pk for pk in await client.list_packs() if pk.id == TOPPS)
    purchase = await client.buy(TOPPS, amount=10, user_id="u1")
    for nft in purchase.nfts:
        card = await client.card(nft.id)
        assert nft.buyback_price == (card.fmv * pack.buyback_percent).quantize(Decimal("0.01"))
        assert any(t.lower <= card.fmv <= t.upper for t in pack.rarity_distribution)


async def test_inventory_items_expire_seven_days_after_purchase(client: p.AsyncPhygitals) -> None:
    """buyback_expires_at is purchased_at + 7 days, never null."""
    await client.buy(TOPPS, amount=2, user_id="u1")
    for item in (await client.inventory("u1")).items:
        assert item.purchased_at is not None
        assert item.buyback_expires_at == item.purchased_at + timedelta(days=7)
        assert item.content.links is not None
        assert item.claw_id == TOPPS


async def test_sellback_after_the_window_is_expired(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """Moving the sandbox clock past 7 days makes sellback answer "Item has expired"."""
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    sandbox.clock.advance(days=7)
    with pytest.raises(p.ItemExpiredError):
        await client.sell_back(purchase.nfts[0])
    assert sandbox.ledger.sold == {}


async def test_sold_item_cannot_be_sold_again(client: p.AsyncPhygitals) -> None:
    """A second sellback of the same item is "Item not found"."""
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    await client.sell_back(purchase.nfts[0])
    with pytest.raises(p.ItemNotFoundError):
        await client.sell_back(purchase.nfts[0])


async def test_shipped_item_cannot_be_sold_back(client: p.AsyncPhygitals) -> None:
    """An item locked in a shipping order is "Item not found" for sellback."""
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    quote = await client.ship_quote(purchase.nfts, destination=ADDRESS)
    await client.ship_request(quote.cheapest)
    with pytest.raises(p.ItemNotFoundError):
        await client.sell_back(purchase.nfts[0])


async def test_second_ship_request_for_the_same_items(client: p.AsyncPhygitals) -> None:
    """Two quotes for one item: the second request is "Item already shipped"."""
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    first = await client.ship_quote(purchase.nfts, destination=ADDRESS)
    second = await client.ship_quote(purchase.nfts, destination=ADDRESS)
    await client.ship_request(first.quotes[0])
    with pytest.raises(p.ItemAlreadyShippedError):
        await client.ship_request(second.quotes[1])


async def test_quote_expires_after_fifteen_minutes(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """A quote is accepted before 15 minutes and "Quote expired" after."""
    purchase = await client.buy(TOPPS, amount=2, user_id="u1")
    quote = await client.ship_quote(purchase.nfts[:1], destination=ADDRESS)
    late = await client.ship_quote(purchase.nfts[1:], destination=ADDRESS)
    assert timedelta(minutes=14) < quote.expires_at - sandbox.clock.now() <= timedelta(minutes=15)
    sandbox.clock.advance(minutes=14)
    await client.ship_request(quote.quotes[0])
    sandbox.clock.advance(minutes=1)
    with pytest.raises(p.QuoteExpiredError):
        await client.ship_request(late.quotes[0])


async def test_unknown_rate_in_a_real_session_is_expired(client: p.AsyncPhygitals) -> None:
    """A rate key not in the quote session is "Quote expired"; no separator is a 400."""
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    quote = await client.ship_quote(purchase.nfts, destination=ADDRESS)
    with pytest.raises(p.QuoteExpiredError):
        await client.ship_request(quote.session_id + "_rate_teleport")
    with pytest.raises(p.BadRequestError, match="quote_id is required"):
        await client.ship_request(quote.session_id)


@pytest.mark.parametrize(
    ("pack", "amount", "expected", "message"),
    [
        (RETIRED, 1, p.OutOfStockError, "Claw machine is out of stock"),
        (SOLD_OUT, 1, p.OutOfStockError, "Claw machine is out of stock"),
        ("no-such-pack", 1, p.PackNotFoundError, "VM not found"),
        (TOPPS, 11, p.InvalidAmountError, "Amount must be less than or equal to 10"),
    ],
)
async def test_buy_errors(
    sandbox: LocalSandbox,
    client: p.AsyncPhygitals,
    pack: str,
    amount: int,
    expected: type[p.APIStatusError],
    message: str,
) -> None:
    """Disabled, sold-out, unknown packs and too many pulls fail with the documented string."""
    with pytest.raises(expected) as caught:
        await client.buy(pack, amount=amount, user_id="u1")
    assert caught.value.message == message
    assert sandbox.ledger.purchases == 0


async def test_unknown_session_is_transaction_failed(client: p.AsyncPhygitals) -> None:
    """buy/status for an unknown session answers 400 "Transaction failed"."""
    with pytest.raises(p.TransactionFailedError):
        await client.purchase_status("00000000-0000-0000-0000-000000000000")


async def test_unknown_user_card_and_order(client: p.AsyncPhygitals) -> None:
    """Unknown user, card and order are the documented 404s."""
    with pytest.raises(p.UserNotFoundError):
        await client.inventory("nobody")
    with pytest.raises(p.CardNotFoundError):
        await client.card("v1|0|0")
    with pytest.raises(p.OrderNotFoundError):
        await client.ship_order("order_AAAAAAAAAAAAAAAA")


async def test_quote_errors(client: p.AsyncPhygitals) -> None:
    """Address, unknown item and digital-only quotes fail as documented."""
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    digital = await client.buy(DIGITAL, amount=1, user_id="u1")
    with pytest.raises(p.InvalidRequestError):  # the SDK stops this before the 422
        await client.ship_quote(purchase.nfts, destination=ADDRESS | {"country": "U"})
    with pytest.raises(p.InvalidAddressError) as caught:
        await client.ship_quote(purchase.nfts, destination=ADDRESS | {"line1": ""})
    assert caught.value.details == "Missing required field: line1"
    with pytest.raises(p.InvalidAddressError) as suggested:
        await client.ship_quote(purchase.nfts, destination=ADDRESS | {"state": "tx"})
    assert suggested.value.suggested == ADDRESS
    with pytest.raises(p.ItemNotFoundError):
        await client.ship_quote(["v1|0|0"], destination=ADDRESS)
    with pytest.raises(p.NoShippableItemsError):
        await client.ship_quote(digital.nfts, destination=ADDRESS)


async def test_any_two_letter_country_is_accepted(client: p.AsyncPhygitals) -> None:
    """The sandbox accepts any two-character country, even "ZZ"."""
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    quote = await client.ship_quote(purchase.nfts, destination=ADDRESS | {"country": "ZZ"})
    assert len(quote.quotes) == 3


async def test_recent_pulls_newest_first_filtered_and_limited(client: p.AsyncPhygitals) -> None:
    """Pulls come newest first; claw_ids filters; limit bounds the count."""
    purchase = await client.buy(DIGITAL, amount=3, user_id="u1")
    pulls = await client.recent_pulls([DIGITAL], limit=2)
    assert [pl.id for pl in pulls] == [n.id for n in purchase.nfts][::-1][:2]
    everything = await client.recent_pulls(limit=100)
    assert len(everything) > 3
    times = [pl.created_at for pl in everything]
    assert times == sorted(times, reverse=True)
    assert await client.recent_pulls(["unknown-pack"]) == []


async def test_pending_polls_then_fulfilled(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """With production pending switched on, buy/status is pending N times first."""
    sandbox.production.pending_polls = 2
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    assert isinstance(await client.purchase_status(purchase.session_id), p.PurchasePending)
    assert isinstance(await client.purchase_status(purchase.session_id), p.PurchasePending)
    assert isinstance(await client.purchase_status(purchase.session_id), p.PurchaseResult)


async def test_production_sellback_failures_on_request(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """Production's "Transaction failed" and "active buyback session" switch on per item."""
    purchase = await client.buy(TOPPS, amount=2, user_id="u1")
    failing, busy = purchase.nfts
    sandbox.production.fail_sellbacks.add(failing.id)
    sandbox.production.active_buyback_sessions.add(busy.id)
    with pytest.raises(p.TransactionFailedError):
        await client.sell_back(failing)
    with pytest.raises(p.BuybackInProgressError):
        await client.sell_back(busy)


async def test_unknown_key_is_refused(sandbox: LocalSandbox) -> None:
    """A key the sandbox does not accept gets 401 "Invalid API key" on any endpoint."""
    async with sandbox.client(api_key="live-key-for-production") as stranger:
        with pytest.raises(p.AuthenticationError) as caught:
            await stranger.list_packs()
    assert caught.value.message == "Invalid API key"


async def test_sandbox_fixture_from_plugin(
    phygitals_sandbox: LocalSandbox, phygitals_client: p.AsyncPhygitals
) -> None:
    """The published pytest fixtures give a running sandbox and a client for it."""
    assert phygitals_client.base_url == phygitals_sandbox.url
    assert len(await phygitals_client.list_packs()) == 5
