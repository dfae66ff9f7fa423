"""The local sandbox as an ``aiohttp.web`` application: routes, auth, faults, counters."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from aiohttp import web

from ._admin import LEDGER_PATH, make_ledger_handler
from ._control import RequestRecord, SandboxControl, redact_key
from ._dashboard import add_dashboard_routes, dashboard_middleware
from ._faults import Fault, FaultKind, FaultPlan
from ._state import Reject, SandboxState

__all__ = ["SANDBOX_KEY_PREFIX", "make_app"]

SANDBOX_KEY_PREFIX = "sandbox-"
STATE_KEY: web.AppKey[SandboxState] = web.AppKey("state", SandboxState)
FAULTS_KEY: web.AppKey[FaultPlan] = web.AppKey("faults", FaultPlan)
KEYS_KEY: web.AppKey[frozenset[str] | None] = web.AppKey("api_keys", frozenset)
# How many request ids were handed out (a one-element list: app state is set once).
REQUEST_IDS_KEY: web.AppKey[list[int]] = web.AppKey("request_ids", list)
REQUEST_ID_HEADER = "X-Request-Id"
LOG_KEY: web.AppKey[SandboxControl] = web.AppKey("log", SandboxControl)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_DROPPED = 599  # the status of an answer never sent: the connection was closed instead

_HTML_PAGE = (
    "<html><head><title>{code} Bad Gateway</title></head>"
    "<body><center><h1>{code} Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        # Amounts are cents-exact and small, so the float prints back as the same digits.
        return float(value)
    msg = f"not JSON: {type(value).__name__}"
    raise TypeError(msg)


def _json(data: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(data, default=_default),
        content_type="application/json",
        headers=headers,
    )


async def _body(request: web.Request) -> dict[str, Any]:
    # Hostile bodies (not JSON, not an object) read as empty, so the rules answer the
    # documented 400 for a missing field instead of a 500.
    try:
        data = json.loads(await request.read())
    except (ValueError, RecursionError):
        # RecursionError: a body nested past the parser's limit is just as malformed.
        return {}
    return data if isinstance(data, dict) else {}


def _route(name: str) -> Callable[[Handler], Handler]:
    def mark(handler: Handler) -> Handler:
        handler.phygitals_route = name  # type: ignore[attr-defined]
        return handler

    return mark


def _state(request: web.Request) -> SandboxState:
    return request.app[STATE_KEY]


@_route("vm/available")
async def _packs(request: web.Request) -> web.Response:
    return _json(_state(request).list_packs(request.query.get("platform", "mainnet")))


@_route("vm/recent-pulls")
async def _pulls(request: web.Request) -> web.Response:
    state = _state(request)
    return _json(
        state.recent_pulls(request.query.getall("claw_ids", []), request.query.get("limit"))
    )


@_route("vm/buy/init")
async def _buy(request: web.Request) -> web.Response:
    return _json(_state(request).buy(await _body(request)))


@_route("vm/buy/status")
async def _status(request: web.Request) -> web.Response:
    return _json(_state(request).purchase_status(await _body(request)))


@_route("inventory")
async def _inventory(request: web.Request) -> web.Response:
    return _json(_state(request).inventory(request.match_info["user_id"]))


@_route("card")
async def _card(request: web.Request) -> web.Response:
    return _json(_state(request).card(request.match_info["item_id"]))


@_route("vm/buyback")
async def _buyback(request: web.Request) -> web.Response:
    state = _state(request)
    item = state.check_sellback(await _body(request))
    state.selling.add(item.id)
    try:
        if state.production.sellback_processing_time > 0:
            await asyncio.sleep(state.production.sellback_processing_time)
        return _json(state.complete_sellback(item))
    finally:
        state.selling.discard(item.id)


@_route("ship/quote")
async def _quote(request: web.Request) -> web.Response:
    return _json(_state(request).ship_quote(await _body(request)))


@_route("ship/request")
async def _ship(request: web.Request) -> web.Response:
    return _json(_state(request).ship_request(await _body(request)))


@_route("ship/order")
async def _order(request: web.Request) -> web.Response:
    return _json(_state(request).ship_order(request.match_info["order_id"]))


def _route_of(request: web.Request) -> str | None:
    return getattr(request.match_info.handler, "phygitals_route", None)


@web.middleware
async def _count(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = _route_of(request)
    if route is None:
        return await handler(request)
    ledger = _state(request).ledger
    ledger.requests[route] += 1
    ledger.in_flight[route] += 1
    ledger.max_in_flight[route] = max(ledger.max_in_flight[route], ledger.in_flight[route])
    try:
        return await handler(request)
    finally:
        ledger.in_flight[route] -= 1


def _drop(request: web.Request) -> web.Response:
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=_DROPPED)


def _answer_unprocessed(request: web.Request, fault: Fault) -> web.Response:
    if fault.kind is FaultKind.DROP_BEFORE:
        return _drop(request)
    if fault.kind is FaultKind.STATUS:
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
        return _json(fault.body, fault.status_code, headers)
    return web.Response(
        status=fault.status_code,
        text=_HTML_PAGE.format(code=fault.status_code),
        content_type="text/html",
    )


@web.middleware
async def _faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = _route_of(request)
    if route is None:
        return await handler(request)
    chosen = request.app[FAULTS_KEY].pick(route, request.method)
    for rule in chosen:
        if rule.kind is FaultKind.LATENCY:
            await asyncio.sleep(rule.seconds)
    fault = next((f for f in chosen if f.kind is not FaultKind.LATENCY), None)
    if fault is None:
        return await handler(request)
    if not fault.kind.runs_handler:
        return _answer_unprocessed(request, fault)
    response = await handler(request)
    if fault.kind is FaultKind.DROP_AFTER:
        return _drop(request)
    body = response.body if isinstance(response, web.Response) else b""
    raw = bytes(body) if isinstance(body, bytes | bytearray) else b"{}"
    return web.Response(
        status=200, body=raw[: max(1, len(raw) // 2)], content_type="application/json"
    )


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _route_of(request) is None:
        return await handler(request)
    if not _valid_key(request):
        return _json({"error": "Invalid API key"}, 401)
    # The key is no local of this frame, which every handler's traceback holds.
    return await handler(request)


def _valid_key(request: web.Request) -> bool:
    key = request.headers.get("X-API-Key", "")
    allowed = request.app[KEYS_KEY]
    if allowed is not None:
        return key in allowed
    return key.startswith(SANDBOX_KEY_PREFIX) and len(key) > len(SANDBOX_KEY_PREFIX)


@web.middleware
async def _rejects(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Reject as reject:
        return _json(reject.body, reject.status, reject.headers or None)


@web.middleware
async def _request_id(request: web.Request, handler: Handler) -> web.StreamResponse:
    # Every answer of the partner API, errors and injected faults included, carries an id as
    # the API's does, and is logged for the dashboard (a latency fault in its latency). The
    # dashboard's own requests take no id: its polling would make the partner's ids jump.
    if _route_of(request) is None:
        return await handler(request)
    issued = request.app[REQUEST_IDS_KEY]
    issued[0] += 1
    request_id = f"req_sandbox_{issued[0]:08d}"
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
    except web.HTTPException as exc:
        status = exc.status
        exc.headers[REQUEST_ID_HEADER] = request_id
        raise
    finally:
        _record(request, request_id, status, started)
    if not response.prepared:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


def _record(request: web.Request, request_id: str, status: int | None, started: float) -> None:
    control = request.app[LOG_KEY]
    record = RequestRecord(
        at=control.state.clock.now(),
        method=request.method,
        path=request.path_qs[:300],
        status=None if status == _DROPPED else status,
        latency=time.perf_counter() - started,
        request_id=request_id,
        key=redact_key(request.headers.get("X-API-Key", "")),
    )
    control.requests.add(record)


def make_app(
    state: SandboxState,
    faults: FaultPlan,
    *,
    api_keys: frozenset[str] | None = None,
    admin: bool = False,
    dashboard: bool = False,
    control: SandboxControl | None = None,
) -> web.Application:
    """The sandbox app, serving every route under both ``/api/v1`` and ``/_/api/v1``.

    Every answer of the partner API carries an ``X-Request-Id`` (``req_sandbox_00000001``
    and counting); the dashboard's own requests take none.

    ``api_keys``: the accepted keys; ``None`` accepts any key starting with ``sandbox-``.
    ``admin``: also serve ``GET /_sandbox/ledger`` (the ledger as JSON, for tests in another
    process); it carries no route name, so it is never counted, faulted or key-checked.
    ``dashboard``: also serve the dashboard page at ``/_sandbox/`` and its control API
    under ``/_sandbox/api/`` (see :mod:`._dashboard`), driving ``control`` (by default a
    new :class:`SandboxControl` of ``state`` and ``faults``).
    """
    middlewares = [dashboard_middleware, _request_id, _count, _faults, _auth, _rejects]
    app = web.Application(middlewares=middlewares)
    app[REQUEST_IDS_KEY] = [0]
    app[LOG_KEY] = control = control or SandboxControl(state, faults)
    app[STATE_KEY] = state
    app[FAULTS_KEY] = faults
    app[KEYS_KEY] = api_keys
    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/vm/available", _packs),
        ("GET", "/vm/recent-pulls", _pulls),
        ("POST", "/vm/buy/init", _buy),
        ("POST", "/vm/buy/status", _status),
        ("GET", "/inventory/{user_id}", _inventory),
        ("GET", "/card/{item_id}", _card),
        ("POST", "/vm/buyback", _buyback),
        ("POST", "/ship/quote", _quote),
        ("POST", "/ship/request", _ship),
        ("GET", "/ship/order/{order_id}", _order),
    ]
    for prefix in ("/api/v1", "/_/api/v1"):
        for method, path, handler in routes:
            app.router.add_route(method, prefix + path, handler)
    if admin:
        app.router.add_get(LEDGER_PATH, make_ledger_handler(lambda: state.ledger))
    if dashboard:
        add_dashboard_routes(app, control)
    return app
