"""The local sandbox server itself: hostile input gets the documented 400, never a 500."""

from __future__ import annotations

import gc
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from support import ADDRESS, TOPPS

from phygitals_async.testing import Fault, LocalSandbox

KEY = {"X-API-Key": "sandbox-raw"}


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers=KEY) as session:
        yield session


async def post(
    http: aiohttp.ClientSession, sandbox: LocalSandbox, path: str, body: Any
) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with http.post(sandbox.url + "/api/v1" + path, data=data) as response:
        return response.status, await response.json(content_type=None)


async def buy_one(http: aiohttp.ClientSession, sandbox: LocalSandbox) -> str:
    status, body = await post(
        http, sandbox, "/vm/buy/init", {"id": TOPPS, "amount": 1, "user_id": "u"}
    )
    assert status == 200
    item_id: str = body["nfts"][0]["id"]
    return item_id


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json at all", "user_id is required"),
        (b"[1, 2, 3]", "user_id is required"),
        ({}, "user_id is required"),
        ({"id": TOPPS, "amount": 1, "user_id": 7}, "user_id is required"),
        ({"id": TOPPS, "amount": 1, "user_id": ""}, "user_id is required"),
        ({"id": ["x"], "amount": 1, "user_id": "u"}, "VM not found"),
        ({"amount": 1, "user_id": "u"}, "VM not found"),
        ({"id": TOPPS, "user_id": "u"}, "Amount must be greater than 0"),
        ({"id": TOPPS, "amount": "2", "user_id": "u"}, "Amount must be greater than 0"),
        ({"id": TOPPS, "amount": True, "user_id": "u"}, "Amount must be greater than 0"),
        ({"id": TOPPS, "amount": -3, "user_id": "u"}, "Amount must be greater than 0"),
        ({"id": TOPPS, "amount": 0, "user_id": "u"}, "Amount must be greater than 0"),
        ({"id": TOPPS, "amount": 1.5, "user_id": "u"}, "Amount must be greater than 0"),
        (
            {"id": TOPPS, "amount": 10**400, "user_id": "u"},
            "Amount must be less than or equal to 10",
        ),
        ({"id": TOPPS, "amount": 1e308, "user_id": "u"}, "Amount must be less than or equal to 10"),
    ],
)
async def test_buy_init_hostile_bodies(
    sandbox: LocalSandbox, http: aiohttp.ClientSession, body: Any, error: str
) -> None:
    """buy/init answers the documented 400 for every malformed body and buys nothing."""
    status, answer = await post(http, sandbox, "/vm/buy/init", body)
    assert (status, answer) == (400, {"error": error})
    assert sandbox.ledger.purchases == 0


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("/vm/buy/status", b"{", 400, "Transaction failed"),
        ("/vm/buy/status", {"session_id": 12}, 400, "Transaction failed"),
        ("/vm/buyback", b"", 400, "Item not found"),
        ("/vm/buyback", {"item_id": None}, 400, "Item not found"),
        ("/vm/buyback", {"item_id": {"$ne": 1}}, 400, "Item not found"),
        ("/ship/quote", {"item_ids": "abc", "destination": ADDRESS}, 400, "item_ids is required"),
        ("/ship/quote", {"item_ids": [], "destination": ADDRESS}, 400, "item_ids is required"),
        ("/ship/quote", {"item_ids": [1], "destination": ADDRESS}, 400, "item_ids is required"),
        (
            "/ship/quote",
            {"item_ids": ["x"], "destination": "US"},
            400,
            "Invalid destination address",
        ),
        (
            "/ship/quote",
            {"item_ids": ["x"], "destination": ADDRESS | {"country": "USA"}},
            422,
            "Country not supported",
        ),
        (
            "/ship/quote",
            {"item_ids": ["x"], "destination": ADDRESS | {"country": 1}},
            422,
            "Country not supported",
        ),
        ("/ship/quote", {"item_ids": ["x"], "destination": ADDRESS}, 400, "Item not found"),
        ("/ship/request", b"null", 400, "quote_id is required"),
        ("/ship/request", {"quote_id": 5}, 400, "quote_id is required"),
        ("/ship/request", {"quote_id": "nonsense"}, 400, "quote_id is required"),
        ("/ship/request", {"quote_id": "quote_X_rate_standard"}, 400, "Quote expired"),
    ],
)
async def test_post_routes_hostile_bodies(
    sandbox: LocalSandbox,
    http: aiohttp.ClientSession,
    path: str,
    body: Any,
    status: int,
    error: str,
) -> None:
    """Every POST route answers its documented status and error string for malformed input."""
    answer_status, answer = await post(http, sandbox, path, body)
    assert (answer_status, answer["error"]) == (status, error)


@pytest.mark.parametrize("path", ["/inventory/", "/card/", "/ship/order/"])
async def test_missing_path_parameter_is_the_default_404(
    sandbox: LocalSandbox, http: aiohttp.ClientSession, path: str
) -> None:
    """A route without its path parameter does not match: the server's plain 404."""
    async with http.get(sandbox.url + "/api/v1" + path) as response:
        assert response.status == 404
        assert "error" not in await response.text()


@pytest.mark.parametrize(
    "headers", [{}, {"X-API-Key": ""}, {"X-API-Key": "sandbox-"}, {"X-API-Key": "prod-key"}]
)
async def test_missing_or_unknown_key_is_401(
    sandbox: LocalSandbox, headers: dict[str, str]
) -> None:
    """No key, an empty key or an unknown key: 401 "Invalid API key"."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(sandbox.url + "/api/v1/vm/available", headers=headers) as response,
    ):
        assert response.status == 401
        assert await response.json() == {"error": "Invalid API key"}


async def test_both_prefixes_serve_the_same_state(
    sandbox: LocalSandbox, http: aiohttp.ClientSession
) -> None:
    """/api/v1 and /_/api/v1 are the same sandbox."""
    await buy_one(http, sandbox)
    for prefix in (sandbox.root_url, sandbox.url):
        async with http.get(prefix + "/api/v1/inventory/u") as response:
            assert len((await response.json())["items"]) == 1


async def test_recent_pulls_bad_limit_never_errors(
    sandbox: LocalSandbox, http: aiohttp.ClientSession
) -> None:
    """A non-numeric limit falls back to 20; huge limits clamp to 100."""
    async with http.get(sandbox.url + "/api/v1/vm/recent-pulls?limit=lots") as response:
        assert response.status == 200
        assert len(await response.json()) == 12
    async with http.get(sandbox.url + "/api/v1/vm/recent-pulls?limit=-5") as response:
        assert len(await response.json()) == 1


async def test_concurrent_sellback_gets_429_when_switched_on(
    sandbox: LocalSandbox, http: aiohttp.ClientSession
) -> None:
    """With the production 429 on, a second sellback of an item in flight is refused."""
    import asyncio  # noqa: PLC0415  only this test runs requests side by side

    item_id = await buy_one(http, sandbox)
    sandbox.production.concurrent_sellback_429 = True
    sandbox.production.sellback_processing_time = 0.2
    sandbox.production.retry_after = 1
    first, second = await asyncio.gather(
        post(http, sandbox, "/vm/buyback", {"item_id": item_id}),
        post(http, sandbox, "/vm/buyback", {"item_id": item_id}),
    )
    answers = sorted([first, second], key=lambda a: a[0])
    assert answers[0][0] == 200
    assert answers[1] == (
        429,
        {"error": "A buyback request for this item is already being processed"},
    )
    assert len(sandbox.ledger.sold) == 1


async def test_faults_fire_by_count_and_route(
    sandbox: LocalSandbox, http: aiohttp.ClientSession
) -> None:
    """A counted fault acts on that many matching requests, then stops."""
    rule = sandbox.faults.add(Fault.status(503, route="vm/available", count=2))
    statuses = []
    for _ in range(3):
        async with http.get(sandbox.url + "/api/v1/vm/available") as response:
            statuses.append(response.status)
    async with http.get(sandbox.url + "/api/v1/vm/recent-pulls") as response:
        statuses.append(response.status)
    assert statuses == [503, 503, 200, 200]
    assert rule.fired == 2


async def test_drop_after_processes_the_request(
    sandbox: LocalSandbox, http: aiohttp.ClientSession
) -> None:
    """drop_after executes the purchase and then closes the connection unanswered."""
    sandbox.faults.add(Fault.drop_after(route="vm/buy/init", count=1))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post(http, sandbox, "/vm/buy/init", {"id": TOPPS, "amount": 1, "user_id": "u"})
    assert sandbox.ledger.purchases == 1


async def test_drop_before_does_not_process(
    sandbox: LocalSandbox, http: aiohttp.ClientSession
) -> None:
    """drop_before closes the connection without executing anything."""
    sandbox.faults.add(Fault.drop_before(route="vm/buy/init", count=1))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post(http, sandbox, "/vm/buy/init", {"id": TOPPS, "amount": 1, "user_id": "u"})
    assert sandbox.ledger.purchases == 0


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/vm/buy/init", "user_id is required"),
        ("/vm/buy/status", "Transaction failed"),
        ("/vm/buyback", "Item not found"),
        ("/ship/quote", "item_ids is required"),
        ("/ship/request", "quote_id is required"),
    ],
)
@pytest.mark.parametrize("depth", [1_000, 100_000])
async def test_deeply_nested_bodies_are_a_400_like_any_malformed_body(
    sandbox: LocalSandbox, http: aiohttp.ClientSession, path: str, error: str, depth: int
) -> None:
    """A body nested past the parser's limit gets the route's documented 400, never a 500."""
    for body in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        answer_status, answer = await post(http, sandbox, path, body)
        assert (answer_status, answer["error"]) == (400, error)


async def test_a_busy_port_fails_start_and_leaves_nothing_open(sandbox: LocalSandbox) -> None:
    """Binding a port in use raises OSError; the socket and runner are closed, not leaked."""
    second = LocalSandbox(port=sandbox.port)
    with pytest.raises(OSError, match="in use"):
        await second.start()
    gc.collect()  # an unclosed socket would warn here, and warnings are errors
    assert second.port == sandbox.port
    with pytest.raises(RuntimeError, match="not running"):
        _ = second.url
    async with (
        aiohttp.ClientSession(headers=KEY) as http,
        http.get(sandbox.url + "/api/v1/vm/available") as response,
    ):
        assert response.status == 200  # the first sandbox is untouched
