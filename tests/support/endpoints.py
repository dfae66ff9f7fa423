"""Every endpoint as the hostile-input tests drive it: its call, route and a valid body.

Valid bodies come from the sandbox's own rules (``SandboxState``), serialised as the
sandbox app does, so a mutation of one is a realistic hostile answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import attrs

import phygitals_async as p
from phygitals_async._http._calls import Call
from phygitals_async.testing import SandboxState

TOPPS = "BSG6DyEihFFtfvxtL9mKYsvTwiZXB1rq5gARMTJC2xAM"
ADDRESS = {"name": "Jane Doe", "line1": "1 Main St", "city": "Austin", "country": "US"}


@attrs.frozen
class Endpoint:
    """One SDK method, the route it hits (after the ``/_`` prefix) and a valid answer."""

    name: str
    method: str
    path: str
    invoke: Callable[[p.AsyncPhygitals], Awaitable[object]]
    valid: bytes


def _dumps(data: object) -> bytes:
    return json.dumps(
        data, default=lambda v: float(v) if isinstance(v, Decimal) else str(v)
    ).encode()


def _bodies() -> dict[str, bytes]:
    state = SandboxState(seed=7)
    bought = state.buy({"id": TOPPS, "amount": 2, "user_id": "u"})
    item = bought["nfts"][0]["id"]
    quote = state.ship_quote({"item_ids": [bought["nfts"][1]["id"]], "destination": ADDRESS})
    order = state.ship_request({"quote_id": quote["quotes"][0]["id"]})
    return {
        "list_packs": _dumps(state.list_packs("mainnet")),
        "recent_pulls": _dumps(state.recent_pulls([], "5")),
        "buy": _dumps(bought),
        "purchase_status": _dumps(state.purchase_status({"session_id": bought["session_id"]})),
        "inventory": _dumps(state.inventory("u")),
        "card": _dumps(state.card(item)),
        "sell_back": _dumps(state.complete_sellback(state.check_sellback({"item_id": item}))),
        "ship_quote": _dumps(quote),
        "ship_request": _dumps(order),
        "ship_order": _dumps(state.ship_order(order["order_id"])),
    }


_VALID = _bodies()

ENDPOINTS = [
    Endpoint("list_packs", "GET", "/api/v1/vm/available", lambda c: c.list_packs(), b""),
    Endpoint("recent_pulls", "GET", "/api/v1/vm/recent-pulls", lambda c: c.recent_pulls(), b""),
    Endpoint(
        "buy", "POST", "/api/v1/vm/buy/init", lambda c: c.buy(TOPPS, amount=1, user_id="u"), b""
    ),
    Endpoint(
        "purchase_status", "POST", "/api/v1/vm/buy/status", lambda c: c.purchase_status("s"), b""
    ),
    Endpoint("inventory", "GET", "/api/v1/inventory/u", lambda c: c.inventory("u"), b""),
    Endpoint("card", "GET", "/api/v1/card/i", lambda c: c.card("i"), b""),
    Endpoint("sell_back", "POST", "/api/v1/vm/buyback", lambda c: c.sell_back("i"), b""),
    Endpoint(
        "ship_quote",
        "POST",
        "/api/v1/ship/quote",
        lambda c: c.ship_quote(["i"], destination=ADDRESS),
        b"",
    ),
    Endpoint("ship_request", "POST", "/api/v1/ship/request", lambda c: c.ship_request("q"), b""),
    Endpoint("ship_order", "GET", "/api/v1/ship/order/o", lambda c: c.ship_order("o"), b""),
]
ENDPOINTS = [attrs.evolve(e, valid=_VALID[e.name]) for e in ENDPOINTS]
ENDPOINT_NAMES = [e.name for e in ENDPOINTS]


class _Captured(Exception):  # noqa: N818  a control-flow marker, not an error
    pass


def call_of(endpoint: Endpoint) -> tuple[p.AsyncPhygitals, Call[Any]]:
    """The client and the seam's ``Call`` (which names the type the endpoint decodes into)."""
    client = p.AsyncPhygitals(api_key="sandbox-fuzz", base_url="http://127.0.0.1:9/_")
    seen: list[Call[Any]] = []

    async def capture(call: Call[Any], **_: Any) -> Any:
        seen.append(call)
        raise _Captured

    client._transport.request = capture  # type: ignore[method-assign]

    async def run() -> None:
        with contextlib.suppress(_Captured):
            await endpoint.invoke(client)

    asyncio.run(run())
    return client, seen[0]
