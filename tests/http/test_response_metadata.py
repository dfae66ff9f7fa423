"""Response metadata: error headers and request ids, and with_raw_response for successes."""

from __future__ import annotations

import asyncio
import copy
import pickle

import pytest
from support import TOPPS, Recorder

import phygitals_async as p
from phygitals_async.testing import Fault, LocalSandbox


async def test_status_errors_carry_headers_and_the_request_id(client: p.AsyncPhygitals) -> None:
    """An API error exposes the response headers read-only and its X-Request-Id."""
    with pytest.raises(p.UserNotFoundError) as caught:
        await client.inventory("nobody")
    error = caught.value
    assert error.request_id is not None
    assert error.request_id.startswith("req_sandbox_")
    assert error.headers["x-request-id"] == error.request_id  # any case
    assert error.headers["Content-Type"].startswith("application/json")
    with pytest.raises(TypeError):
        error.headers["X-Request-Id"] = "forged"  # type: ignore[index]
    assert error.request_id.startswith("req_sandbox_")


async def test_request_id_is_none_without_the_header(recorder: Recorder) -> None:
    """A response without X-Request-Id gives request_id None and still has its headers."""
    recorder.add("GET", "/_/api/v1/card/c1", status=404, json_body={"error": "Card not found"})
    async with p.AsyncPhygitals("sandbox-k", base_url=recorder.url + "/_") as client:
        with pytest.raises(p.CardNotFoundError) as caught:
            await client.card("c1")
    assert caught.value.request_id is None
    assert "Content-Length" in caught.value.headers


async def test_an_echoed_key_is_redacted_from_error_headers(recorder: Recorder) -> None:
    """A response header that echoes the API key is kept redacted on the error."""
    key = "sandbox-echoed-secret-42"
    recorder.add(
        "GET",
        "/_/api/v1/card/c1",
        status=404,
        json_body={"error": "Card not found"},
        headers={"X-Debug-Key": key, "X-Request-Id": "req_9"},
    )
    async with p.AsyncPhygitals(key, base_url=recorder.url + "/_") as client:
        with pytest.raises(p.CardNotFoundError) as caught:
            await client.card("c1")
    assert caught.value.headers["X-Debug-Key"] == "[redacted]"
    assert caught.value.request_id == "req_9"
    assert key.encode() not in pickle.dumps(caught.value)


async def test_retried_errors_carry_the_last_responses_headers(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """After retries run out, the error's request id is that of the final attempt."""
    sandbox.faults.add(Fault.status(503, route="inventory", count=3))
    with pytest.raises(p.ServerError) as caught:
        await client.inventory("u1")
    assert sandbox.ledger.requests["inventory"] == 3
    assert caught.value.request_id == "req_sandbox_00000003"


async def test_error_headers_survive_pickle_and_copies(client: p.AsyncPhygitals) -> None:
    """The headers are a plain snapshot: pickled and copied errors keep them and the id."""
    with pytest.raises(p.UserNotFoundError) as caught:
        await client.inventory("nobody")
    error = caught.value
    twins = [pickle.loads(pickle.dumps(error)), copy.copy(error), copy.deepcopy(error)]  # noqa: S301
    for twin in twins:
        assert twin == error
        assert twin.request_id == error.request_id
        assert twin.request_id is not None
        assert dict(twin.headers) == dict(error.headers)
        assert twin.headers["x-request-id"] == error.request_id


async def test_with_raw_response_returns_status_headers_and_the_value(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """with_raw_response(method)(...) gives status, headers, request id and parse()."""
    await client.buy(TOPPS, amount=2, user_id="u1")
    response = await client.with_raw_response(client.inventory)("u1")
    assert isinstance(response, p.APIResponse)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.request_id is not None
    assert response.request_id.startswith("req_sandbox_")
    assert response.method == "GET"
    assert response.url.endswith("/_/api/v1/inventory/u1")
    assert response.retries == 0
    inventory = response.parse()
    assert inventory == await client.inventory("u1")
    assert sandbox.ledger.requests["inventory"] == 2


async def test_with_raw_response_after_a_retry(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """The metadata is the successful response's; retries counts the answers before it."""
    sandbox.faults.add(Fault.status(503, route="vm/available", count=1))
    response = await client.with_raw_response(client.list_packs)()
    assert response.status_code == 200
    assert response.retries == 1
    assert response.parse()


async def test_raw_responses_of_concurrent_calls_stay_apart(client: p.AsyncPhygitals) -> None:
    """Each wrapped call gets its own response, however many run on one client at once."""
    raw_inventory = client.with_raw_response(client.inventory)
    await client.buy(TOPPS, amount=1, user_id="u1")
    responses = await asyncio.gather(*(raw_inventory("u1") for _ in range(20)))
    ids = {r.request_id for r in responses}
    assert len(ids) == 20
    assert all(r.parse().user_id == "u1" for r in responses)


async def test_unwrapped_calls_return_plain_models(client: p.AsyncPhygitals) -> None:
    """Methods keep their return types; wrapping one changes nothing for the next call."""
    await client.with_raw_response(client.list_packs)()
    packs = await client.list_packs()
    assert isinstance(packs, list)
    assert isinstance(packs[0], p.Pack)


async def test_with_raw_response_refuses_a_call_without_a_request(
    client: p.AsyncPhygitals,
) -> None:
    """A wrapped callable that makes no request raises a typed error, not an IndexError."""

    async def nothing() -> int:
        return 1

    with pytest.raises(p.InvalidRequestError, match="without an HTTP response"):
        await client.with_raw_response(nothing)()


def test_blocking_with_raw_response(sync_client: p.Phygitals) -> None:
    """The blocking client's with_raw_response gives the same metadata without await."""
    sync_client.buy(TOPPS, amount=1, user_id="u1")
    response = sync_client.with_raw_response(sync_client.inventory)("u1")
    assert response.status_code == 200
    assert response.request_id is not None
    assert response.parse().user_id == "u1"
    view = sync_client.with_options(timeout=5)
    assert view.with_raw_response(view.list_packs)().status_code == 200


def test_blocking_with_raw_response_takes_only_request_methods(
    threaded: LocalSandbox, sync_client: p.Phygitals
) -> None:
    """A method that is not one of this client's request methods is a typed error."""
    with pytest.raises(p.InvalidRequestError):
        sync_client.with_raw_response(sync_client.poll_purchase)
    with threaded.sync_client() as other, pytest.raises(p.InvalidRequestError):
        sync_client.with_raw_response(other.inventory)
