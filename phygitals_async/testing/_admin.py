"""The sandbox's admin route: its ledger as JSON, for tests running in another process.

A sandbox started with ``admin=True`` (``phygitals sandbox --admin``) answers
``GET /_sandbox/ledger``. The ``/_sandbox`` prefix is reserved: no partner endpoint lives
there, so the route can never shadow one. It is off by default because the ledger is the
sandbox's private bookkeeping, not part of the API being imitated.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from ._ledger import Ledger

__all__ = [
    "LEDGER_PATH",
    "fetch_ledger",
    "ledger_from_json",
    "ledger_to_json",
    "make_ledger_handler",
]

LEDGER_PATH = "/_sandbox/ledger"

_COUNTS = ("purchases", "items_pulled", "sellback_executions", "orders_created", "quotes_created")
_COUNTERS = ("requests", "in_flight", "max_in_flight")


def ledger_to_json(ledger: Ledger) -> dict[str, Any]:
    """The ledger as JSON-ready builtins; money as exact decimal strings."""
    data: dict[str, Any] = {name: getattr(ledger, name) for name in _COUNTS}
    data["sold"] = {item_id: str(amount) for item_id, amount in ledger.sold.items()}
    data["amount_paid"] = str(ledger.amount_paid)
    data["sellers"] = dict(ledger.sellers)
    data["sold_at"] = {item_id: when.isoformat() for item_id, when in ledger.sold_at.items()}
    for name in _COUNTERS:
        data[name] = dict(getattr(ledger, name))
    return data


def ledger_from_json(data: dict[str, Any]) -> Ledger:
    """A :class:`Ledger` equal to the one :func:`ledger_to_json` was given."""

    def counter(name: str) -> Counter[str]:
        return Counter({route: int(n) for route, n in data[name].items()})

    return Ledger(
        purchases=int(data["purchases"]),
        items_pulled=int(data["items_pulled"]),
        sold={item_id: Decimal(amount) for item_id, amount in data["sold"].items()},
        # A sandbox older than the per-user ledger sends neither; read them as unknown.
        sellers=dict(data.get("sellers", {})),
        sold_at={
            item_id: datetime.fromisoformat(when)
            for item_id, when in data.get("sold_at", {}).items()
        },
        sellback_executions=int(data["sellback_executions"]),
        orders_created=int(data["orders_created"]),
        quotes_created=int(data["quotes_created"]),
        requests=counter("requests"),
        in_flight=counter("in_flight"),
        max_in_flight=counter("max_in_flight"),
    )


def make_ledger_handler(
    ledger: Callable[[], Ledger],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The aiohttp handler serving ``ledger()`` (read at each request, so always current)."""

    async def ledger_route(_request: web.Request) -> web.Response:
        return web.json_response(ledger_to_json(ledger()))

    return ledger_route


def fetch_ledger(url: str, *, timeout: float = 10.0) -> Ledger:
    """Read the ledger of a sandbox running in another process (started with ``--admin``).

    ``url`` is the sandbox's root (``http://127.0.0.1:8787``) or a client's base URL (the
    same with ``/_``). ``timeout`` is in seconds. This is a blocking call: in an async test
    against a sandbox in *another* process it returns in a millisecond; for a sandbox in
    the same process read ``sandbox.ledger`` instead.

    Example::

        from phygitals_async.testing import fetch_ledger

        ledger = fetch_ledger("http://127.0.0.1:8787")
        assert ledger.purchases == 1 and ledger.amount_paid == Decimal("4.20")

    Raises:
        RuntimeError: the sandbox answered but has no admin route (started without
            ``--admin``), or answered something that is not a ledger.
        OSError: nothing answered (``urllib.error.URLError`` is an ``OSError``).
    """
    root = url.rstrip("/").removesuffix("/_")
    if not root.startswith(("http://", "https://")):
        msg = f"fetch_ledger needs an http:// URL, got {url!r}"
        raise ValueError(msg)
    # The scheme is checked just above, so neither call can open a file: or custom URL.
    request = urllib.request.Request(  # noqa: S310
        root + LEDGER_PATH, headers={"Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            msg = (
                f"the sandbox at {root} has no admin route {LEDGER_PATH}: start it with "
                "'phygitals sandbox --admin' (or LocalSandbox(admin=True))"
            )
            raise RuntimeError(msg) from None
        raise
    try:
        return ledger_from_json(json.loads(body))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        msg = f"{root}{LEDGER_PATH} did not answer a ledger: {body[:200]!r}"
        raise RuntimeError(msg) from exc
