"""Retries per retry class, one overall deadline, and exactly-once money POSTs."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from support import ADDRESS, TOPPS, FakeTime

import phygitals_async as p
from phygitals_async._http._answers import parse_retry_after
from phygitals_async.testing import Fault, LocalSandbox

FAULTS: dict[str, Callable[[str], Fault]] = {
    "drop_before": lambda route: Fault.drop_before(route=route, count=1),
    "drop_after": lambda route: Fault.drop_after(route=route, count=1),
    "503": lambda route: Fault.status(503, route=route, count=1),
    "429": lambda route: Fault.status(
        429, route=route, count=1, retry_after=2, body={"error": "slow down"}
    ),
    "html_502": lambda route: Fault.html_error(502, route=route, count=1),
    "malformed_json": lambda route: Fault.malformed_json(route=route, count=1),
}

SAFE_RESULT = "ok"


@pytest.mark.parametrize("fault", FAULTS)
async def test_safe_get_recovers_from_every_fault(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, fake_time: FakeTime, fault: str
) -> None:
    """A GET is resent after any single fault and succeeds on the second attempt."""
    await client.buy(TOPPS, amount=1, user_id="u1")
    sandbox.faults.add(FAULTS[fault]("inventory"))
    inventory = await client.inventory("u1")
    assert len(inventory.items) == 1
    assert sandbox.ledger.requests["inventory"] == 2
    assert len(fake_time.sleeps) == 1  # the resend is the client's, after its backoff
    if fault == "429":
        assert fake_time.sleeps == [2.0]


@pytest.mark.parametrize("fault", FAULTS)
async def test_purchase_status_recovers_from_every_fault(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, fault: str
) -> None:
    """buy/status is a POST but safe to resend: every single fault is retried."""
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    sandbox.faults.add(FAULTS[fault]("vm/buy/status"))
    assert isinstance(await client.purchase_status(purchase.session_id), p.PurchaseResult)
    assert sandbox.ledger.requests["vm/buy/status"] == 2


BUY_OUTCOMES: dict[str, tuple[type[Exception], int]] = {
    "drop_before": (p.OutcomeUnknownError, 0),
    "drop_after": (p.OutcomeUnknownError, 1),
    "503": (p.ServerError, 0),
    "429": (p.RateLimitError, 0),
    "html_502": (p.ServerError, 0),
    "malformed_json": (p.ResponseValidationError, 1),
}


@pytest.mark.parametrize("fault", FAULTS)
async def test_buy_is_never_resent(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, fault: str
) -> None:
    """buy/init is sent once whatever happens; at most one purchase is executed."""
    sandbox.faults.add(FAULTS[fault]("vm/buy/init"))
    expected, purchases = BUY_OUTCOMES[fault]
    with pytest.raises(expected) as caught:
        await client.buy(TOPPS, amount=2, user_id="u1")
    assert sandbox.ledger.requests["vm/buy/init"] == 1
    assert sandbox.ledger.purchases == purchases
    if isinstance(caught.value, p.OutcomeUnknownError):
        assert caught.value.operation == "buy"
        assert caught.value.arguments == {"pack_id": TOPPS, "amount": 2, "user_id": "u1"}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("operation", ["ship_quote", "ship_request"])
async def test_shipping_posts_are_never_resent(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, fault: str, operation: str
) -> None:
    """ship/quote and ship/request are sent once whatever happens."""
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    quote = await client.ship_quote(purchase.nfts, destination=ADDRESS)
    route = operation.replace("_", "/")
    sandbox.faults.add(FAULTS[fault](route))
    before = sandbox.ledger.requests[route]
    call: Awaitable[object] = (
        client.ship_quote(purchase.nfts, destination=ADDRESS)
        if operation == "ship_quote"
        else client.ship_request(quote.quotes[0])
    )
    with pytest.raises(p.PhygitalsError):
        await call
    assert sandbox.ledger.requests[route] == before + 1
    assert sandbox.ledger.orders_created <= 1


SELLBACK_OUTCOMES: dict[str, tuple[type[Exception] | None, int, bool]] = {
    # fault: (error raised or None for success, requests made, item sold)
    "drop_before": (p.OutcomeUnknownError, 1, False),
    "drop_after": (p.OutcomeUnknownError, 1, True),
    "503": (p.ServerError, 1, False),
    "429": (None, 2, True),
    "html_502": (p.ServerError, 1, False),
    "malformed_json": (p.ResponseValidationError, 1, True),
}


@pytest.mark.parametrize("fault", FAULTS)
async def test_sellback_retries_only_429(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, fake_time: FakeTime, fault: str
) -> None:
    """Buyback is resent after 429 only; an ambiguous failure is OutcomeUnknownError."""
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    item = purchase.nfts[0]
    sandbox.faults.add(FAULTS[fault]("vm/buyback"))
    expected, requests, sold = SELLBACK_OUTCOMES[fault]
    if expected is None:
        sale = await client.sell_back(item)
        assert sale.amount == item.buyback_price
        assert fake_time.sleeps == [2.0]
    else:
        with pytest.raises(expected):
            await client.sell_back(item)
    assert sandbox.ledger.requests["vm/buyback"] == requests
    assert (item.id in sandbox.ledger.sold) is sold


async def test_concurrent_sellback_429_is_retried_to_one_sale(sandbox: LocalSandbox) -> None:
    """Production's "already being processed" 429 is retried; the item is sold once."""
    import asyncio  # noqa: PLC0415  only this test runs calls side by side

    sandbox.production.concurrent_sellback_429 = True
    sandbox.production.sellback_processing_time = 0.05

    class UntilTheFirstSale(FakeTime):
        async def sleep(self, seconds: float) -> None:
            # The backoff wait: resume once the sale in flight has completed.
            await super().sleep(seconds)
            while not sandbox.ledger.sold:  # noqa: ASYNC110  waits on sandbox state, not time
                await asyncio.sleep(0)

    async with sandbox.client() as client:
        UntilTheFirstSale().attach(client)
        purchase = await client.buy(TOPPS, amount=1, user_id="u1")
        item = purchase.nfts[0]
        results = await asyncio.gather(
            client.sell_back(item), client.sell_back(item), return_exceptions=True
        )
    sales = [r for r in results if isinstance(r, p.Sellback)]
    assert len(sales) == 1
    assert [type(r) for r in results if not isinstance(r, p.Sellback)] == [p.ItemNotFoundError]
    assert sandbox.ledger.sold == {item.id: item.buyback_price}
    assert sandbox.ledger.requests["vm/buyback"] == 3


async def test_connection_refused_is_retried_even_for_buy(fake_time: FakeTime) -> None:
    """Nothing listening: the request never left, so even buy/init is retried, then fails."""
    async with p.AsyncPhygitals(api_key="sandbox-a", base_url="http://127.0.0.1:9/_") as client:
        fake_time.attach(client)
        with pytest.raises(p.APIConnectionError) as caught:
            await client.buy(TOPPS, amount=1, user_id="u1")
    assert type(caught.value) is p.APIConnectionError
    assert len(fake_time.sleeps) == 2


async def test_max_retries_per_call(sandbox: LocalSandbox, client: p.AsyncPhygitals) -> None:
    """``max_retries=`` on a call bounds its attempts."""
    sandbox.faults.add(Fault.status(503, route="vm/available"))
    with pytest.raises(p.ServerError):
        await client.list_packs(max_retries=4)
    assert sandbox.ledger.requests["vm/available"] == 5
    with pytest.raises(p.ServerError):
        await client.list_packs(max_retries=0)
    assert sandbox.ledger.requests["vm/available"] == 6


@pytest.mark.parametrize(
    ("method", "retries", "sent"),
    [("GET", 0, 1), ("GET", 2, 3), ("PUT", 2, 1), ("DELETE", 2, 1), ("POST", 2, 1)],
)
async def test_a_dropped_connection_is_resent_by_the_client_alone(
    fake_time: FakeTime, method: str, retries: int, sent: int
) -> None:
    """Only the retry rules resend: aiohttp would resend a GET, PUT or DELETE by itself.

    A read is sent ``1 + max_retries`` times, a call marked never to be resent once.
    """
    seen: list[bytes] = []

    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            seen.append(await reader.readuntil(b"\r\n\r\n"))  # the request, never answered
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    server = await asyncio.start_server(drop, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with (
        server,
        p.AsyncPhygitals(
            api_key="sandbox-a", base_url=f"http://127.0.0.1:{port}/_", max_retries=retries
        ) as client,
    ):
        fake_time.attach(client)
        with pytest.raises(p.APIConnectionError) as caught:
            await client.request(method, "/api/v1/thing", json=None if method == "GET" else {})
    assert len(seen) == sent, seen
    assert all(line.startswith(method.encode()) for line in seen)
    assert isinstance(caught.value, p.OutcomeUnknownError) is (method != "GET")


@pytest.mark.parametrize(
    ("jitter", "waits"),
    [(1.0, [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]), (0.0, [0.25, 0.5, 1.0, 2.0, 2.0, 2.0])],
)
async def test_backoff_doubles_with_jitter_up_to_the_cap(
    sandbox: LocalSandbox, jitter: float, waits: list[float]
) -> None:
    """Backoff steps double from retry_backoff, capped, each in [step/2, step]."""
    sandbox.faults.add(Fault.status(503, route="vm/available"))
    async with sandbox.client(retry_backoff=0.5, retry_backoff_max=4.0, max_retries=6) as client:
        time = FakeTime(jitter=jitter).attach(client)
        with pytest.raises(p.ServerError):
            await client.list_packs()
    assert time.sleeps == waits


async def test_retry_after_beyond_the_deadline_fails_at_once(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, fake_time: FakeTime
) -> None:
    """A Retry-After longer than the time left raises the 429 now, without waiting."""
    sandbox.faults.add(
        Fault.status(429, route="vm/available", retry_after=30, count=1, body={"error": "busy"})
    )
    with pytest.raises(p.RateLimitError) as caught:
        await client.list_packs(timeout=10)
    assert caught.value.retry_after == 30
    assert fake_time.sleeps == []
    assert sandbox.ledger.requests["vm/available"] == 1


async def test_backoff_never_sleeps_past_the_deadline(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, fake_time: FakeTime
) -> None:
    """Every retry sleep fits inside the call's timeout; the last real error is raised."""
    sandbox.faults.add(Fault.status(503, route="vm/available"))
    with pytest.raises(p.ServerError):
        await client.list_packs(timeout=3, max_retries=50)
    assert sum(fake_time.sleeps) < 3
    assert sandbox.ledger.requests["vm/available"] == len(fake_time.sleeps) + 1


async def test_overall_deadline_holds_against_a_slow_failing_server(
    sandbox: LocalSandbox,
) -> None:
    """timeout=2 against a server answering 503 after 0.5 s ends within 2 s plus a margin."""
    sandbox.faults.add(Fault.latency(0.5, route="vm/available"))
    sandbox.faults.add(Fault.status(503, route="vm/available"))
    async with sandbox.client(retry_backoff=0.05, max_retries=100) as client:
        started = time.monotonic()
        with pytest.raises((p.ServerError, p.APITimeoutError)):
            await client.list_packs(timeout=2)
        elapsed = time.monotonic() - started
    assert elapsed < 2.4
    assert sandbox.ledger.requests["vm/available"] >= 3


async def test_slow_get_times_out_as_api_timeout(sandbox: LocalSandbox) -> None:
    """A GET slower than its deadline raises APITimeoutError (a TimeoutError)."""
    sandbox.faults.add(Fault.latency(1.0, route="vm/available"))
    async with sandbox.client() as client:
        with pytest.raises(TimeoutError) as caught:
            await client.list_packs(timeout=0.2)
    assert isinstance(caught.value, p.APITimeoutError)


async def test_slow_buy_past_the_deadline_is_outcome_unknown(sandbox: LocalSandbox) -> None:
    """A buy that timed out after sending is OutcomeUnknownError, never resent."""
    sandbox.faults.add(Fault.latency(0.6, route="vm/buy/init"))
    async with sandbox.client() as client:
        with pytest.raises(p.OutcomeUnknownError):
            await client.buy(TOPPS, amount=1, user_id="u1", timeout=0.2)
    assert sandbox.ledger.requests["vm/buy/init"] == 1


def test_retry_after_parses_seconds_and_http_dates() -> None:
    """Retry-After is read as delta-seconds or an HTTP date, never negative."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert (
        parse_retry_after(format_datetime(now + timedelta(seconds=12), usegmt=True), now=now)
        == 12.0
    )
    assert (
        parse_retry_after(format_datetime(now - timedelta(seconds=12), usegmt=True), now=now) == 0.0
    )
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_retry_after_that_is_not_a_delay_is_ignored() -> None:
    """Nan and inf parse as floats but are no delay: they are ignored like any junk."""
    assert parse_retry_after("nan") is None
    assert parse_retry_after("inf") is None
    assert parse_retry_after("1e999") is None


@pytest.mark.parametrize("status", [503, 429])
async def test_retry_after_is_honoured_on_503_and_429(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, fake_time: FakeTime, status: int
) -> None:
    """A SAFE call waits exactly the server's Retry-After (RFC 9110 sends it with 503 too)."""
    sandbox.faults.add(Fault.status(status, route="vm/available", retry_after=3, count=1))
    assert await client.list_packs()
    assert fake_time.sleeps == [3.0]


async def test_retry_after_on_503_is_honoured_for_buy_status(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, fake_time: FakeTime
) -> None:
    """buy/status may be resent, so its 503 waits the Retry-After too."""
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    sandbox.faults.add(Fault.status(503, route="vm/buy/status", retry_after=4, count=1))
    assert isinstance(await client.purchase_status(purchase.session_id), p.PurchaseResult)
    assert fake_time.sleeps == [4.0]


@pytest.mark.parametrize(("status", "expected"), [(503, p.ServerError), (429, p.RateLimitError)])
async def test_a_retry_after_beyond_max_retry_wait_fails_at_once(
    sandbox: LocalSandbox,
    client: p.AsyncPhygitals,
    fake_time: FakeTime,
    status: int,
    expected: type[p.APIStatusError],
) -> None:
    """Retry-After: 30 with the default max_retry_wait (10 s): raised now, carrying .retry_after."""
    sandbox.faults.add(Fault.status(status, route="vm/available", retry_after=30, count=1))
    with pytest.raises(expected) as caught:
        await client.list_packs()
    assert caught.value.retry_after == 30  # type: ignore[attr-defined]
    assert fake_time.sleeps == []
    assert sandbox.ledger.requests["vm/available"] == 1


async def test_max_retry_wait_is_a_client_option(
    sandbox: LocalSandbox, fake_time: FakeTime
) -> None:
    """Raising max_retry_wait lets a long Retry-After be waited, within the deadline."""
    sandbox.faults.add(Fault.status(503, route="vm/available", retry_after=30, count=1))
    async with sandbox.client(max_retry_wait=45) as client:
        fake_time.attach(client)
        assert await client.list_packs()
    assert fake_time.sleeps == [30.0]


async def test_max_retry_wait_also_caps_the_backoff(
    sandbox: LocalSandbox, fake_time: FakeTime
) -> None:
    """Without a Retry-After, no single backoff step waits longer than max_retry_wait."""
    sandbox.faults.add(Fault.status(503, route="vm/available", count=3))
    async with sandbox.client(
        max_retries=3, retry_backoff=20, retry_backoff_max=40, max_retry_wait=1.5
    ) as client:
        fake_time.attach(client)
        assert await client.list_packs()
    assert fake_time.sleeps == [1.5, 1.5, 1.5]


async def test_a_503_retry_after_on_buy_is_reported_not_waited(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, fake_time: FakeTime
) -> None:
    """buy/init is never resent: its 503 is raised at once, with the server's hint attached."""
    sandbox.faults.add(Fault.status(503, route="vm/buy/init", retry_after=2, count=1))
    with pytest.raises(p.ServerError) as caught:
        await client.buy(TOPPS, amount=1, user_id="u1")
    assert caught.value.retry_after == 2
    assert fake_time.sleeps == []
    assert sandbox.ledger.purchases == 0


def test_the_blocking_client_takes_max_retry_wait_too() -> None:
    """The generated facade keeps the option and its documented default of 10 seconds."""
    import inspect  # noqa: PLC0415  only this test reads signatures

    for cls in (p.AsyncPhygitals, p.Phygitals):
        assert inspect.signature(cls).parameters["max_retry_wait"].default == 10.0


async def test_a_retry_after_within_the_cap_but_past_the_deadline_fails_at_once(
    sandbox: LocalSandbox, fake_time: FakeTime
) -> None:
    """The one deadline still rules: a 503's 30 s Retry-After is not waited with 10 s left."""
    sandbox.faults.add(Fault.status(503, route="vm/available", retry_after=30, count=1))
    async with sandbox.client(max_retry_wait=60) as client:
        fake_time.attach(client)
        with pytest.raises(p.ServerError) as caught:
            await client.list_packs(timeout=10)
    assert caught.value.retry_after == 30
    assert fake_time.sleeps == []
