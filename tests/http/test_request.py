"""client.request: any endpoint through the one seam, with its key, retries and typed errors."""

from __future__ import annotations

from decimal import Decimal

import pytest
from support import TOPPS, FakeTime, Recorder

import phygitals_async as p
from phygitals_async.testing import Fault, LocalSandbox


async def test_get_decodes_into_models_like_the_method(client: p.AsyncPhygitals) -> None:
    """A GET with into=list[Pack] returns what list_packs returns."""
    packs = await client.request("GET", "/api/v1/vm/available", into=list[p.Pack])
    assert packs == await client.list_packs()


async def test_without_into_the_answer_is_json_with_exact_money(client: p.AsyncPhygitals) -> None:
    """into=None gives the parsed JSON; numbers with a fraction are exact Decimals."""
    packs = await client.request("GET", "/api/v1/vm/available", params={"platform": "mainnet"})
    assert isinstance(packs, list)
    assert isinstance(packs[0]["id"], str)
    assert isinstance(packs[0]["buyback_percent"], Decimal)


async def test_post_buys_once_and_decodes(sandbox: LocalSandbox, client: p.AsyncPhygitals) -> None:
    """A POST sends its JSON body and decodes the answer into the model asked for."""
    body = {"id": TOPPS, "amount": 1, "user_id": "u1"}
    purchase = await client.request("POST", "/api/v1/vm/buy/init", json=body, into=p.Purchase)
    assert len(purchase.nfts) == 1
    assert sandbox.ledger.purchases == 1


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_other_methods_reach_the_sandbox(client: p.AsyncPhygitals, method: str) -> None:
    """PUT, PATCH and DELETE go out; the sandbox's 405 is an APIStatusError."""
    with pytest.raises(p.APIStatusError) as caught:
        await client.request(method.lower(), "/api/v1/vm/available")
    assert caught.value.status_code == 405
    assert caught.value.method == method


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_other_methods_are_never_resent(recorder: Recorder, method: str) -> None:
    """Any method but GET is never resent by default, even after a 503."""
    recorder.add(method, "/_/api/v1/x", status=503, json_body={"error": "busy"})
    async with p.AsyncPhygitals("sandbox-k", base_url=recorder.url + "/_") as client:
        with pytest.raises(p.ServerError):
            await client.request(method, "/api/v1/x", json={"a": 1})
    assert recorder.only().json == {"a": 1}


async def test_a_documented_400_is_its_typed_error(client: p.AsyncPhygitals) -> None:
    """The API's documented message maps to its class, as for every method."""
    body = {"id": "no-such-pack", "amount": 1, "user_id": "u1"}
    with pytest.raises(p.PackNotFoundError) as caught:
        await client.request("POST", "/api/v1/vm/buy/init", json=body)
    assert caught.value.status_code == 400


async def test_a_dropped_post_is_outcome_unknown_and_not_resent(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """A POST whose answer was lost raises OutcomeUnknownError and is sent only once."""
    sandbox.faults.add(Fault.drop_after(route="vm/buy/init", count=1))
    body = {"id": TOPPS, "amount": 1, "user_id": "u1"}
    with pytest.raises(p.OutcomeUnknownError) as caught:
        await client.request("POST", "/api/v1/vm/buy/init", json=body)
    assert sandbox.ledger.requests["vm/buy/init"] == 1
    assert caught.value.arguments["json"] == body


async def test_a_get_is_retried_after_a_503(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, fake_time: FakeTime
) -> None:
    """GET defaults to the safe policy: a 503 is waited out and retried."""
    sandbox.faults.add(Fault.status(503, route="vm/available", count=1))
    assert await client.request("GET", "/api/v1/vm/available")
    assert sandbox.ledger.requests["vm/available"] == 2
    assert len(fake_time.sleeps) == 1


async def test_a_post_can_be_given_the_safe_policy(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, fake_time: FakeTime
) -> None:
    """retry=Retry.SAFE resends a read-only POST (buy/status) after a 503."""
    purchase = await client.buy(TOPPS, amount=1, user_id="u1")
    sandbox.faults.add(Fault.status(503, route="vm/buy/status", count=1))
    status = await client.request(
        "POST",
        "/api/v1/vm/buy/status",
        json={"session_id": purchase.session_id},
        retry=p.Retry.SAFE,
    )
    assert status["result"]["session_id"] == purchase.session_id
    assert sandbox.ledger.requests["vm/buy/status"] == 2
    assert fake_time.sleeps


@pytest.mark.parametrize(
    "path",
    [
        "https://evil.example/api/v1/vm/available",
        "http://127.0.0.1:1/api/v1/vm/available",
        "//evil.example/api/v1/vm/available",
        "api/v1/vm/available",
        "/../api/v1/vm/available",
        "/api/v1/%2e%2e/%2E%2E/x",
        "/api/v1/vm/available?platform=x",
        "",
    ],
)
async def test_a_path_outside_the_base_url_is_refused(recorder: Recorder, path: str) -> None:
    """Absolute URLs elsewhere, climbing paths and queries in the path send nothing at all."""
    async with p.AsyncPhygitals("sandbox-k", base_url=recorder.url + "/_") as client:
        with pytest.raises(p.InvalidRequestError):
            await client.request("GET", path)
    assert recorder.requests == []


async def test_the_full_url_under_the_base_is_accepted(recorder: Recorder) -> None:
    """An absolute URL that is under the base URL is the same as its path."""
    recorder.add("GET", "/_/api/v1/card/v1%7C1%7C0", json_body={"ok": 1.5})
    async with p.AsyncPhygitals("sandbox-k", base_url=recorder.url + "/_") as client:
        answer = await client.request("GET", f"{client.base_url}/api/v1/card/v1|1|0")
    assert answer == {"ok": Decimal("1.5")}
    assert recorder.only().headers["X-API-Key"] == "sandbox-k"


async def test_params_repeat_and_decimals_are_exact_in_bodies(recorder: Recorder) -> None:
    """A sequence value repeats the parameter; a Decimal is written as its exact number."""
    recorder.add("POST", "/_/api/v1/x", json_body={})
    async with p.AsyncPhygitals("sandbox-k", base_url=recorder.url + "/_") as client:
        await client.request(
            "POST",
            "/api/v1/x",
            params={"claw_ids": ["A", "B"], "limit": 5},
            json={"amount": Decimal("8.50"), "count": Decimal(3)},
        )
    sent = recorder.only()
    assert sent.query == [("claw_ids", "A"), ("claw_ids", "B"), ("limit", "5")]
    assert sent.body == b'{"amount": 8.5, "count": 3}'


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"method": "TRACE"}, "method must be one of"),
        ({"retry": 3}, "retry must be a policy"),
        ({"json": ["a"]}, "json must be a mapping"),
        ({"params": {"a": 1.5}}, "must be a str, int or Decimal"),
        ({"params": {"a": True}}, "must be a str, int or Decimal"),
        ({"params": [("a",)]}, r"\(name, value\) tuples"),
        ({"json": {"x": Decimal("0.1000000000000000000001")}}, "no exact JSON number"),
    ],
)
async def test_bad_arguments_are_refused_before_sending(
    recorder: Recorder, arguments: dict[str, object], message: str
) -> None:
    """Every argument is checked before any byte leaves."""
    method = arguments.pop("method", "POST")
    async with p.AsyncPhygitals("sandbox-k", base_url=recorder.url + "/_") as client:
        with pytest.raises(p.InvalidRequestError, match=message):
            await client.request(method, "/api/v1/x", **arguments)  # type: ignore[call-overload]
    assert recorder.requests == []


def test_the_blocking_client_has_it_too(sync_client: p.Phygitals) -> None:
    """Phygitals.request is the generated twin: same arguments, no await."""
    pulls = sync_client.request(
        "GET", "/api/v1/vm/recent-pulls", params=[("limit", 3)], into=list[p.Pull]
    )
    assert isinstance(pulls, list)
    with pytest.raises(p.InvalidRequestError):
        sync_client.request("GET", "https://evil.example/")
