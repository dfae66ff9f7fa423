"""Mocking the SDK with aioresponses: the error mapping holds, and the testing guide's recipe runs.

``aioresponses-ng`` (import name ``aioresponses``) replaces aiohttp's request method, so
these run with no server at all; the same documented answers as tests/contract/test_errors.py,
which serves them over loopback, must give the same classes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from support.errors import ENDPOINTS, assert_documented_error, documented_answers

import phygitals_async as p
from phygitals_async.testing import FakeTime

API = "https://api.phygitals.com/_/api/v1"
TESTING_GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "testing.md"
RECIPE_MARK = "<!-- tested: aioresponses recipe -->"


def any_query(path: str) -> re.Pattern[str]:
    """The URL of ``path`` with or without a query string."""
    return re.compile(re.escape(API + path) + r"(\?.*)?$")


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@documented_answers
async def test_documented_error_maps_to_its_class_under_aioresponses(
    mocked: aioresponses,
    endpoint: str,
    status: int,
    message: str,
    expected: type[p.APIStatusError],
) -> None:
    """Each documented (status, error) answer, mocked, raises exactly the documented class."""
    method, path, call = ENDPOINTS[endpoint]
    mocked.add(any_query(path.removeprefix("/_/api/v1")), method, status=status,
               payload={"error": message})  # fmt: skip
    async with p.AsyncPhygitals(api_key="sandbox-test", max_retries=0) as client:
        with pytest.raises(p.APIStatusError) as caught:
            await call(client)
    assert_documented_error(caught.value, expected, status, message, method)


async def test_retry_after_header_reaches_the_rate_limit_error(mocked: aioresponses) -> None:
    """Response headers set on the mock are read as the server's would be."""
    body = {"error": "A buyback request for this item is already being processed"}
    mocked.post(f"{API}/vm/buyback", status=429, payload=body, headers={"Retry-After": "7"})
    async with p.AsyncPhygitals(api_key="sandbox-test", max_retries=0) as client:
        with pytest.raises(p.RateLimitError) as caught:
            await client.sell_back("v1|1|0")
    assert caught.value.retry_after == 7


async def test_retries_consume_one_mock_each(mocked: aioresponses) -> None:
    """A retried GET takes the next registered answer: two 503s, then the payload."""
    for _ in range(2):
        mocked.get(any_query("/vm/available"), status=503, payload={"error": "busy"})
    mocked.get(any_query("/vm/available"), payload=[])
    async with p.AsyncPhygitals(api_key="sandbox-test", max_retries=2) as client:
        FakeTime().attach(client)
        assert await client.list_packs() == []


@pytest.mark.parametrize(
    ("exception", "expected"),
    [
        (aiohttp.ServerDisconnectedError(), p.APIConnectionError),
        (TimeoutError(), p.APITimeoutError),
    ],
)
async def test_transport_failures_map_to_connection_errors(
    mocked: aioresponses, exception: Exception, expected: type[p.PhygitalsError]
) -> None:
    """A mocked disconnect or timeout on a GET is the SDK's connection or timeout error."""
    mocked.get(f"{API}/inventory/u1", exception=exception)
    async with p.AsyncPhygitals(api_key="sandbox-test", max_retries=0) as client:
        with pytest.raises(expected):
            await client.inventory("u1")


async def test_a_purchase_that_may_have_been_sent_is_outcome_unknown(
    mocked: aioresponses,
) -> None:
    """A mocked disconnect on buy is OutcomeUnknownError, never a silent resend."""
    mocked.post(f"{API}/vm/buy/init", exception=aiohttp.ServerDisconnectedError())
    mocked.post(f"{API}/vm/buy/init", payload={"session_id": "s", "nfts": []})
    async with p.AsyncPhygitals(api_key="sandbox-test") as client:
        with pytest.raises(p.OutcomeUnknownError):
            await client.buy("pack", amount=1, user_id="u1")


@pytest.mark.usefixtures("mocked")
async def test_an_unmatched_request_is_a_connection_error() -> None:
    """A request no mock matches fails like a refused connection, not with a mock's error."""
    async with p.AsyncPhygitals(api_key="sandbox-test", max_retries=0) as client:
        with pytest.raises(p.APIConnectionError, match="Connection refused"):
            await client.card("nothing-registered")


def readme_recipe() -> str:
    text = TESTING_GUIDE.read_text()
    assert RECIPE_MARK in text
    match = re.match(r"\s*```python\n(.*?)```", text.split(RECIPE_MARK, 1)[1], re.DOTALL)
    assert match, "the marker must be followed by a ```python block"
    return match.group(1)


async def test_guide_recipe_runs_as_printed() -> None:
    """The testing guide's aioresponses recipe, executed as it stands, passes."""
    namespace: dict[str, Any] = {"__name__": "readme_recipe"}
    # The guide's own code, run to prove it right; nothing else reaches exec.
    code = compile(readme_recipe(), "docs/guides/testing.md (aioresponses recipe)", "exec")
    exec(code, namespace)  # noqa: S102
    tests = [value for name, value in namespace.items() if name.startswith("test_")]
    assert tests
    for test in tests:
        await test()
