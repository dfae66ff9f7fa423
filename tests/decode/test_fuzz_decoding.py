"""Fuzzing the seam's decoding: whatever a server answers, a model or a PhygitalsError.

Every endpoint gets random JSON, random bytes, random number text, and its own valid body
with one value swapped for something hostile, under every status. Each case must end as a
model or a :class:`PhygitalsError` subclass (never another exception), within a wall-clock
bound, with a message under the cap.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.endpoints import ENDPOINT_NAMES, ENDPOINTS, Endpoint, call_of

import phygitals_async as p
from phygitals_async._http._answers import Retryable
from phygitals_async._limits import MAX_MESSAGE_CHARS

# Per case; the unbounded decoder took seconds to forever on the hostile ones.
BOUND = 5.0
STATUSES = [200, 200, 201, 400, 401, 404, 422, 429, 500, 503, 302, 418]
FUZZ = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

HOSTILE = [
    "1e1000000",
    "1e999999999",
    "-1e-999999999",
    "0e999999999",
    "NaN",
    "Infinity",
    "-Infinity",
    '"NaN"',
    '"sNaN"',
    '"-Infinity"',
    '"1e999999999"',
    "9" * 5000,
    "0." + "1" * 5000,
    "[" * 2000 + "]" * 2000,
    '{"a":' * 500 + "1" + "}" * 500,
    "[" * 65 + "]" * 65,
    "null",
    "[]",
    "{}",
    '""',
    "true",
    "-0",
    "1E+2",
    '"\\ud800"',
    '"' + "x" * 200_000 + '"',
    "[" + "null," * 200_000 + "null]",
    '"2026-13-45T99:99:99Z"',
    '"' + "9" * 10_000 + '-01-01"',
]

_TARGETS = {e.name: (e, *call_of(e)) for e in ENDPOINTS}


def decode(name: str, status: int, raw: bytes, retry_after: str = "1") -> object:
    """What the seam makes of one answer: the model, or the PhygitalsError it raises."""
    endpoint, client, call = _TARGETS[name]
    transport = client._transport
    started = time.perf_counter()
    try:
        result: Any = transport.answer(
            call, transport._url(call.path), status, {"Retry-After": retry_after}, raw
        )
    except p.PhygitalsError as exc:
        result = exc
    elapsed = time.perf_counter() - started
    if isinstance(result, Retryable):
        result = result.error
    assert elapsed < BOUND, f"{endpoint.name} took {elapsed:.1f} s"
    if isinstance(result, p.PhygitalsError):
        assert len(str(result)) <= MAX_MESSAGE_CHARS
        if 200 <= status < 300:
            assert isinstance(result, p.ResponseValidationError | p.APIStatusError)
        else:
            assert isinstance(result, p.APIStatusError)
            assert result.status_code == status
    return result


def _paths(
    data: object, prefix: tuple[object, ...] = (), *, elements: int = 3
) -> list[tuple[object, ...]]:
    """Every place of a value in ``data``, looking into the first ``elements`` of arrays."""
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key), elements=elements)
    elif isinstance(data, list):
        for index, value in enumerate(data[:elements]):
            found += _paths(value, (*prefix, index), elements=elements)
    return found


_MARK = "\x00hostile\x00"


def replaced(endpoint: Endpoint, path: tuple[object, ...], token: str) -> bytes:
    """``endpoint.valid`` with the value at ``path`` replaced by the raw JSON ``token``."""
    data = json.loads(endpoint.valid)
    if not path:
        return token.encode("utf-8", "surrogatepass")
    holder = data
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = _MARK
    return json.dumps(data).replace(json.dumps(_MARK), token).encode("utf-8", "surrogatepass")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=25,
)
number_text = st.from_regex(
    r"-?(0|[1-9][0-9]{0,150})(\.[0-9]{1,150})?([eE][+-]?[0-9]{1,12})?", fullmatch=True
)
tokens = (
    st.sampled_from(HOSTILE)
    | number_text
    | json_values.map(json.dumps)
    | st.text(max_size=30).map(json.dumps)
)


@pytest.mark.parametrize("name", ENDPOINT_NAMES)
@FUZZ
@given(value=json_values, status=st.sampled_from(STATUSES))
def test_random_json_is_a_model_or_a_typed_error(name: str, value: object, status: int) -> None:
    """Any JSON document (NaN and Infinity included) decodes or fails typed."""
    decode(name, status, json.dumps(value).encode())


@pytest.mark.parametrize("name", ENDPOINT_NAMES)
@FUZZ
@given(raw=st.binary(max_size=300), status=st.sampled_from(STATUSES), retry=st.text(max_size=12))
def test_random_bytes_are_a_typed_error(name: str, raw: bytes, status: int, retry: str) -> None:
    """Bytes that are not JSON (in any encoding), with any Retry-After, fail typed."""
    decode(name, status, raw, retry)


@pytest.mark.parametrize("name", ENDPOINT_NAMES)
@FUZZ
@given(data=st.data(), status=st.sampled_from([200, 200, 200, 400, 500]))
def test_a_valid_body_with_one_hostile_value_is_a_model_or_a_typed_error(
    name: str, data: st.DataObject, status: int
) -> None:
    """The endpoint's real body with any one value swapped for hostile JSON text."""
    endpoint = _TARGETS[name][0]
    path = data.draw(st.sampled_from(_paths(json.loads(endpoint.valid))))
    decode(name, status, replaced(endpoint, path, data.draw(tokens)))


@pytest.mark.parametrize("name", ENDPOINT_NAMES)
def test_every_hostile_value_in_every_field_ends_typed_and_fast(name: str) -> None:
    """Exhaustively: each hostile token in each place of the endpoint's body, each bounded."""
    endpoint = _TARGETS[name][0]
    # Arrays hold elements of one shape: the first stands for the rest.
    paths = _paths(json.loads(endpoint.valid), elements=1)
    for token in HOSTILE:
        # The megabyte-sized tokens cost the same anywhere: the root and a field suffice.
        for path in paths if len(token) < 10_000 else paths[:2]:
            outcome = decode(name, 200, replaced(endpoint, path, token))
            if token in {"1e999999999", "NaN", "[" * 2000 + "]" * 2000}:
                assert isinstance(outcome, p.ResponseValidationError), (path, token[:20])


@pytest.mark.parametrize("name", ENDPOINT_NAMES)
def test_valid_bodies_still_decode(name: str) -> None:
    """The fuzzing baseline: each endpoint's untouched body is a model, not an error."""
    endpoint = _TARGETS[name][0]
    assert not isinstance(decode(name, 200, endpoint.valid), Exception)
