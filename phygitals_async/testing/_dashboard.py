"""The sandbox's dashboard page at ``/_sandbox/`` and its control API at ``/_sandbox/api/``.

The page is three static files shipped in the package (no CDN, no build step); it polls
``GET /_sandbox/api/state`` every second and drives the sandbox through the same JSON
endpoints any other language can call::

    GET  /_sandbox/api/state                   everything the page shows
    GET  /_sandbox/api/requests?limit=N        the latest requests, newest first
    GET  /_sandbox/api/users/{user_id}         one user's items and what they were paid
    GET  /_sandbox/api/ledger[?user_id=U]      the ledger, or what was paid for one user
    POST /_sandbox/api/advance                 {"by": "90m"}
    POST /_sandbox/api/seed                    {"user_id": "u1", "count": 3}
    POST /_sandbox/api/faults                  {"route": "vm/buyback", "fault": "drop_after"}
    POST /_sandbox/api/faults/clear            {}
    POST /_sandbox/api/reset                   {}

Safe by default: a request naming another host than the one it reached (DNS rebinding) is
refused; a control (POST) must send ``Content-Type: application/json`` and, when a browser
says where it comes from (``Origin``, ``Sec-Fetch-Site``), come from the page itself, so a
web page the user visits cannot drive the sandbox. Errors are JSON ``{"error": ...}`` with
a 4xx status, never a 500.
"""

from __future__ import annotations

import functools
import ipaddress
import json
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from ._admin import ledger_to_json
from ._control import SandboxControl
from ._specs import SpecError, fault_from_json, parse_duration

__all__ = ["CONTROL_KEY", "DASHBOARD_PATH", "add_dashboard_routes", "dashboard_middleware"]

DASHBOARD_PATH = "/_sandbox/"
CONTROL_KEY: web.AppKey[SandboxControl] = web.AppKey("control", SandboxControl)
_API = "/_sandbox/api"
_STATIC = {
    "dashboard.js": "text/javascript",
    "dashboard.css": "text/css",
    "favicon.svg": "image/svg+xml",
}
_PAGE_HEADERS = {
    # The page runs only its own script and talks only to its own origin; no framing.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_LOOPBACK_NAMES = frozenset({"localhost"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Refused(Exception):  # noqa: N818  an answer, like the state's Reject
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status


@functools.cache
def _asset(name: str) -> bytes:
    return (resources.files(__package__) / "dashboard" / name).read_bytes()


def _error(status: int, error: str) -> web.Response:
    return web.json_response({"error": error}, status=status, headers={"Cache-Control": "no-store"})


def _host_allowed(request: web.Request) -> bool:
    """Whether the Host names this machine's loopback or the address actually reached.

    A DNS-rebinding page reaches the sandbox under its own domain name: refused here.
    """
    host = request.url.host or ""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if address.is_loopback:
        return True
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    return isinstance(sockname, tuple) and str(sockname[0]) == str(address)


def _check(request: web.Request) -> None:
    if not _host_allowed(request):
        raise _Refused(403, "this sandbox answers only on its own address or localhost")
    if request.method in {"GET", "HEAD"} or not request.path.startswith(_API):
        return
    if request.content_type != "application/json":
        raise _Refused(415, "controls take a JSON body: send Content-Type: application/json")
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        raise _Refused(403, "cross-origin control requests are refused")
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in {"same-origin", "none"}:
        raise _Refused(403, "cross-site control requests are refused")


@web.middleware
async def dashboard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Guard every ``/_sandbox/`` path and answer its errors as JSON, never a 500."""
    if not request.path.startswith("/_sandbox"):
        return await handler(request)
    try:
        _check(request)
        return await handler(request)
    except _Refused as refused:
        return _error(refused.status, str(refused))
    except SpecError as exc:
        return _error(400, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith(_API):
            raise
        return _error(exc.status, exc.reason)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.read() or b"{}")
    except (ValueError, RecursionError):
        raise _Refused(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise _Refused(400, "the body must be a JSON object")
    return data


def _control(request: web.Request) -> SandboxControl:
    return request.app[CONTROL_KEY]


def _json(data: object) -> web.Response:
    return web.json_response(data, headers={"Cache-Control": "no-store"})


async def _page(_request: web.Request) -> web.Response:
    return web.Response(
        body=_asset("index.html"), content_type="text/html", charset="utf-8", headers=_PAGE_HEADERS
    )


async def _static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _STATIC:
        raise web.HTTPNotFound
    return web.Response(
        body=_asset(name), content_type=_STATIC[name], charset="utf-8", headers=_PAGE_HEADERS
    )


async def _state(request: web.Request) -> web.Response:
    return _json(_control(request).snapshot())


async def _requests(request: web.Request) -> web.Response:
    text = request.query.get("limit", "100")
    if not text.isdigit() or not 1 <= int(text) <= 200:
        raise _Refused(400, "limit must be a whole number from 1 to 200")
    return _json(_control(request).request_rows(int(text)))


async def _user(request: web.Request) -> web.Response:
    found = _control(request).user(request.match_info["user_id"])
    if found is None:
        raise _Refused(404, "no such user in this sandbox")
    return _json(found)


async def _ledger(request: web.Request) -> web.Response:
    ledger = _control(request).state.ledger
    user_id = request.query.get("user_id")
    if user_id is None:
        return _json(ledger_to_json(ledger))
    sold = ledger.sold_for(user_id)
    return _json(
        {
            "user_id": user_id,
            "sold": {item_id: str(amount) for item_id, amount in sold.items()},
            "amount_paid": str(ledger.paid_to(user_id)),
        }
    )


async def _advance(request: web.Request) -> web.Response:
    body = await _body(request)
    seconds = parse_duration(body.get("by"), what="by")
    return _json({"clock": _control(request).advance(seconds), "advanced_seconds": seconds})


async def _seed(request: web.Request) -> web.Response:
    body = await _body(request)
    items = _control(request).seed_items(body.get("user_id"), body.get("count", 1))
    return _json({"user_id": body["user_id"], "item_ids": items})


async def _add_fault(request: web.Request) -> web.Response:
    fault = fault_from_json(await _body(request))
    return _json(_control(request).add_fault(fault))


async def _clear_faults(request: web.Request) -> web.Response:
    await _body(request)
    _control(request).clear_faults()
    return _json({"faults": []})


async def _reset(request: web.Request) -> web.Response:
    await _body(request)
    control = _control(request)
    control.reset()
    return _json(control.snapshot())


async def _redirect(_request: web.Request) -> web.Response:
    raise web.HTTPFound(DASHBOARD_PATH)


async def _not_found(_request: web.Request) -> web.Response:
    raise _Refused(404, "no such control API endpoint; see GET /_sandbox/api/state")


def add_dashboard_routes(app: web.Application, control: SandboxControl) -> None:
    """Serve the page, its files and the control API for ``control``'s sandbox."""
    app[CONTROL_KEY] = control
    app.router.add_get("/_sandbox", _redirect)
    app.router.add_get(DASHBOARD_PATH, _page)
    app.router.add_get("/_sandbox/static/{name}", _static)
    for method, path, handler in (
        ("GET", "/state", _state),
        ("GET", "/requests", _requests),
        ("GET", "/users/{user_id}", _user),
        ("GET", "/ledger", _ledger),
        ("POST", "/advance", _advance),
        ("POST", "/seed", _seed),
        ("POST", "/faults", _add_fault),
        ("POST", "/faults/clear", _clear_faults),
        ("POST", "/reset", _reset),
    ):
        app.router.add_route(method, _API + path, handler)
    app.router.add_route("*", _API + "/{tail:.*}", _not_found)
