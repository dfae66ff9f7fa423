"""The public API's types, pinned: checked by ``mypy --strict``, never run.

A change to a return type or a parameter users pass fails the type check here before it
reaches users' own type-checked code (as stamina's and svcs's typing tests do).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, assert_type

from phygitals_async import (
    APIResponse,
    APIStatusError,
    AsyncPhygitals,
    BulkSellbackReport,
    Card,
    Inventory,
    Pack,
    Phygitals,
    Pull,
    Purchase,
    PurchasePending,
    PurchasePoll,
    PurchaseResult,
    RateLimitError,
    Retry,
    Sellback,
    ServerError,
    ShipmentCreated,
    ShippingOrder,
    ShippingQuote,
    SyncPoll,
)
from phygitals_async.testing import FakeTime


async def async_client(client: AsyncPhygitals) -> None:
    assert_type(await client.list_packs(), list[Pack])
    assert_type(await client.recent_pulls(limit=5), list[Pull])
    purchase = await client.buy("vm_1", amount=1, user_id="u1")
    assert_type(purchase, Purchase)
    status = await client.purchase_status(purchase.session_id)
    assert_type(status, PurchaseResult | PurchasePending)
    poll = client.poll_purchase(purchase.session_id, timeout=60)
    assert_type(poll, PurchasePoll)
    assert_type(await poll, PurchaseResult)
    assert_type(await client.wait_for_purchase(purchase.session_id), PurchaseResult)
    inventory = await client.inventory("u1")
    assert_type(inventory, Inventory)
    assert_type(inventory.items[0].buyback_price, Decimal)
    sale = await client.sell_back(inventory.items[0])
    assert_type(sale, Sellback)
    assert_type(sale.amount, Decimal)
    report = await client.sell_back_many(inventory.items, concurrency=4)
    assert_type(report, BulkSellbackReport)
    assert_type(report.total_amount, Decimal)
    assert_type(await client.card("i1"), Card)
    quote = await client.ship_quote(["i1"], destination={"country": "US"})
    assert_type(quote, ShippingQuote)
    created = await client.ship_request(quote.quotes[0].id)
    assert_type(created, ShipmentCreated)
    assert_type(await client.ship_order(created.order_id), ShippingOrder)


def blocking_client(client: Phygitals) -> None:
    assert_type(client.list_packs(), list[Pack])
    assert_type(client.inventory("u1"), Inventory)
    assert_type(client.sell_back("i1"), Sellback)
    handle = client.poll_purchase("s1")
    assert_type(handle, SyncPoll[PurchaseResult])
    assert_type(handle.result(timeout=5), PurchaseResult)
    assert_type(handle.cancel(), bool)
    assert_type(handle.cancelled(), bool)
    assert_type(client.wait_for_purchase("s1"), PurchaseResult)


async def integrator_surface(client: AsyncPhygitals, blocking: Phygitals) -> None:
    assert_type(client.with_options(timeout=5, max_retries=0), AsyncPhygitals)
    assert_type(blocking.with_options(timeout=5), Phygitals)
    raw = await client.with_raw_response(client.inventory)("u1", timeout=2)
    assert_type(raw, APIResponse[Inventory])
    assert_type(raw.parse(), Inventory)
    assert_type(raw.status_code, int)
    assert_type(raw.request_id, str | None)
    assert_type(blocking.with_raw_response(blocking.list_packs)(), APIResponse[list[Pack]])
    inventory = raw.parse()
    assert_type(inventory.to_dict(), dict[str, Any])
    assert_type(inventory.to_json(), str)
    assert_type(Inventory.from_dict(inventory.to_dict()), Inventory)


def errors(exc: APIStatusError, limited: RateLimitError, failed: ServerError) -> None:
    # Errors cross process pools and task queues: they are picklable and comparable.
    assert_type(exc.__reduce__(), tuple[Any, ...])
    assert_type(exc == limited, bool)
    assert_type(exc.headers, Mapping[str, str])
    assert_type(exc.request_id, str | None)
    assert_type(exc.status_code, int)
    assert_type(exc.message, str)
    assert_type(limited.retry_after, float | None)
    assert_type(failed.retry_after, float | None)


async def testing_kit(client: AsyncPhygitals, blocking: Phygitals) -> None:
    time = FakeTime(jitter=0.5).attach(client)
    assert_type(time, FakeTime)
    assert_type(FakeTime().attach(blocking).sleeps, list[float])
    assert_type(time.clock(), float)
    await time.sleep(1.0)


async def diagnostics(client: AsyncPhygitals, blocking: Phygitals) -> None:
    # client.request: the JSON as Any without into=, the model asked for with it.
    assert_type(await client.request("GET", "/api/v1/vm/available", into=list[Pack]), list[Pack])
    assert_type(await client.request("GET", "/x", params={"a": [1, "b"]}), Any)
    assert_type(
        await client.request("POST", "/x", json={"a": 1}, into=Card, retry=Retry.UNSAFE), Card
    )
    assert_type(blocking.request("GET", "/x", into=Inventory, timeout=2.0), Inventory)
    await client.request("GET", "/x", retry="safe")  # type: ignore[call-overload]

    # on_status takes the decoded status (a coroutine function too).
    def shown(status: PurchaseResult | PurchasePending) -> None:
        del status

    async def awaited(order: ShippingOrder) -> None:
        del order

    assert_type(await client.wait_for_purchase("s1", on_status=shown), PurchaseResult)
    assert_type(await client.wait_for_shipment("o1", on_status=awaited), ShippingOrder)
    assert_type(blocking.wait_for_purchase("s1", on_status=shown), PurchaseResult)
    client.poll_purchase("s1", on_status=awaited)  # type: ignore[arg-type]
