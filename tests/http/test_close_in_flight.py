"""Closing a client while its calls are in flight: money-moving POSTs are never "nothing happened".

A money POST (``buy``, ``sell_back``, ``ship_quote``, ``ship_request``) that may have reached
the server when the client closed raises :class:`OutcomeUnknownError` saying so; one that
provably never left raises :class:`ClientClosedError`; so does a GET. The blocking client
(``close()`` from another thread) and the async one (``aclose()`` in the same loop) agree.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support import ADDRESS, TOPPS, wait_until

import phygitals_async as p
from phygitals_async.testing import FakeTime, Fault, LocalSandbox

pytestmark = pytest.mark.timeout(30)

MONEY_CALLS = ["buy", "sell_back", "ship_quote", "ship_request"]
# The route each money call posts to, as the sandbox's ledger and faults name it.
ROUTES = {
    "buy": "vm/buy/init",
    "sell_back": "vm/buyback",
    "ship_quote": "ship/quote",
    "ship_request": "ship/request",
}
HOLD = 30.0  # seconds the server holds a request: far longer than any test runs


async def await_until(predicate: Callable[[], bool], what: str) -> None:
    """``wait_until`` for a sandbox in the test's own loop."""
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.002)


class Gate:
    """An aiohttp trace hook that holds every request at one point until released.

    ``reached`` (a thread event) is set when a request arrives there. It stands in for any
    point of a call the event loop has not got back to yet when the client closes.
    """

    def __init__(self, signal: str) -> None:
        self.config = aiohttp.TraceConfig()
        self.reached = threading.Event()
        self._open = asyncio.Event()
        getattr(self.config, signal).append(self._hold)

    async def _hold(self, *_: object) -> None:
        self.reached.set()
        await self._open.wait()

    def release(self) -> None:
        """Let held requests go on (call it in the client's loop)."""
        self._open.set()


class Signal:
    """An aiohttp trace hook that only tells a thread when a request gets to one point."""

    def __init__(self, signal: str) -> None:
        self.config = aiohttp.TraceConfig()
        self.reached = threading.Event()
        getattr(self.config, signal).append(self._tell)

    async def _tell(self, *_: object) -> None:
        self.reached.set()


class HeldBackoff(FakeTime):
    """Fake time whose wait before a resend lasts until the test lets it go (or for ever)."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()
        self._resume = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.waiting.set()
        await self._resume.wait()
        await super().sleep(seconds)

    def release(self) -> None:
        """Let the wait end (call it in the client's loop)."""
        self._resume.set()


def _expected_arguments(call: str, item_id: str, quote_id: str) -> dict[str, Any]:
    table: dict[str, dict[str, Any]] = {
        "buy": {"pack_id": TOPPS, "amount": 1, "user_id": "u1"},
        "sell_back": {"item_id": item_id},
        "ship_quote": {"item_ids": [item_id], "destination": ADDRESS},
        "ship_request": {"quote_id": quote_id},
    }
    return table[call]


def _assert_outcome_unknown(
    error: BaseException | None, call: str, arguments: dict[str, Any]
) -> None:
    assert isinstance(error, p.OutcomeUnknownError), repr(error)
    assert error.operation == call
    assert error.arguments == arguments
    assert "closed while" in str(error)
    assert "may have reached the server" in str(error)


@pytest.fixture(autouse=True)
def calls_end_before_the_loop_stops(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """No call's outcome is left to asyncio's shutdown, which would only log it."""
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        yield
    assert not [r.getMessage() for r in caplog.get_records("call") if r.name == "asyncio"]


# -- the blocking client: close() from another thread ----------------------------------


@pytest.fixture
def pool() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    with concurrent.futures.ThreadPoolExecutor(4) as executor:
        yield executor


def _prepare_blocking(
    client: p.Phygitals, sandbox: LocalSandbox, call: str
) -> tuple[Callable[[], object], dict[str, Any]]:
    """State for ``call``, and the call itself, which the server then holds for HOLD s."""
    item = client.buy(TOPPS, amount=1, user_id="u1").nfts[0]
    quote = client.ship_quote([item], destination=ADDRESS).cheapest
    if call == "sell_back":
        sandbox.state.production.sellback_processing_time = HOLD
    else:
        sandbox.faults.add(Fault.latency(HOLD, route=ROUTES[call], count=1))
    run: dict[str, Callable[[], object]] = {
        "buy": lambda: client.buy(TOPPS, amount=1, user_id="u1"),
        "sell_back": lambda: client.sell_back(item.id),
        "ship_quote": lambda: client.ship_quote([item.id], destination=ADDRESS),
        "ship_request": lambda: client.ship_request(quote.id),
    }
    return run[call], _expected_arguments(call, item.id, quote.id)


@pytest.mark.parametrize("call", MONEY_CALLS)
def test_blocking_close_while_the_server_holds_a_money_post_is_outcome_unknown(
    threaded: LocalSandbox, pool: concurrent.futures.ThreadPoolExecutor, call: str
) -> None:
    """close() from another thread once the server has the request: OutcomeUnknownError."""
    client = threaded.sync_client()
    run, arguments = _prepare_blocking(client, threaded, call)
    route = ROUTES[call]
    received = threaded.ledger.requests[route]
    future = pool.submit(run)
    wait_until(lambda: threaded.ledger.in_flight[route] == 1, "the server holds the request")
    assert threaded.ledger.requests[route] == received + 1
    client.close()
    _assert_outcome_unknown(future.exception(timeout=10), call, arguments)


def test_blocking_close_after_the_server_answered_a_purchase_is_outcome_unknown(
    threaded: LocalSandbox, pool: concurrent.futures.ThreadPoolExecutor
) -> None:
    """A purchase the server made, closed before its answer was read: never ClientClosedError."""
    gate = Gate("on_request_end")  # the answer's headers arrived; its body is not read yet
    client = threaded.sync_client(trace_configs=[gate.config])
    future = pool.submit(client.buy, TOPPS, amount=1, user_id="u1")
    assert gate.reached.wait(10)
    assert threaded.ledger.purchases == 1  # the user has been charged
    client.close()
    error = future.exception(timeout=10)
    arguments = {"pack_id": TOPPS, "amount": 1, "user_id": "u1"}
    _assert_outcome_unknown(error, "buy", arguments)


def test_blocking_close_while_a_money_post_waits_for_a_connection_is_client_closed(
    threaded: LocalSandbox, pool: concurrent.futures.ThreadPoolExecutor
) -> None:
    """A buy queued behind the connection limit never left: ClientClosedError."""
    threaded.faults.add(Fault.latency(HOLD, route="vm/available", count=1))
    queued = Signal("on_connection_queued_start")
    client = threaded.sync_client(max_connections=1, trace_configs=[queued.config])
    listing = pool.submit(client.list_packs)
    wait_until(lambda: threaded.ledger.in_flight["vm/available"] == 1, "the GET holds the pool")
    buying = pool.submit(client.buy, TOPPS, amount=1, user_id="u1")
    assert queued.reached.wait(10)
    client.close()
    assert isinstance(buying.exception(timeout=10), p.ClientClosedError)
    assert isinstance(listing.exception(timeout=10), p.ClientClosedError)
    assert threaded.ledger.requests["vm/buy/init"] == 0
    assert threaded.ledger.purchases == 0


def test_blocking_close_while_a_money_post_connects_is_client_closed(
    threaded: LocalSandbox, pool: concurrent.futures.ThreadPoolExecutor
) -> None:
    """A buy still opening its connection never left: ClientClosedError."""
    gate = Gate("on_connection_create_start")
    client = threaded.sync_client(trace_configs=[gate.config])
    future = pool.submit(client.buy, TOPPS, amount=1, user_id="u1")
    assert gate.reached.wait(10)
    client.close()
    error = future.exception(timeout=10)
    assert isinstance(error, p.ClientClosedError), repr(error)
    assert not isinstance(error, p.OutcomeUnknownError)
    assert threaded.ledger.requests["vm/buy/init"] == 0


def test_blocking_close_while_a_sellback_waits_to_retry_is_client_closed(
    threaded: LocalSandbox, pool: concurrent.futures.ThreadPoolExecutor
) -> None:
    """A sellback answered 429 and waiting to resend was refused, not sent: ClientClosedError."""
    client = threaded.sync_client()
    item = client.buy(TOPPS, amount=1, user_id="u1").nfts[0]
    backoff = HeldBackoff().attach(client)  # never released: close() has to end the wait
    threaded.faults.add(Fault.status(429, route="vm/buyback", count=1))
    future = pool.submit(client.sell_back, item.id)
    assert backoff.waiting.wait(10)
    client.close()
    assert isinstance(future.exception(timeout=10), p.ClientClosedError)
    assert threaded.ledger.requests["vm/buyback"] == 1
    assert threaded.ledger.sellback_executions == 0


def test_blocking_close_while_a_get_is_in_flight_is_client_closed(
    threaded: LocalSandbox, pool: concurrent.futures.ThreadPoolExecutor
) -> None:
    """A GET in flight at close() raises ClientClosedError: reading twice costs nothing."""
    threaded.faults.add(Fault.latency(HOLD, route="inventory", count=1))
    client = threaded.sync_client()
    future = pool.submit(client.inventory, "u1")
    wait_until(lambda: threaded.ledger.in_flight["inventory"] == 1, "the server holds the GET")
    client.close()
    error = future.exception(timeout=10)
    assert isinstance(error, p.ClientClosedError), repr(error)
    assert "closed while the call was in flight" in str(error)


# -- the async client: aclose() from another task of the same loop ---------------------


async def _prepare_async(
    client: p.AsyncPhygitals, sandbox: LocalSandbox, call: str
) -> tuple[Callable[[], Any], dict[str, Any]]:
    item = (await client.buy(TOPPS, amount=1, user_id="u1")).nfts[0]
    quote = (await client.ship_quote([item], destination=ADDRESS)).cheapest
    if call == "sell_back":
        sandbox.state.production.sellback_processing_time = HOLD
    else:
        sandbox.faults.add(Fault.latency(HOLD, route=ROUTES[call], count=1))
    run: dict[str, Callable[[], Any]] = {
        "buy": lambda: client.buy(TOPPS, amount=1, user_id="u1"),
        "sell_back": lambda: client.sell_back(item.id),
        "ship_quote": lambda: client.ship_quote([item.id], destination=ADDRESS),
        "ship_request": lambda: client.ship_request(quote.id),
    }
    return run[call], _expected_arguments(call, item.id, quote.id)


async def _outcome(task: asyncio.Task[Any]) -> BaseException:
    """What ended ``task``: its exception, or the CancelledError it ended with."""
    try:
        await asyncio.wait_for(task, 10)
    except BaseException as exc:  # noqa: BLE001  the test inspects whatever ends the call
        return exc
    pytest.fail("the call succeeded")


@pytest.mark.parametrize("call", MONEY_CALLS)
async def test_async_aclose_while_the_server_holds_a_money_post_is_outcome_unknown(
    sandbox: LocalSandbox, call: str
) -> None:
    """aclose() once the server has the request: the caller gets OutcomeUnknownError."""
    client = sandbox.client()
    run, arguments = await _prepare_async(client, sandbox, call)
    route = ROUTES[call]
    task = asyncio.create_task(run())
    await await_until(lambda: sandbox.ledger.in_flight[route] == 1, "the server holds it")
    await client.aclose()
    _assert_outcome_unknown(await _outcome(task), call, arguments)


async def test_async_aclose_while_a_money_post_waits_for_a_connection_is_client_closed(
    sandbox: LocalSandbox,
) -> None:
    """A buy queued behind the connection limit never left: ClientClosedError, not a cancel."""
    sandbox.faults.add(Fault.latency(HOLD, route="vm/available", count=1))
    queued = Signal("on_connection_queued_start")
    client = sandbox.client(max_connections=1, trace_configs=[queued.config])
    listing = asyncio.create_task(client.list_packs())
    await await_until(lambda: sandbox.ledger.in_flight["vm/available"] == 1, "the GET holds")
    buying = asyncio.create_task(client.buy(TOPPS, amount=1, user_id="u1"))
    await await_until(queued.reached.is_set, "the buy waits for a connection")
    await client.aclose()
    error = await _outcome(buying)
    assert isinstance(error, p.ClientClosedError), repr(error)
    assert isinstance(await _outcome(listing), p.ClientClosedError)
    assert sandbox.ledger.requests["vm/buy/init"] == 0


async def test_async_aclose_while_a_money_post_connects_is_client_closed(
    sandbox: LocalSandbox,
) -> None:
    """A buy still opening its connection when the client closes never left: ClientClosedError."""
    gate = Gate("on_connection_create_start")
    client = sandbox.client(trace_configs=[gate.config])
    task = asyncio.create_task(client.buy(TOPPS, amount=1, user_id="u1"))
    await await_until(gate.reached.is_set, "the buy is connecting")
    await client.aclose()
    gate.release()
    error = await _outcome(task)
    assert isinstance(error, p.ClientClosedError), repr(error)
    assert not isinstance(error, p.OutcomeUnknownError)
    assert sandbox.ledger.requests["vm/buy/init"] == 0


async def test_async_aclose_while_a_get_is_in_flight_is_client_closed(
    sandbox: LocalSandbox,
) -> None:
    """A GET in flight at aclose() raises ClientClosedError."""
    sandbox.faults.add(Fault.latency(HOLD, route="inventory", count=1))
    client = sandbox.client()
    task = asyncio.create_task(client.inventory("u1"))
    await await_until(lambda: sandbox.ledger.in_flight["inventory"] == 1, "the server holds it")
    await client.aclose()
    error = await _outcome(task)
    assert isinstance(error, p.ClientClosedError), repr(error)


async def test_async_aclose_while_a_sellback_waits_to_retry_is_client_closed(
    sandbox: LocalSandbox,
) -> None:
    """A sellback answered 429 and waiting to resend is not resent after aclose()."""
    client = sandbox.client()
    item = (await client.buy(TOPPS, amount=1, user_id="u1")).nfts[0]
    backoff = HeldBackoff().attach(client)
    sandbox.faults.add(Fault.status(429, route="vm/buyback", count=1))
    task = asyncio.create_task(client.sell_back(item.id))
    await await_until(backoff.waiting.is_set, "the sellback waits to be resent")
    await client.aclose()
    backoff.release()
    assert isinstance(await _outcome(task), p.ClientClosedError)
    assert sandbox.ledger.requests["vm/buyback"] == 1
    assert sandbox.ledger.sellback_executions == 0


@pytest.mark.parametrize("call", ["list_packs", "sell_back"])
async def test_async_aclose_ends_a_call_whose_body_is_still_arriving(call: str) -> None:
    """Headers in, body trickling: aclose() ends the call at once, not at its deadline."""
    trickling, ended = asyncio.Event(), asyncio.Event()

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        writer.write(b"Content-Length: 1000\r\n\r\n[")
        await writer.drain()
        trickling.set()
        with contextlib.suppress(ConnectionError):
            while not reader.at_eof():  # until the client hangs up
                await asyncio.sleep(0.05)
                writer.write(b" ")
                await writer.drain()
        writer.close()
        ended.set()

    server = await asyncio.start_server(trickle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        client = p.AsyncPhygitals(api_key="sandbox-a", base_url=f"http://127.0.0.1:{port}/_")
        run = client.list_packs if call == "list_packs" else partial(client.sell_back, "i1")
        task = asyncio.create_task(run(timeout=HOLD))
        await asyncio.wait_for(trickling.wait(), 10)
        await client.aclose()
        started = time.monotonic()
        error = await _outcome(task)
        assert time.monotonic() - started < 2
        await asyncio.wait_for(ended.wait(), 10)  # the connection is gone too
    expected = p.OutcomeUnknownError if call == "sell_back" else p.ClientClosedError
    assert isinstance(error, expected), repr(error)


@pytest.mark.parametrize("journal", [False, True])
def test_blocking_close_during_a_bulk_run_returns_its_report(
    threaded: LocalSandbox,
    pool: concurrent.futures.ThreadPoolExecutor,
    tmp_path: Path,
    journal: bool,
) -> None:
    """close() while sell_back_many has sales in flight: the run reports every item."""
    client = threaded.sync_client()
    items = client.buy(TOPPS, amount=10, user_id="u1").nfts
    threaded.state.production.sellback_processing_time = HOLD
    where = str(tmp_path / "job.db") if journal else None
    future = pool.submit(client.sell_back_many, items, concurrency=4, journal=where)
    wait_until(lambda: threaded.ledger.in_flight["vm/buyback"] == 4, "the server holds 4")
    started = time.monotonic()
    client.close()
    report = future.result(timeout=10)
    assert time.monotonic() - started < 5
    assert report.succeeded == ()
    assert len(report.unknown) + len(report.unconfirmed) == 4  # in flight: may have sold
    assert report.remaining == 6  # never sent: left for a rerun
    if journal:  # and the journal is free for it
        with threaded.sync_client() as again:
            threaded.state.production.sellback_processing_time = 0
            rerun = again.sell_back_many(journal=where, user_id="u1")
        assert len(rerun.succeeded) + len(rerun.unconfirmed) == 10
