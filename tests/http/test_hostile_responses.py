"""Hostile responses over loopback: huge numbers, non-finite money, deep nesting, huge bodies.

Each ends, fast, as the documented typed error with a short message that says what and where.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from support import Recorder
from support.endpoints import ENDPOINT_NAMES, ENDPOINTS

import phygitals_async as p
from phygitals_async._http import _transport
from phygitals_async._http._pool import BodyTooLargeError, read_body
from phygitals_async._limits import MAX_BODY_BYTES, MAX_DEPTH, MAX_MESSAGE_CHARS

# Generous for a loaded CI machine; the unbounded versions took from seconds to forever.
FAST = 5.0

PACK = (
    b'{"id": "p", "slug": "s", "platform": "mainnet", "name": "n", "enable": true, '
    b'"description": "d", "mint_price": %s, "max_per_mint": %s, "in_stock": true, '
    b'"categories": [], "ev_updated_at": "2026-01-01T00:00:00Z", "buyback_percent": 0.85, '
    b'"claw_image_url": "u", "rarity_distribution": []}'
)


@pytest_asyncio.fixture
async def client(recorder: Recorder) -> AsyncIterator[p.AsyncPhygitals]:
    async with p.AsyncPhygitals(
        api_key="sandbox-a", base_url=recorder.url + "/_", max_retries=0
    ) as c:
        yield c


async def timed_error(call: object) -> tuple[Exception, float]:
    started = time.perf_counter()
    with pytest.raises(p.PhygitalsError) as caught:
        await call  # type: ignore[misc]
    return caught.value, time.perf_counter() - started


HUGE_NUMBERS = [b"1e1000000", b"1e999999999", b"-1e-999999999", b"9" * 10_000, b"1" + b"0" * 200]


@pytest.mark.parametrize("number", HUGE_NUMBERS, ids=lambda n: n[:12].decode())
@pytest.mark.parametrize("field", ["max_per_mint", "mint_price"])
async def test_huge_numbers_are_refused_before_conversion(
    recorder: Recorder, client: p.AsyncPhygitals, number: bytes, field: str
) -> None:
    """An integer or money field of absurd size is a ResponseValidationError, at once."""
    values = {"max_per_mint": b"10", "mint_price": b"100.0"} | {field: number}
    body = b"[" + PACK % (values["mint_price"], values["max_per_mint"]) + b"]"
    recorder.add("GET", "/_/api/v1/vm/available", body=body)
    error, elapsed = await timed_error(client.list_packs())
    assert isinstance(error, p.ResponseValidationError)
    assert "number" in str(error)
    assert elapsed < FAST
    assert len(str(error)) <= MAX_MESSAGE_CHARS


async def test_numbers_within_bounds_still_decode(
    recorder: Recorder, client: p.AsyncPhygitals
) -> None:
    """Bounds leave room for real values: long decimals, exponents, big integers."""
    body = b"[" + PACK % (b"1.2345678901234567890123456789e2", b"9" * 30) + b"]"
    recorder.add("GET", "/_/api/v1/vm/available", body=body)
    (pack,) = await client.list_packs()
    assert pack.mint_price == Decimal("123.45678901234567890123456789")
    assert pack.max_per_mint == int("9" * 30)


@pytest.mark.parametrize(
    "amount", [b'"NaN"', b'"sNaN"', b'"Infinity"', b'"-Infinity"', b'"1e999999999"', b"NaN"]
)
async def test_money_is_always_finite(
    recorder: Recorder, client: p.AsyncPhygitals, amount: bytes
) -> None:
    """NaN, sNaN and Infinity (as text or JSON constants) are never an amount."""
    recorder.add(
        "POST", "/_/api/v1/vm/buyback", body=b'{"success": true, "amount": ' + amount + b"}"
    )
    error, elapsed = await timed_error(client.sell_back("i"))
    assert isinstance(error, p.ResponseValidationError)
    assert elapsed < FAST


async def test_a_bulk_report_never_sums_a_non_finite_amount(recorder: Recorder) -> None:
    """A sale answered with NaN is not counted, and total_amount stays a finite, exact sum."""
    recorder.add("POST", "/_/api/v1/vm/buyback", json_body={"success": True, "amount": 2.5})
    recorder.add("POST", "/_/api/v1/vm/buyback", body=b'{"success": true, "amount": "NaN"}')
    async with p.AsyncPhygitals(api_key="sandbox-a", base_url=recorder.url + "/_") as client:
        report = await client.sell_back_many(["a", "b"], concurrency=1)
    assert report.total_amount == Decimal("2.5")
    # The sale happened (2xx) but its amount is unreadable: an outcome to check, not a sum.
    (unreadable,) = report.failed + report.unknown
    assert unreadable.item_id == "b"
    assert isinstance(unreadable.error, p.ResponseValidationError | p.OutcomeUnknownError)
    assert "not a finite number" in str(unreadable.error)


async def test_a_buyback_answered_success_false_is_no_sale(recorder: Recorder) -> None:
    """200 with success false confirms nothing: never a Sellback, never in total_amount."""
    answer = {"success": False, "amount": 5}
    recorder.add("POST", "/_/api/v1/vm/buyback", json_body=answer, times=2)
    async with p.AsyncPhygitals(api_key="sandbox-a", base_url=recorder.url + "/_") as client:
        with pytest.raises(p.ResponseValidationError, match=r"\$\.success"):
            await client.sell_back("a")
        report = await client.sell_back_many(["b"], concurrency=1)
    assert report.succeeded == ()
    assert report.total_amount == 0
    assert [f.item_id for f in report.failed + report.unknown] == ["b"]


@pytest.mark.parametrize("path", ["pure", "speedups"])
@pytest.mark.parametrize("success", [b"1", b"1.0", b'"true"'])
async def test_a_buyback_success_that_is_not_true_is_no_sale(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch, path: str, success: bytes
) -> None:
    """``success`` equal to true but not JSON ``true`` is not the documented answer."""
    if path == "pure":
        monkeypatch.setenv("PHYGITALS_SPEEDUPS", "0")
    body = b'{"success": %s, "amount": 5}' % success
    recorder.add("POST", "/_/api/v1/vm/buyback", body=body)
    async with p.AsyncPhygitals(api_key="sandbox-a", base_url=recorder.url + "/_") as client:
        with pytest.raises(p.ResponseValidationError, match=r"expected true.*\$\.success"):
            await client.sell_back("a")


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 100_000])
@pytest.mark.parametrize(
    ("status", "expected"),
    [(200, p.ResponseValidationError), (400, p.BadRequestError), (500, p.ServerError)],
)
async def test_deep_nesting_is_the_documented_error_for_its_status(
    recorder: Recorder,
    client: p.AsyncPhygitals,
    depth: int,
    status: int,
    expected: type[Exception],
) -> None:
    """A body nested past the limit is a ResponseValidationError (2xx) or its status's class."""
    recorder.add("GET", "/_/api/v1/inventory/u", status=status, body=nested(depth))
    error, elapsed = await timed_error(client.inventory("u"))
    assert type(error) is expected
    assert elapsed < FAST
    if status == 200:
        assert f"nested more than {MAX_DEPTH} levels" in str(error)


async def test_deep_nesting_inside_a_free_form_field_is_refused(
    recorder: Recorder, client: p.AsyncPhygitals
) -> None:
    """Depth is bounded everywhere, also in a field the models keep as a plain mapping."""
    deep = b'{"a": ' * (MAX_DEPTH + 5) + b"1" + b"}" * (MAX_DEPTH + 5)
    body = (
        b'{"order_id": "o", "status": "queued", "carrier": "USPS", "service": "S", '
        b'"tracking_number": null, "tracking_url": null, "amount": 9.75, "currency": "USD", '
        b'"destination": ' + deep + b', "items": [], "created_at": "2026-01-01T00:00:00Z", '
        b'"shipped_at": null, "delivered_at": null, "error_message": null}'
    )
    recorder.add("GET", "/_/api/v1/ship/order/o", body=body)
    error, _ = await timed_error(client.ship_order("o"))
    assert isinstance(error, p.ResponseValidationError)


async def test_brackets_inside_strings_do_not_count_as_nesting(
    recorder: Recorder, client: p.AsyncPhygitals
) -> None:
    """Only structure counts: a name full of brackets and escaped quotes is fine."""
    name = '[[[[\\"{{{{' * 50
    recorder.add(
        "GET",
        "/_/api/v1/inventory/u",
        text='{"user_id": "u", "items": ['
        + ",".join(
            [
                f'{{"id": "{i}", "buyback_price": 1, '
                f'"content": {{"metadata": {{"name": "{name}"}}}}}}'
                for i in range(100)
            ]
        )
        + "]}",
    )
    inventory = await client.inventory("u")
    assert len(inventory.items) == 100


async def test_a_huge_body_gives_a_short_message_fast(
    recorder: Recorder, client: p.AsyncPhygitals
) -> None:
    """10 MB of nulls: a capped message, built in well under a second, naming what and where."""
    body = b"[" + b"null," * 2_000_000 + b"null]"
    recorder.add("GET", "/_/api/v1/vm/available", body=body)
    error, elapsed = await timed_error(client.list_packs())
    assert isinstance(error, p.ResponseValidationError)
    message = str(error)
    assert len(message) <= MAX_MESSAGE_CHARS
    assert "$[0]" in message
    assert "expected Pack" in message
    assert elapsed < FAST


@pytest.mark.parametrize("value", ["x" * 5_000_000, ["y"] * 1_000_000])
async def test_a_huge_value_in_a_field_gives_a_short_message(
    recorder: Recorder, client: p.AsyncPhygitals, value: object
) -> None:
    """A huge value of the wrong type is shown in a few characters, and the field is named."""
    recorder.add("GET", "/_/api/v1/inventory/u", json_body={"user_id": "u", "items": value})
    error, elapsed = await timed_error(client.inventory("u"))
    assert isinstance(error, p.ResponseValidationError)
    assert len(str(error)) <= MAX_MESSAGE_CHARS
    assert "items" in str(error)
    assert elapsed < FAST


async def test_a_huge_error_string_is_capped(recorder: Recorder, client: p.AsyncPhygitals) -> None:
    """A 5 MB ``error`` string: the right class, a capped message, the body kept whole."""
    recorder.add("GET", "/_/api/v1/card/i", status=404, json_body={"error": "z" * 5_000_000})
    error, _ = await timed_error(client.card("i"))
    assert isinstance(error, p.NotFoundError)
    assert len(str(error)) <= MAX_MESSAGE_CHARS
    assert len(error.message) <= MAX_MESSAGE_CHARS
    assert isinstance(error.body, dict)
    assert len(error.body["error"]) == 5_000_000


async def test_error_bodies_keep_exact_decimals(
    recorder: Recorder, client: p.AsyncPhygitals
) -> None:
    """Error bodies are parsed like success bodies: numbers are exact Decimals, not floats."""
    recorder.add(
        "POST", "/_/api/v1/vm/buyback", status=400, text='{"error": "Item not found", "paid": 0.1}'
    )
    error, _ = await timed_error(client.sell_back("i"))
    assert isinstance(error, p.ItemNotFoundError)
    assert isinstance(error.body, dict)
    assert error.body["paid"] == Decimal("0.1")
    assert type(error.body["paid"]) is Decimal


async def test_non_standard_json_in_an_error_body_is_kept_as_text(
    recorder: Recorder, client: p.AsyncPhygitals
) -> None:
    """An error body with a huge number or NaN stays the status's class, with the text kept."""
    recorder.add("GET", "/_/api/v1/card/i", status=500, text='{"error": "x", "n": 1e999999999}')
    error, _ = await timed_error(client.card("i"))
    assert isinstance(error, p.ServerError)
    assert error.body == '{"error": "x", "n": 1e999999999}'


@pytest.mark.parametrize("name", ENDPOINT_NAMES)
async def test_every_endpoint_refuses_an_absurd_number_fast(
    recorder: Recorder, client: p.AsyncPhygitals, name: str
) -> None:
    """Whatever the endpoint, a 1e999999999 in its answer is a typed error in well under FAST."""
    endpoint = next(e for e in ENDPOINTS if e.name == name)
    body = endpoint.valid.replace(b"8.5", b"1e999999999").replace(b"9.75", b"1e999999999")
    body = body.replace(b": 1,", b": 1e999999999,").replace(
        b'"amount": 8', b'"amount": 1e999999999'
    )
    if body == endpoint.valid:
        body = b'{"x": 1e999999999}'
    recorder.add(endpoint.method, "/_" + endpoint.path, body=body)
    error, elapsed = await timed_error(endpoint.invoke(client))
    assert isinstance(error, p.ResponseValidationError)
    assert elapsed < FAST


async def _serve_raw(head: bytes, body: Callable[[asyncio.StreamWriter], Awaitable[None]]) -> Any:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + head)
            await body(writer)
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0)


async def _first_error(head: bytes, payload: bytes, call: str) -> tuple[Exception, float]:
    """The error of ``call`` (no retry) against a server answering ``head`` and ``payload``."""

    async def once(writer: asyncio.StreamWriter) -> None:
        writer.write(payload)
        await writer.drain()

    async with await _serve_raw(head, once) as server:
        port = server.sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}/_"
        async with p.AsyncPhygitals(api_key="sandbox-a", base_url=base, max_retries=0) as c:
            run = c.list_packs() if call == "list_packs" else c.sell_back("i1")
            return await timed_error(run)


@pytest.mark.parametrize("call", ["list_packs", "sell_back"])
async def test_a_body_said_to_be_too_large_is_not_read(call: str) -> None:
    """A Content-Length beyond MAX_BODY_BYTES fails the attempt at once, as a lost answer."""
    length = f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode()
    error, elapsed = await _first_error(length, b"[", call)
    expected = p.OutcomeUnknownError if call == "sell_back" else p.APIConnectionError
    assert isinstance(error, expected), repr(error)
    assert "larger than" in str(error)
    assert elapsed < FAST


async def test_an_endless_body_is_read_only_up_to_the_limit() -> None:
    """A chunked body that never ends stops being read at the limit: memory stays bounded."""

    async def endless(writer: asyncio.StreamWriter) -> None:
        while True:
            writer.write(b"1000\r\n" + b" " * 4096 + b"\r\n")
            await writer.drain()

    async with await _serve_raw(b"Transfer-Encoding: chunked\r\n\r\n", endless) as server:
        port = server.sockets[0].getsockname()[1]
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/") as response,
        ):
            with pytest.raises(BodyTooLargeError):
                await read_body(response, limit=1 << 20)


async def test_a_compressed_body_is_bounded_as_it_unpacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A few KB of gzip that unpack to more than the limit: refused, not held whole."""
    monkeypatch.setattr(_transport, "MAX_BODY", 1 << 20)
    packed = gzip.compress(b"[" + b" " * (4 << 20) + b"]")
    head = f"Content-Encoding: gzip\r\nContent-Length: {len(packed)}\r\n\r\n".encode()
    error, _ = await _first_error(head, packed, "list_packs")
    assert isinstance(error, p.APIConnectionError), repr(error)
    assert f"larger than {1 << 20} bytes" in str(error)
