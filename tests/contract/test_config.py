"""Configuration, bad input before any request, path encoding, and key redaction."""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from support import TOPPS, Recorder

import phygitals_async as p
from phygitals_async.testing import Fault, LocalSandbox

SECRET = "sandbox-s3cr3t-key-value"  # noqa: S105  a fake key whose leaks the tests hunt for


def test_missing_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """No api_key and no $PHYGITALS_API_KEY fails at construction."""
    monkeypatch.delenv("PHYGITALS_API_KEY", raising=False)
    with pytest.raises(p.ConfigurationError, match="PHYGITALS_API_KEY"):
        p.AsyncPhygitals()


def test_key_from_environment_selects_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sandbox- key from the environment selects the sandbox base URL."""
    monkeypatch.setenv("PHYGITALS_API_KEY", "sandbox-abc")
    monkeypatch.delenv("PHYGITALS_BASE_URL", raising=False)
    assert p.AsyncPhygitals().base_url == "https://api.phygitals.com/_"


def test_production_key_selects_production(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any other key selects production."""
    monkeypatch.delenv("PHYGITALS_BASE_URL", raising=False)
    client = p.AsyncPhygitals(api_key="pk_live_123")
    assert client.base_url == "https://api.phygitals.com"
    assert not client.is_sandbox


@pytest.mark.parametrize(
    ("key", "url"),
    [
        ("sandbox-abc", "https://api.phygitals.com"),
        ("sandbox-abc", "https://api.phygitals.com/"),
        ("pk_live_123", "https://api.phygitals.com/_"),
        ("pk_live_123", "https://api.phygitals.com/_/"),
    ],
)
def test_key_and_url_of_different_environments_are_refused(key: str, url: str) -> None:
    """A sandbox key against production, or the reverse, fails before any request."""
    with pytest.raises(p.ConfigurationError):
        p.AsyncPhygitals(api_key=key, base_url=url)


@pytest.mark.parametrize("url", ["ftp://x", "not a url", "http://"])
def test_bad_base_url_is_refused(url: str) -> None:
    """A base URL that is not http(s) with a host is a configuration error."""
    with pytest.raises(p.ConfigurationError):
        p.AsyncPhygitals(api_key="sandbox-a", base_url=url)


@pytest.mark.parametrize("key", ["sandbox-a b", "sandbox-a\nX-Evil: 1", ""])
def test_key_with_whitespace_or_empty_is_refused(key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys that would corrupt the header (or are empty) are refused."""
    monkeypatch.delenv("PHYGITALS_API_KEY", raising=False)
    with pytest.raises(p.ConfigurationError):
        p.AsyncPhygitals(api_key=key)


@pytest.mark.parametrize(
    "options", [{"timeout": 0}, {"timeout": -1}, {"max_retries": -1}, {"max_connections": 0}]
)
def test_bad_options_are_refused(options: dict[str, Any]) -> None:
    """Non-positive deadlines and negative retry counts fail at construction."""
    with pytest.raises(p.ConfigurationError):
        p.AsyncPhygitals(api_key="sandbox-a", **options)


def test_repr_hides_the_key() -> None:
    """repr() and str() of the client never show the key."""
    client = p.AsyncPhygitals(api_key=SECRET)
    assert SECRET not in repr(client)
    assert SECRET not in str(client)


BAD_CALLS: list[tuple[str, Callable[[p.AsyncPhygitals], Awaitable[object]]]] = [
    ("amount float", lambda c: c.buy("pk", amount=1.5, user_id="u")),  # type: ignore[arg-type]
    ("amount bool", lambda c: c.buy("pk", amount=True, user_id="u")),
    ("amount str", lambda c: c.buy("pk", amount="2", user_id="u")),  # type: ignore[arg-type]
    ("empty pack", lambda c: c.buy("", amount=1, user_id="u")),
    ("blank user", lambda c: c.buy("pk", amount=1, user_id="  ")),
    ("user not str", lambda c: c.buy("pk", amount=1, user_id=5)),  # type: ignore[arg-type]
    ("empty session", lambda c: c.purchase_status("")),
    ("empty inventory user", lambda c: c.inventory("")),
    ("empty card", lambda c: c.card("")),
    ("none sellback", lambda c: c.sell_back(None)),  # type: ignore[arg-type]
    ("empty item_ids", lambda c: c.ship_quote([], destination={"country": "US"})),
    ("str item_ids", lambda c: c.ship_quote("abc", destination={"country": "US"})),
    ("empty id in list", lambda c: c.ship_quote(["a", ""], destination={"country": "US"})),
    ("no country", lambda c: c.ship_quote(["a"], destination={"name": "J"})),
    ("3-letter country", lambda c: c.ship_quote(["a"], destination={"country": "USA"})),
    ("digit country", lambda c: c.ship_quote(["a"], destination={"country": "U1"})),
    ("destination list", lambda c: c.ship_quote(["a"], destination=["US"])),  # type: ignore[arg-type]
    ("empty quote", lambda c: c.ship_request("")),
    ("empty order", lambda c: c.ship_order("")),
    ("limit zero", lambda c: c.recent_pulls(limit=0)),
    ("limit 101", lambda c: c.recent_pulls(limit=101)),
    ("empty claw id", lambda c: c.recent_pulls([""])),
    ("bulk concurrency", lambda c: c.sell_back_many(["a"], concurrency=0)),
    ("bulk str", lambda c: c.sell_back_many("abc")),
]


@pytest.mark.parametrize("call", [c for _, c in BAD_CALLS], ids=[n for n, _ in BAD_CALLS])
async def test_bad_input_fails_before_any_request(
    recorder: Recorder, call: Callable[[p.AsyncPhygitals], Awaitable[object]]
) -> None:
    """Invalid arguments raise InvalidRequestError (a ValueError) and send nothing."""
    async with p.AsyncPhygitals(api_key="sandbox-a", base_url=recorder.url + "/_") as client:
        with pytest.raises(p.InvalidRequestError) as caught:
            await call(client)
    assert isinstance(caught.value, ValueError)
    assert recorder.requests == []


def test_address_rejects_bad_country() -> None:
    """An Address with a country that is not two letters is an InvalidRequestError.

    Every error is a PhygitalsError; it stays a ValueError, as it always was.
    """
    with pytest.raises(p.InvalidRequestError, match="two-letter") as caught:
        p.Address(name="J", line1="1 Main", city="Austin", country="USA")
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "user_id", ["../ship/order/x", "a/b", "a?b", "a#b", "..", ".", "a%2Fb", "v1|1|0", "é x"]
)
async def test_hostile_user_ids_reach_their_own_inventory(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, user_id: str
) -> None:
    """A user id full of URL syntax reaches the inventory route for that literal id."""
    await client.buy(TOPPS, amount=1, user_id=user_id)
    inventory = await client.inventory(user_id)
    assert inventory.user_id == user_id
    assert len(inventory.items) == 1
    assert sandbox.ledger.requests["inventory"] == 1
    assert sandbox.ledger.requests["ship/order"] == 0


async def test_client_is_unusable_after_close(sandbox: LocalSandbox) -> None:
    """Calls on a closed client raise ClientClosedError; closing twice is fine."""
    client = sandbox.client()
    await client.list_packs()
    await client.aclose()
    await client.aclose()
    with pytest.raises(p.ClientClosedError):
        await client.list_packs()


@pytest.mark.parametrize("max_retries", [0, 2])
async def test_closing_with_a_read_in_flight_raises_client_closed(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, max_retries: int
) -> None:
    """A GET whose connection aclose() drops ends in ClientClosedError and is never resent.

    Neither aiohttp's own resend of an idempotent request nor the client's retries may open
    a connection for a closed client: aclose() could not wait for it to close.
    """
    sandbox.faults.add(Fault.latency(30, route="vm/available", count=1))
    call = asyncio.create_task(client.list_packs(max_retries=max_retries))
    for _ in range(500):  # until the request is in the handler (at most 5 s)
        if sandbox.ledger.requests["vm/available"]:
            break
        await asyncio.sleep(0.01)
    await client.aclose()
    with pytest.raises(p.ClientClosedError, match="closed while the call was in flight"):
        await asyncio.wait_for(call, 10)
    assert sandbox.ledger.requests["vm/available"] == 1


async def test_key_never_leaks_into_errors_or_logs(
    sandbox: LocalSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Neither exception text, attributes, chained causes nor log records contain the key."""
    caplog.set_level(logging.DEBUG, logger="phygitals_async")
    sandbox.faults.add(Fault.drop_after(route="vm/buy/init"))
    sandbox.faults.add(Fault.html_error(route="inventory"))
    errors: list[BaseException] = []
    async with sandbox.client(api_key=SECRET, max_retries=0) as client:
        for call in (
            client.buy(TOPPS, amount=1, user_id="u"),
            client.inventory("u"),
            client.card("nope"),
        ):
            with pytest.raises(p.PhygitalsError) as caught:
                await call
            errors.append(caught.value)
    async with p.AsyncPhygitals(api_key=SECRET, base_url="http://127.0.0.1:9") as dead:
        with pytest.raises(p.APIConnectionError) as refused:
            await dead.list_packs(max_retries=0)
        errors.append(refused.value)
    for error in errors:
        text = "".join(traceback.format_exception(error))
        assert SECRET not in text
        chain: BaseException | None = error
        while chain is not None:
            assert SECRET not in repr(vars(chain))
            assert SECRET not in repr(chain.args)
            chain = chain.__cause__ or chain.__context__
    assert caplog.records
    assert all(SECRET not in r.getMessage() for r in caplog.records)


async def test_debug_log_line_per_request(
    client: p.AsyncPhygitals, caplog: pytest.LogCaptureFixture
) -> None:
    """Each request logs method, path, status and elapsed time at DEBUG."""
    caplog.set_level(logging.DEBUG, logger="phygitals_async")
    await client.list_packs()
    with pytest.raises(p.UserNotFoundError):
        await client.inventory("nobody")
    lines = [
        r.getMessage().splitlines()[0]
        for r in caplog.records
        if r.name == "phygitals_async" and r.levelno == logging.DEBUG
    ]
    assert len(lines) == 2
    assert lines[0].startswith("GET /_/api/v1/vm/available?platform=mainnet -> 200 in ")
    assert lines[1].startswith("GET /_/api/v1/inventory/nobody -> 404 in ")
    assert lines[0].endswith(" ms")


def test_a_client_is_bound_to_its_first_event_loop(sandbox_url_for_loops: str) -> None:
    """Using one AsyncPhygitals from a second event loop is a clear configuration error."""
    import asyncio  # noqa: PLC0415  this test drives two loops itself

    client = p.AsyncPhygitals(api_key="sandbox-a", base_url=sandbox_url_for_loops)

    async def list_packs() -> int:
        return len(await client.list_packs())

    async def close() -> None:
        await client.aclose()

    with asyncio.Runner() as first:
        assert first.run(list_packs()) == 5
        with pytest.raises(p.ConfigurationError, match="event loop"):
            asyncio.run(list_packs())
        first.run(close())


@pytest.fixture
def sandbox_url_for_loops() -> Iterator[str]:
    from phygitals_async.testing import sandbox_in_thread  # noqa: PLC0415

    with sandbox_in_thread() as running:
        yield running.url


def test_proxy_comes_from_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTPS_PROXY is used unless NO_PROXY covers the host."""
    from phygitals_async._http._pool import env_proxy  # noqa: PLC0415  private helper, unit-tested

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert env_proxy("https://api.phygitals.com") == "http://proxy.internal:3128"
    monkeypatch.setenv("NO_PROXY", "api.phygitals.com")
    assert env_proxy("https://api.phygitals.com") is None
    assert env_proxy("http://127.0.0.1:8787/_") is None


@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.com",
        "http://10.0.0.7:8787",
        "http://api.phygitals.com",
        "http://API.Phygitals.com.",
        "HTTP://proxy.internal:3128/phygitals",
    ],
)
def test_a_production_key_is_never_sent_over_plain_http(url: str) -> None:
    """A production key with an http:// base URL to a host that is not loopback is refused."""
    with pytest.raises(p.ConfigurationError, match="https"):
        p.AsyncPhygitals(api_key="pk_live_123", base_url=url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8787",
        "http://localhost:8787",
        "http://LOCALHOST.:8787",
        "http://[::1]:8787",
        "http://127.1:8787",
        "http://[::ffff:127.0.0.1]:8787",
        "http://sandbox.localhost:8787",
    ],
)
def test_plain_http_stays_allowed_to_loopback_hosts(url: str) -> None:
    """Local sandboxes and proxies on this machine may use plain http with any key."""
    assert p.AsyncPhygitals(api_key="pk_live_123", base_url=url).base_url.startswith("http://")


@pytest.mark.parametrize(
    "host",
    [
        "api.phygitals.com.",
        "API.PHYGITALS.COM",
        "Api.Phygitals.Com.",
        "api.phygitals.com:443",
        "\uff41\uff50\uff49.phygitals.com",  # fullwidth "api": the same host after IDNA
        "api%2Ephygitals.com",
    ],
)
@pytest.mark.parametrize(
    ("key", "path"),
    [("sandbox-abc", ""), ("sandbox-abc", "/"), ("pk_live_123", "/_"), ("pk_live_123", "/_/")],
)
def test_the_environment_check_sees_through_other_spellings_of_the_host(
    host: str, key: str, path: str
) -> None:
    """Case, a trailing dot, a default port, IDNA or percent-encoding: still the same host."""
    with pytest.raises(p.ConfigurationError):
        p.AsyncPhygitals(api_key=key, base_url=f"https://{host}{path}")


@pytest.mark.parametrize("path", ["//_", "/%5F", "/./_", "/x/../_", "/_/", "/api"])
def test_only_the_two_documented_urls_exist_on_the_phygitals_host(path: str) -> None:
    """Paths that normalise to the sandbox, or to neither URL, are refused for a production key."""
    with pytest.raises(p.ConfigurationError):
        p.AsyncPhygitals(api_key="pk_live_123", base_url=f"https://api.phygitals.com{path}")


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1",
        "http://[::1]x",
        "http://host:99999",
        "http://host:port",
        "https://user:secret@api.example.com",
        "https://api.example.com/?key=1",
        "https://xn--a.com",
        12345,
        b"https://api.example.com",
    ],
)
def test_a_malformed_base_url_is_a_configuration_error(url: object) -> None:
    """Whatever the base URL, a bad one is a ConfigurationError, never a ValueError of yarl's."""
    with pytest.raises(p.ConfigurationError):
        p.AsyncPhygitals(api_key="sandbox-a", base_url=url)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["sandbox-caf\u00e9", "sandbox-\ud800", "pk_\u4e2d"])
def test_a_key_that_is_not_printable_ascii_is_refused(key: str) -> None:
    """A key that cannot travel in an HTTP header fails at construction, not mid-request."""
    with pytest.raises(p.ConfigurationError):
        p.AsyncPhygitals(api_key=key)


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": float("nan")},
        {"timeout": float("inf")},
        {"connect_timeout": -1},
        {"read_timeout": float("nan")},
        {"retry_backoff": -0.5},
        {"max_retry_wait": float("nan")},
        {"max_retry_wait": -1},
        {"max_retries": 10**5000},
    ],
)
def test_time_options_must_be_finite(options: dict[str, Any]) -> None:
    """NaN, infinite or negative times are refused at construction."""
    with pytest.raises(p.ConfigurationError):
        p.AsyncPhygitals(api_key="sandbox-a", **options)


LONE = "\ud800"
HOSTILE_CALLS: list[tuple[str, Callable[[p.AsyncPhygitals], Awaitable[object]]]] = [
    ("surrogate pack", lambda c: c.buy("pk" + LONE, amount=1, user_id="u")),
    ("surrogate user", lambda c: c.buy("pk", amount=1, user_id=LONE)),
    ("surrogate inventory", lambda c: c.inventory("u" + LONE)),
    ("surrogate card", lambda c: c.card(LONE)),
    ("surrogate sellback", lambda c: c.sell_back(LONE)),
    ("surrogate status", lambda c: c.purchase_status(LONE)),
    ("surrogate order", lambda c: c.ship_order(LONE)),
    ("surrogate quote", lambda c: c.ship_request(LONE)),
    ("surrogate claw", lambda c: c.recent_pulls([LONE])),
    ("surrogate platform", lambda c: c.list_packs(LONE)),
    ("surrogate item id", lambda c: c.ship_quote([LONE], destination={"country": "US"})),
    ("huge amount", lambda c: c.buy("pk", amount=10**5000, user_id="u")),
    ("unsafe amount", lambda c: c.buy("pk", amount=2**53, user_id="u")),
    ("huge limit", lambda c: c.recent_pulls(limit=10**5000)),
    ("huge per-call retries", lambda c: c.inventory("u", max_retries=-(10**5000))),
    (
        "object in destination",
        lambda c: c.ship_quote(["a"], destination={"country": "US", "x": object()}),
    ),
    (
        "nan in destination",
        lambda c: c.ship_quote(["a"], destination={"country": "US", "x": float("nan")}),
    ),
    (
        "inf in destination",
        lambda c: c.ship_quote(["a"], destination={"country": "US", "x": [float("inf")]}),
    ),
    (
        "decimal in destination",
        lambda c: c.ship_quote(
            ["a"], destination={"country": "US", "x": __import__("decimal").Decimal("1")}
        ),
    ),
    (
        "surrogate in destination",
        lambda c: c.ship_quote(["a"], destination={"country": "US", "city": LONE}),
    ),
    (
        "tuple key in destination",
        lambda c: c.ship_quote(["a"], destination={"country": "US", (1,): 1}),  # type: ignore[dict-item]
    ),
    (
        "huge int in destination",
        lambda c: c.ship_quote(["a"], destination={"country": "US", "n": 10**5000}),
    ),
    ("nan timeout", lambda c: c.inventory("u", timeout=float("nan"))),
    ("negative timeout", lambda c: c.card("i", timeout=-1)),
    ("infinite timeout", lambda c: c.list_packs(timeout=float("inf"))),
    ("string timeout", lambda c: c.list_packs(timeout="5")),  # type: ignore[arg-type]
    ("nan poll interval", lambda c: c.wait_for_purchase("s", interval=float("nan"))),
    ("negative poll timeout", lambda c: c.wait_for_purchase("s", timeout=-1)),
    ("nan shipment interval", lambda c: c.wait_for_shipment("o", interval=float("nan"))),
]


@pytest.mark.parametrize("call", [c for _, c in HOSTILE_CALLS], ids=[n for n, _ in HOSTILE_CALLS])
async def test_hostile_arguments_fail_typed_before_any_request(
    recorder: Recorder, call: Callable[[p.AsyncPhygitals], Awaitable[object]]
) -> None:
    """Lone surrogates, huge ints, non-JSON values and NaN: InvalidRequestError, nothing sent."""
    async with p.AsyncPhygitals(api_key="sandbox-a", base_url=recorder.url + "/_") as client:
        with pytest.raises(p.InvalidRequestError) as caught:
            await call(client)
    assert len(str(caught.value)) < 500
    assert recorder.requests == []


async def test_request_bodies_are_standard_json_in_utf8(recorder: Recorder) -> None:
    """Bodies parse with a strict JSON parser (no NaN/Infinity) and are UTF-8 on the wire."""
    recorder.add("POST", "/_/api/v1/ship/quote", status=400, json_body={"error": "Item not found"})
    destination = {"country": "US", "city": "Zürich", "extra": [1.5, None, True]}
    async with p.AsyncPhygitals(api_key="sandbox-a", base_url=recorder.url + "/_") as client:
        with pytest.raises(p.ItemNotFoundError):
            await client.ship_quote(["a"], destination=destination)

    def refuse(name: str) -> None:
        raise AssertionError(name)

    sent = recorder.only()
    assert (
        json.loads(sent.body.decode("utf-8"), parse_constant=refuse)["destination"] == destination
    )
    assert "Zürich".encode() in sent.body
