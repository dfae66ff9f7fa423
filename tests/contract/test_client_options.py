"""Constructor extras (own session, trace configs, headers, User-Agent) and per-call options."""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from support import TOPPS, Recorder
from support.fork import in_child

import phygitals_async as p
from phygitals_async.testing import Fault, LocalSandbox


class Counting:
    """An aiohttp TraceConfig that counts requests and new connections."""

    def __init__(self) -> None:
        self.requests = 0
        self.connections = 0
        self.config = aiohttp.TraceConfig()
        self.config.on_request_start.append(self._request)
        self.config.on_connection_create_end.append(self._connection)

    async def _request(self, *_: Any) -> None:
        self.requests += 1

    async def _connection(self, *_: Any) -> None:
        self.connections += 1


@pytest_asyncio.fixture
async def own_session() -> AsyncIterator[tuple[aiohttp.ClientSession, Counting]]:
    counting = Counting()
    async with aiohttp.ClientSession(
        trace_configs=[counting.config], headers={"X-Owner": "caller"}
    ) as session:
        yield session, counting


# -- http_session=, trace_configs= -----------------------------------------------------


async def test_requests_go_through_a_caller_owned_session(
    sandbox: LocalSandbox, own_session: tuple[aiohttp.ClientSession, Counting]
) -> None:
    """With http_session=, every request uses it, and closing the client leaves it open."""
    session, counting = own_session
    async with sandbox.client(http_session=session) as client:
        await client.buy(TOPPS, amount=1, user_id="u1")
        assert len((await client.inventory("u1")).items) == 1
    assert counting.requests == 2
    assert not session.closed
    async with session.get(sandbox.root_url + "/_/api/v1/vm/available") as response:
        assert response.status == 401  # the session is still usable, and keyless
    with pytest.raises(p.ClientClosedError):
        await client.list_packs()


async def test_a_closed_caller_session_is_a_clear_error(sandbox: LocalSandbox) -> None:
    """Once its owner closes the session, calls raise ClientClosedError, not aiohttp's error."""
    session = aiohttp.ClientSession()
    client = sandbox.client(http_session=session)
    await client.list_packs()
    await session.close()
    with pytest.raises(p.ClientClosedError, match="http_session"):
        await client.list_packs()
    await client.aclose()


async def test_caller_session_gets_the_key_and_headers_per_request(
    recorder: Recorder, own_session: tuple[aiohttp.ClientSession, Counting]
) -> None:
    """The key, User-Agent and default headers travel with each request on a caller session."""
    session, _ = own_session
    recorder.add("GET", "/_/api/v1/vm/available", json_body=[])
    recorder.add("POST", "/_/api/v1/vm/buy/status", json_body={"status": "pending"})
    async with p.AsyncPhygitals(
        "sandbox-k",
        base_url=recorder.url + "/_",
        http_session=session,
        default_headers={"X-Tenant": "t1"},
    ) as client:
        await client.list_packs()
        await client.purchase_status("s1")
    for seen in recorder.requests:
        assert seen.headers["X-API-Key"] == "sandbox-k"
        assert seen.headers["X-Tenant"] == "t1"
        assert seen.headers["X-Owner"] == "caller"
        assert seen.headers["User-Agent"].startswith("phygitals-async/")
    assert recorder.requests[1].headers["Content-Type"] == "application/json"


async def test_a_body_is_sent_as_json_whatever_the_default_headers_say(
    recorder: Recorder,
) -> None:
    """A Content-Type among the default headers never relabels the JSON body of a POST."""
    for _ in range(2):
        recorder.add("POST", "/_/api/v1/vm/buyback", json_body={"success": True, "amount": "1"})
    for headers in ({}, {"Content-Type": "text/plain"}):
        async with p.AsyncPhygitals(
            "sandbox-k", base_url=recorder.url + "/_", default_headers=headers
        ) as client:
            await client.sell_back("item-1")
    assert [r.headers["Content-Type"] for r in recorder.requests] == ["application/json"] * 2
    assert all(r.json == {"item_id": "item-1"} for r in recorder.requests)


async def test_the_blocking_client_refuses_a_caller_session(
    own_session: tuple[aiohttp.ClientSession, Counting],
) -> None:
    """Phygitals runs its own loop, so a session from the caller's loop is refused at once."""
    with pytest.raises(p.ConfigurationError, match="http_session"):
        p.Phygitals("sandbox-k", http_session=own_session[0])
    client = p.AsyncPhygitals("sandbox-k", http_session=own_session[0])
    assert client.http_session is own_session[0]


def test_blocking_client_with_trace_configs_and_headers(threaded: LocalSandbox) -> None:
    """trace_configs= and default_headers= work on the blocking client's own session."""
    counting = Counting()
    with threaded.sync_client(
        trace_configs=[counting.config], default_headers={"X-Tenant": "t1"}
    ) as client:
        client.list_packs()
        client.with_options(timeout=5).list_packs()
    assert counting.requests == 2
    assert counting.connections == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_never_reuses_the_parents_session(threaded: LocalSandbox) -> None:
    """In a forked child, a client given the parent's session says so instead of using it."""
    loop = asyncio.new_event_loop()

    async def in_parent() -> tuple[p.AsyncPhygitals, aiohttp.ClientSession]:
        session = aiohttp.ClientSession()
        client = p.AsyncPhygitals("sandbox-k", base_url=threaded.url, http_session=session)
        await client.list_packs()
        return client, session

    client, session = loop.run_until_complete(in_parent())

    def child() -> str:
        try:
            asyncio.run(client.list_packs())
        except p.ConfigurationError as exc:
            return str(exc)
        return "the parent's session was used"

    try:
        assert "http_session in the parent process" in in_child(child)
        assert loop.run_until_complete(client.list_packs())  # the parent is unaffected
    finally:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(session.close())
        loop.close()


def test_a_session_from_another_loop_is_a_clear_error(threaded: LocalSandbox) -> None:
    """A session made in one event loop and used from another is a ConfigurationError."""
    loop = asyncio.new_event_loop()

    async def make() -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    session = loop.run_until_complete(make())
    client = p.AsyncPhygitals("sandbox-k", base_url=threaded.url, http_session=session)
    try:
        with pytest.raises(p.ConfigurationError, match="another event loop"):
            asyncio.run(client.list_packs())
    finally:
        loop.run_until_complete(session.close())
        loop.close()


async def test_trace_configs_see_every_request(sandbox: LocalSandbox) -> None:
    """trace_configs= hooks run for the client's own session."""
    counting = Counting()
    async with sandbox.client(trace_configs=[counting.config]) as client:
        await client.list_packs()
        await client.recent_pulls(limit=2)
    assert counting.requests == 2


async def test_session_options_are_checked_before_any_request(
    own_session: tuple[aiohttp.ClientSession, Counting],
) -> None:
    """A non-session http_session, or trace configs beside one, is a ConfigurationError."""
    with pytest.raises(p.ConfigurationError, match=r"aiohttp\.ClientSession"):
        p.AsyncPhygitals("sandbox-k", http_session=object())  # type: ignore[arg-type]
    with pytest.raises(p.ConfigurationError, match="trace_configs"):
        p.AsyncPhygitals(
            "sandbox-k", http_session=own_session[0], trace_configs=[aiohttp.TraceConfig()]
        )


# -- default_headers=, app_name= / app_version= --------------------------------------


async def test_default_headers_and_app_info_reach_the_server(recorder: Recorder) -> None:
    """Default headers go with every request; the app name/version end the User-Agent."""
    recorder.add("GET", "/_/api/v1/vm/available", json_body=[])
    async with p.AsyncPhygitals(
        "sandbox-k",
        base_url=recorder.url + "/_",
        default_headers={"X-Tenant": "t1", "X-Trace": "abc"},
        app_name="myapp",
        app_version="1.2",
    ) as client:
        await client.list_packs()
    headers = recorder.only().headers
    assert headers["X-Tenant"] == "t1"
    assert headers["X-Trace"] == "abc"
    assert headers["User-Agent"] == f"phygitals-async/{p.__version__} myapp/1.2"


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"default_headers": {"X-API-Key": "other"}}, r"api_key="),
        ({"default_headers": {"user-agent": "me"}}, "app_name"),
        ({"default_headers": {"X-Evil": "a\r\nX-API-Key: b"}}, "printable"),
        ({"default_headers": {"X-Name": "Zoë"}}, "ASCII"),
        ({"default_headers": {"Bad Name": "x"}}, "header name"),
        ({"default_headers": {"X-Num": 1}}, "printable"),
        ({"default_headers": ["X-A"]}, "mapping"),
        ({"app_version": "1.2"}, "app_name"),
        ({"app_name": "my app"}, "token"),
        ({"app_name": "myapp", "app_version": "1.2/x"}, "token"),
    ],
)
def test_bad_headers_and_app_info_are_refused(options: dict[str, Any], match: str) -> None:
    """Headers the client owns, header injection and malformed product tokens are refused."""
    with pytest.raises(p.ConfigurationError, match=match):
        p.AsyncPhygitals("sandbox-k", **options)


# -- with_options, per-call timeout= ---------------------------------------------------


async def test_with_options_views_share_one_connection_pool(sandbox: LocalSandbox) -> None:
    """Calls through a view reuse the client's connection: one pool, one session."""
    counting = Counting()
    async with sandbox.client(trace_configs=[counting.config]) as client:
        fast = client.with_options(timeout=5, max_retries=0)
        await client.list_packs()
        await fast.list_packs()
        await fast.with_options(timeout=2).list_packs()
    assert counting.requests == 3
    assert counting.connections == 1


async def test_view_max_retries_applies_only_to_the_view(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """A view with max_retries=0 gives up at the first 503; the client still retries."""
    sandbox.faults.add(Fault.status(503, route="vm/available", count=2))
    with pytest.raises(p.ServerError):
        await client.with_options(max_retries=0).list_packs()
    assert sandbox.ledger.requests["vm/available"] == 1
    assert await client.list_packs()
    assert sandbox.ledger.requests["vm/available"] == 3


async def test_view_timeout_bounds_its_calls(sandbox: LocalSandbox) -> None:
    """A view's timeout is the deadline of its calls; the client keeps its own."""
    async with sandbox.client(max_retries=0) as client:
        sandbox.faults.add(Fault.latency(0.3, route="vm/available", count=1))
        with pytest.raises(p.APITimeoutError):
            await client.with_options(timeout=0.05).list_packs()
        sandbox.faults.add(Fault.latency(0.05, route="vm/available", count=1))
        assert await client.list_packs()


async def test_per_call_timeout_beats_the_view(sandbox: LocalSandbox) -> None:
    """timeout= on one call overrides the view's default for that call."""
    async with sandbox.client(max_retries=0) as client:
        view = client.with_options(timeout=30)
        sandbox.faults.add(Fault.latency(0.3, route="inventory", count=1))
        with pytest.raises(p.APITimeoutError):
            await view.inventory("u1", timeout=0.05)


async def test_closing_a_view_closes_nothing(sandbox: LocalSandbox) -> None:
    """aclose() on a view is a no-op; closing the client closes every view."""
    client = sandbox.client()
    view = client.with_options(timeout=5)
    async with view:
        await view.list_packs()
    assert await client.list_packs()
    await client.aclose()
    with pytest.raises(p.ClientClosedError):
        await view.list_packs()


def test_with_options_checks_its_arguments() -> None:
    """A non-positive timeout or a negative max_retries is refused at once."""
    client = p.AsyncPhygitals("sandbox-k")
    with pytest.raises(p.ConfigurationError):
        client.with_options(timeout=0)
    with pytest.raises(p.ConfigurationError):
        client.with_options(timeout=True)
    with pytest.raises(p.InvalidRequestError):
        client.with_options(max_retries=-1)


def _request_methods(cls: type) -> dict[str, inspect.Signature]:
    skip = {"aclose", "close", "with_options", "with_raw_response"}
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_") and name not in skip
    }


@pytest.mark.parametrize("cls", [p.AsyncPhygitals, p.Phygitals])
def test_every_method_takes_a_timeout(cls: type) -> None:
    """Every request method of both clients accepts timeout= for that call."""
    methods = _request_methods(cls)
    assert len(methods) >= 16
    for name, signature in methods.items():
        assert "timeout" in signature.parameters, name


def test_blocking_with_options(threaded: LocalSandbox) -> None:
    """The blocking client's view shares its loop thread; closing the view closes nothing."""
    with threaded.sync_client() as client:
        view = client.with_options(max_retries=0, timeout=5)
        threaded.faults.add(Fault.status(503, route="vm/available", count=1))
        with pytest.raises(p.ServerError):
            view.list_packs()
        view.close()
        assert client.list_packs()
        assert repr(view) == repr(client)


async def test_sell_back_many_timeout_bounds_each_request(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """sell_back_many(timeout=) cuts a slow sellback short; reconciliation then settles it."""
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    item = purchase.nfts[0] if purchase.nfts else (await client.inventory("u1")).items[0]
    sandbox.faults.add(Fault.latency(0.3, route="vm/buyback", count=1))
    report = await client.sell_back_many([item], user_id="u1", timeout=0.05)
    assert report.ok
    assert [s.item_id for s in report.succeeded] == [item.id]
    # The first, slow attempt was abandoned at the deadline: a second one sold the item.
    assert sandbox.ledger.requests["vm/buyback"] == 2
    assert sandbox.ledger.amount_paid == item.buyback_price


async def test_iter_sell_back_timeout_bounds_each_request(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """iter_sell_back(timeout=) bounds each request the same way."""
    item = (await client.buy(TOPPS, amount=1, user_id="u1")).nfts[0]
    sandbox.faults.add(Fault.latency(0.3, route="vm/buyback", count=1))
    outcomes = [o async for o in client.iter_sell_back([item], user_id="u1", timeout=0.05)]
    assert [type(o) for o in outcomes] == [p.Sellback]
    assert sandbox.ledger.requests["vm/buyback"] == 2
