"""The response shapes both decoding test modules check: each type, and a body of each.

``test_decoding.py`` runs the generated hooks against cattrs' own on these bodies;
``test_decoding_agreement.py`` runs the msgspec path against the converter on them and on
bodies drawn for each type. A new response type is one line here and one body below.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from phygitals_async import (
    Card,
    Inventory,
    Pack,
    Pull,
    Purchase,
    PurchasePending,
    PurchaseResult,
    ShipmentCreated,
    ShippingOrder,
    ShippingQuote,
)
from phygitals_async._http._calls import Retry, RetryPolicy
from phygitals_async._models import BuybackAnswer
from support import TOPPS

# Every type a response body is decoded into, with the retry policy of the call that reads it.
RESPONSE_TYPES: list[tuple[Any, RetryPolicy]] = [
    (list[Pack], Retry.SAFE),
    (list[Pull], Retry.SAFE),
    (Purchase, Retry.UNSAFE),
    (PurchaseResult | PurchasePending, Retry.SAFE),
    (Inventory, Retry.SAFE),
    (Card, Retry.SAFE),
    (BuybackAnswer, Retry.BUYBACK),
    (ShippingQuote, Retry.UNSAFE),
    (ShipmentCreated, Retry.UNSAFE),
    (ShippingOrder, Retry.SAFE),
]


def sandbox_bodies() -> list[tuple[Any, Any]]:
    """One body of each response shape, written by the sandbox and parsed like the SDK."""
    from phygitals_async.testing import SandboxState  # noqa: PLC0415  only these tests need it
    from phygitals_async.testing._app import _default  # noqa: PLC0415

    state = SandboxState(seed=11)
    purchase = state.buy({"id": TOPPS, "amount": 3, "user_id": "u"})
    status = state.purchase_status({"session_id": purchase["session_id"]})
    item_id = purchase["nfts"][0]["id"]
    address = {
        "name": "A",
        "line1": "1 St",
        "city": "C",
        "state": "NY",
        "zip": "1",
        "country": "US",
    }
    quote = state.ship_quote({"item_ids": [item_id], "destination": address})
    created = state.ship_request({"quote_id": quote["quotes"][0]["id"]})
    bodies: list[tuple[Any, Any]] = [
        (state.list_packs("mainnet"), list[Pack]),
        (purchase, Purchase),
        (status, PurchaseResult | PurchasePending),
        ({"status": "pending"}, PurchaseResult | PurchasePending),
        (state.inventory("u"), Inventory),
        (state.card(purchase["nfts"][1]["id"]), Card),
        (state.recent_pulls([TOPPS], None), list[Pull]),
        (quote, ShippingQuote),
        (created, ShipmentCreated),
        (state.ship_order(created["order_id"]), ShippingOrder),
        ({"success": True, "amount": 8.5}, BuybackAnswer),
    ]
    return [
        (json.loads(json.dumps(body, default=_default), parse_float=Decimal), into)
        for body, into in bodies
    ]
