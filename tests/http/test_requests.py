"""Each endpoint sends the documented request and decodes the documented example answer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import quote

import pytest_asyncio
from hypothesis import example, given
from hypothesis import strategies as st
from support import Recorder

from phygitals_async import (
    Address,
    AsyncPhygitals,
    ItemType,
    OrderStatus,
    PurchasePending,
    PurchaseResult,
)
from phygitals_async._validation import path_segment

BASE = "/_/api/v1"
KEY = "sandbox-test-key"

PACK_EXAMPLE = {
    "id": "BSG6Dy...",
    "slug": "topps-chrome-2024",
    "platform": "mainnet",
    "name": "Topps Chrome 2024",
    "enable": True,
    "description": "...",
    "mint_price": 100.0,
    "max_per_mint": 10,
    "in_stock": True,
    "categories": ["Baseball", "Basketball"],
    "ev": 104.0,
    "min_ev": 101.0,
    "max_ev": 105.0,
    "ev_updated_at": "2026-03-10T18:00:00.000Z",
    "buyback_percent": 0.85,
    "claw_image_url": "https://cdn.phygitals.com/packs/topps-chrome-2024.png",
    "rarity_distribution": [
        {"id": 0, "name": "Common", "color": "#22C55E", "lower": 60, "upper": 100, "weight": 80},
        {"id": 3, "name": "Mythic", "color": "#F59E0B", "lower": 500, "upper": 15000, "weight": 1},
    ],
}
PULL_EXAMPLE = {
    "id": "v1|110586049456|0",
    "claw_id": "BSG6DyEihFFtfvxtL9mKYsvTwiZXB1rq5gARMTJC2xAM",
    "claw_slug": "topps-chrome-2024",
    "value": 250.0,
    "buyback_price": 212.5,
    "created_at": "2026-04-30T17:42:11.123Z",
    "metadata": {"name": "...", "image": "https://cdn", "back_image": None, "attributes": []},
}
INIT_EXAMPLE = {
    "session_id": "550e8400-e29b-41d4-a716-446655440000",
    "nfts": [
        {
            "id": "9XnY...mint_address",
            "buyback_price": 8.5,
            "content": {
                "metadata": {
                    "name": "Juan Soto RC Auto /25",
                    "image": "https://cdn.phygitals.com/cards/soto-rc-auto.png",
                    "back_image": "https://cdn.phygitals.com/cards/soto-rc-auto-back.png",
                    "attributes": [{"trait_type": "Year", "value": "2024"}],
                }
            },
        }
    ],
}
STATUS_EXAMPLE = {
    "result": {
        "session_id": "550e",
        "user_id": "user_abc123",
        "public_id": "_XKCD",
        "nfts": [
            {
                "id": "9XnY",
                "buyback_price": 8.5,
                "mint_address": "9XnY",
                "content": {
                    "metadata": {"name": "x", "image": "https://i", "back_image": "https://b"},
                    "links": {"image": "https://i", "back_image": "https://b"},
                },
            }
        ],
        "tx_hash": "transaction_hash",
    }
}
INVENTORY_EXAMPLE = {
    "user_id": "user_abc123",
    "items": [
        {
            "id": "9XnY",
            "claw_id": "BSG6Dy...",
            "claw_slug": "topps-chrome-2024",
            "buyback_price": 8.5,
            "mint_address": "9XnY",
            "purchased_at": "2026-04-18T19:05:14.000Z",
            "buyback_expires_at": "2026-04-25T19:05:14.000Z",
            "content": {
                "metadata": {"name": "n", "image": "i", "back_image": "b", "attributes": []},
                "links": {"image": "i", "back_image": "b"},
            },
        }
    ],
}
CARD_EXAMPLE = {
    "id": "v1|110586049456|0",
    "name": "2024 Soto",
    "image": "https://i",
    "back_image": "https://b",
    "fmv": 250.0,
    "metadata": {
        "name": "2024 Soto",
        "image": "https://i",
        "back_image": "https://b",
        "attributes": [{"trait_type": "Grade", "value": "10"}],
    },
}
QUOTE_EXAMPLE = {
    "session_id": "quote_01HF",
    "expires_at": "2026-04-18T19:30:00.000Z",
    "quotes": [
        {
            "id": "quote_01HF_rate_priority",
            "carrier": "USPS",
            "service": "Priority Mail",
            "amount": 9.75,
            "estimated_days_min": 1,
            "estimated_days_max": 3,
            "insured": True,
        }
    ],
}
ORDER_EXAMPLE = {
    "order_id": "order_123",
    "status": "shipped",
    "carrier": "USPS",
    "service": "Priority Mail",
    "tracking_number": "9400111899223344556677",
    "tracking_url": "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111899223344556677",
    "amount": 9.75,
    "currency": "USD",
    "destination": {"name": "Jane Doe", "line1": "123 Main St", "country": "US"},
    "items": [
        {
            "item_id": "item_id_2",
            "name": "Mike Trout Base",
            "image": "https://cdn.phygitals.com/cards/trout-base.png",
            "back_image": None,
        }
    ],
    "created_at": "2026-04-18T19:05:14.000Z",
    "shipped_at": "2026-04-19T15:30:00.000Z",
    "delivered_at": None,
    "error_message": None,
}


@pytest_asyncio.fixture
async def api(recorder: Recorder) -> AsyncIterator[AsyncPhygitals]:
    async with AsyncPhygitals(api_key=KEY, base_url=recorder.url + "/_", max_retries=0) as c:
        yield c


async def test_list_packs_sends_platform_and_decodes_money_as_decimal(
    recorder: Recorder, api: AsyncPhygitals
) -> None:
    """GET /_/api/v1/vm/available?platform=mainnet decodes packs with Decimal money."""
    recorder.add("GET", f"{BASE}/vm/available", json_body=[PACK_EXAMPLE])
    packs = await api.list_packs()
    request = recorder.only()
    assert (request.method, request.raw_path) == ("GET", f"{BASE}/vm/available")
    assert request.query == [("platform", "mainnet")]
    assert request.headers["X-API-Key"] == KEY
    pack = packs[0]
    assert pack.mint_price == Decimal("100.0")
    assert pack.buyback_percent == Decimal("0.85")
    assert pack.rarity_distribution[1].upper == Decimal(15000)
    assert pack.ev_updated_at == datetime(2026, 3, 10, 18, tzinfo=UTC)
    assert pack.categories == ("Baseball", "Basketball")


async def test_recent_pulls_repeats_claw_ids(recorder: Recorder, api: AsyncPhygitals) -> None:
    """Several packs are passed by repeating claw_ids, with the limit."""
    recorder.add("GET", f"{BASE}/vm/recent-pulls", json_body=[PULL_EXAMPLE])
    pulls = await api.recent_pulls(["A", "B"], limit=5)
    assert recorder.only().query == [("claw_ids", "A"), ("claw_ids", "B"), ("limit", "5")]
    assert pulls[0].id == "v1|110586049456|0"
    assert pulls[0].buyback_price == Decimal("212.5")
    assert pulls[0].metadata.back_image is None


async def test_buy_posts_id_amount_and_user(recorder: Recorder, api: AsyncPhygitals) -> None:
    """POST buy/init sends the key, JSON content type and the documented body."""
    recorder.add("POST", f"{BASE}/vm/buy/init", json_body=INIT_EXAMPLE)
    purchase = await api.buy("BSG6Dy...", amount=2, user_id="user_abc123")
    request = recorder.only()
    assert (request.method, request.raw_path) == ("POST", f"{BASE}/vm/buy/init")
    assert request.json == {"id": "BSG6Dy...", "amount": 2, "user_id": "user_abc123"}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-API-Key"] == KEY
    assert purchase.session_id == "550e8400-e29b-41d4-a716-446655440000"
    assert purchase.nfts[0].content.metadata.attributes[0].value == "2024"
    assert purchase.nfts[0].buyback_price == Decimal("8.5")


async def test_purchase_status_flattens_result(recorder: Recorder, api: AsyncPhygitals) -> None:
    """A fulfilled buy/status answer flattens its ``result`` wrapper."""
    recorder.add("POST", f"{BASE}/vm/buy/status", json_body=STATUS_EXAMPLE)
    status = await api.purchase_status("550e")
    assert recorder.only().json == {"session_id": "550e"}
    assert isinstance(status, PurchaseResult)
    assert status.public_id == "_XKCD"
    assert status.tx_hash == "transaction_hash"
    assert status.nfts[0].content.links is not None


async def test_purchase_status_pending(recorder: Recorder, api: AsyncPhygitals) -> None:
    """``{"status": "pending"}`` decodes as PurchasePending."""
    recorder.add("POST", f"{BASE}/vm/buy/status", json_body={"status": "pending"})
    status = await api.purchase_status("550e")
    assert isinstance(status, PurchasePending)
    assert status.status == "pending"


async def test_inventory_decodes_aware_times(recorder: Recorder, api: AsyncPhygitals) -> None:
    """Inventory items carry timezone-aware purchase and expiry times."""
    recorder.add("GET", f"{BASE}/inventory/user_abc123", json_body=INVENTORY_EXAMPLE)
    inventory = await api.inventory("user_abc123")
    item = inventory.items[0]
    assert item.buyback_expires_at == datetime(2026, 4, 25, 19, 5, 14, tzinfo=UTC)
    assert item.purchased_at is not None
    assert item.purchased_at.tzinfo is not None
    assert item.claw_slug == "topps-chrome-2024"


async def test_get_sends_no_body_headers(recorder: Recorder, api: AsyncPhygitals) -> None:
    """A GET carries the key, a JSON Accept and the SDK's User-Agent, and no Content-Type."""
    recorder.add("GET", f"{BASE}/inventory/u", json_body={"user_id": "u", "items": []})
    await api.inventory("u")
    headers = recorder.only().headers
    assert "Content-Type" not in headers
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"].startswith("phygitals-async/")
    assert headers["X-API-Key"] == KEY


async def test_bodies_are_read_in_any_json_encoding(
    recorder: Recorder, api: AsyncPhygitals
) -> None:
    """A body with a UTF-8 byte-order mark, or in UTF-16, decodes as ``json.loads`` would."""
    text = '{"user_id": "\u00fc", "items": []}'
    for raw in (b"\xef\xbb\xbf" + text.encode(), text.encode("utf-16")):
        recorder.add("GET", f"{BASE}/inventory/u", body=raw)
        assert (await api.inventory("u")).user_id == "\u00fc"


async def test_card_path_encodes_pipes(recorder: Recorder, api: AsyncPhygitals) -> None:
    """Item ids with ``|`` are percent-encoded into one path segment."""
    recorder.add("GET", f"{BASE}/card/v1%7C110586049456%7C0", json_body=CARD_EXAMPLE)
    card = await api.card("v1|110586049456|0")
    assert recorder.only().raw_path == f"{BASE}/card/v1%7C110586049456%7C0"
    assert card.fmv == Decimal("250.0")
    assert card.metadata.attributes[0].trait_type == "Grade"


async def test_sell_back_posts_item_id(recorder: Recorder, api: AsyncPhygitals) -> None:
    """POST buyback returns a Sellback carrying the item id and the exact amount."""
    recorder.add("POST", f"{BASE}/vm/buyback", json_body={"success": True, "amount": 8.5})
    sale = await api.sell_back("9XnY")
    assert recorder.only().json == {"item_id": "9XnY"}
    assert sale.item_id == "9XnY"
    assert sale.amount == Decimal("8.5")


async def test_ship_quote_sends_address(recorder: Recorder, api: AsyncPhygitals) -> None:
    """An Address is sent as the documented destination object, unset fields left out."""
    recorder.add("POST", f"{BASE}/ship/quote", json_body=QUOTE_EXAMPLE)
    quote = await api.ship_quote(
        ["item_id_1", "item_id_2"],
        destination=Address(name="Jane Doe", line1="123 Main St", city="Austin", country="US"),
    )
    body = recorder.only().json
    assert body == {
        "item_ids": ["item_id_1", "item_id_2"],
        "destination": {
            "name": "Jane Doe",
            "line1": "123 Main St",
            "city": "Austin",
            "country": "US",
        },
    }
    assert quote.quotes[0].amount == Decimal("9.75")
    assert quote.cheapest.id == "quote_01HF_rate_priority"


async def test_ship_quote_accepts_a_mapping(recorder: Recorder, api: AsyncPhygitals) -> None:
    """A plain mapping destination is sent as given (keys are not renamed)."""
    recorder.add("POST", f"{BASE}/ship/quote", json_body=QUOTE_EXAMPLE)
    await api.ship_quote(["a"], destination={"zip": "78701", "country": "US", "name": "J"})
    body = recorder.only().json
    assert body["destination"] == {"zip": "78701", "country": "US", "name": "J"}


async def test_ship_request_posts_quote_id(recorder: Recorder, api: AsyncPhygitals) -> None:
    """POST ship/request sends the rate id and returns the order id."""
    recorder.add(
        "POST", f"{BASE}/ship/request", json_body={"order_id": "order_1", "status": "success"}
    )
    created = await api.ship_request("quote_01HF_rate_priority")
    body = recorder.only().json
    assert body == {"quote_id": "quote_01HF_rate_priority"}
    assert created.order_id == "order_1"


async def test_ship_order_decodes_tracking(recorder: Recorder, api: AsyncPhygitals) -> None:
    """GET ship/order decodes status, tracking and the echoed destination."""
    recorder.add("GET", f"{BASE}/ship/order/order_123", json_body=ORDER_EXAMPLE)
    order = await api.ship_order("order_123")
    assert order.status is OrderStatus.SHIPPED
    assert order.tracking_number == "9400111899223344556677"
    assert order.destination["line1"] == "123 Main St"
    assert order.items[0].back_image is None
    assert order.delivered_at is None


async def test_production_base_url_has_no_sandbox_prefix(recorder: Recorder) -> None:
    """Against a production-style base URL the paths are /api/v1/... without ``/_``."""
    recorder.add("GET", "/api/v1/vm/available", json_body=[])
    async with AsyncPhygitals(api_key="live-key", base_url=recorder.url) as live:
        assert await live.list_packs() == []
    assert recorder.only().raw_path == "/api/v1/vm/available"


async def test_unknown_enum_values_are_kept(recorder: Recorder, api: AsyncPhygitals) -> None:
    """A status or item type the SDK does not know decodes to the plain string."""
    recorder.add(
        "GET", f"{BASE}/ship/order/o", json_body=ORDER_EXAMPLE | {"status": "held_at_customs"}
    )
    order = await api.ship_order("o")
    assert order.status == "held_at_customs"
    inventory = json.loads(json.dumps(INVENTORY_EXAMPLE))
    inventory["items"][0]["type"] = "hologram"
    recorder.add("GET", f"{BASE}/inventory/u", json_body=inventory)
    assert (await api.inventory("u")).items[0].type == "hologram"
    inventory["items"][0]["type"] = "ebay"
    recorder.add("GET", f"{BASE}/inventory/u2", json_body=inventory)
    assert (await api.inventory("u2")).items[0].type is ItemType.EBAY


async def test_large_body_leaves_the_gc_as_it_found_it(
    recorder: Recorder, api: AsyncPhygitals
) -> None:
    """Decoding a large body pauses the GC only for the decode; a disabled GC stays off."""
    import gc  # noqa: PLC0415  only this test touches the collector

    item: dict[str, object] = json.loads(json.dumps(INVENTORY_EXAMPLE))["items"][0]
    big = {"user_id": "u", "items": [item | {"id": f"i{n}"} for n in range(400)]}
    recorder.add("GET", f"{BASE}/inventory/u", json_body=big, times=2)
    assert len(json.dumps(big)) > 64 * 1024
    assert len((await api.inventory("u")).items) == 400
    assert gc.isenabled()
    gc.disable()
    try:
        await api.inventory("u")
        assert not gc.isenabled()
    finally:
        gc.enable()


@given(st.text() | st.text(alphabet="azAZ09._~-|/%?#\n "))
@example("v1\n")
@example(".")
@example("..")
@example("v1|2|0")
def test_a_path_segment_is_the_id_percent_encoded_whole(value: str) -> None:
    """Every id becomes exactly one segment: unreserved text as it is, the rest encoded."""
    expected = quote(value, safe="")
    if expected.strip(".") == "":  # "." and "..": no URL normalization may act on them
        expected = expected.replace(".", "%2E")
    assert path_segment(value) == expected
    assert "/" not in path_segment(value)
