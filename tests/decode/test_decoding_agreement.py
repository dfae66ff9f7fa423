"""The msgspec path (the speedups extra) and the converter agree on every body.

Hypothesis writes valid bodies for every endpoint's response type, then breaks them (a field
dropped, added or holding another JSON value, a number the converter refuses, the error
envelope); the seam decodes each body both ways, in strict and production mode, and the
outcomes must be the same model (same repr) or the same error class with the same message.
This module runs in the CI pass that installs the extra.
"""

from __future__ import annotations

import enum
import json
import pickle
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from types import NoneType, UnionType
from typing import Any, Literal, Union, get_args, get_origin

import attrs
import pytest
import yarl

pytest.importorskip("msgspec", reason="the speedups extra is tested in its own CI pass")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.decoding_cases import RESPONSE_TYPES, sandbox_bodies

from phygitals_async import (
    AsyncPhygitals,
    Inventory,
    Pack,
    PurchasePending,
    PurchaseResult,
)
from phygitals_async._decode._converter import NOT_DECODED, fast_decoder, make_converter
from phygitals_async._http import _answers
from phygitals_async._http._answers import Retryable
from phygitals_async._http._calls import Call, Retry, RetryPolicy
from phygitals_async._http._transport import Transport
from phygitals_async._models import AttributeValue


@attrs.frozen
class Raw:
    """JSON text written into a body as it is (``NaN``, ``1e1000000``, ``-0``...)."""

    text: str


def dump(value: object) -> str:
    """JSON text with ``Decimal`` written as the number it is (no float on the way)."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dump(v) for v in value) + "]"
    return json.dumps(value)


money = st.one_of(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=2, min_value=-(10**9), max_value=10**9
    ),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.integers(),
)
odd_money = st.sampled_from(
    [
        *("2.25", " 3 ", "1_000", "-0", "\u0661", "1e5", "0x10", "", "NaN", "sNaN", "Infinity"),
        *(Raw("-0"), Raw("1E2"), Raw("1.0"), Raw("0.1e-3"), Raw("-0.0"), Raw("10.0")),
        *(Raw("NaN"), Raw("Infinity"), Raw("1e400"), Raw("-1e-400"), Raw("1e1000000")),
        *(Raw("123456789012345678901234567890"), Raw("1" * 101), Raw("1" * 5000)),
    ]
)
zones = st.sampled_from([None, UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-7))])
times = st.one_of(
    st.builds(lambda d, z: d.replace(tzinfo=z).isoformat(), st.datetimes(), zones),
    st.builds(lambda d: d.isoformat(timespec="milliseconds") + "Z", st.datetimes()),
)
odd_times = st.sampled_from(
    [
        "2026-04-18t19:05:14z",
        "2026-04-18 19:05:14Z",
        "2026-04-18T19:05:14.1234567Z",
        "2026-04-18T19:05:14.9999999Z",
        "2026-04-18",
        "2026-04-18T19:05Z",
        "2026-04-18T19:05:14+0200",
        "20260418T190514",
        "2026-04-18T23:59:60Z",
        "yesterday",
    ]
)
texts = st.one_of(st.text(max_size=6), st.sampled_from(["", "error", "pending", "é\u2028"]))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    texts,
    st.decimals(allow_nan=False, allow_infinity=False),
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3)
)
WRONG = st.one_of(
    json_values,
    odd_money,
    odd_times,
    st.sampled_from([Raw('"\\ud800"'), "alt", "graded-slab", "label_created", "error"]),
)


def valid(tp: Any) -> st.SearchStrategy[Any]:  # noqa: C901, PLR0911, PLR0912  one case per field type
    """Bodies the converter accepts for ``tp``."""
    if tp is str:
        return texts
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers()
    if tp is Decimal:
        return money
    if tp is datetime:
        return times
    if tp == Mapping[str, Any]:
        return st.dictionaries(texts, json_values, max_size=4)
    if tp == AttributeValue:
        return scalars
    args = get_args(tp)
    if get_origin(tp) is Literal:
        return st.sampled_from(args)
    if get_origin(tp) in (Union, UnionType):
        enums = [a for a in args if isinstance(a, type) and issubclass(a, enum.Enum)]
        options = [valid(a) for a in args if a is not NoneType and not enums]
        if enums:
            options += [st.sampled_from([m.value for m in enums[0]]), texts]
        if NoneType in args:
            options.append(st.none())
        return st.one_of(options)
    if get_origin(tp) in (tuple, list):
        return st.lists(valid(args[0]), max_size=3)
    if attrs.has(tp):
        fields = attrs.fields(attrs.resolve_types(tp))
        return st.fixed_dictionaries(
            {f.name: valid(f.type) for f in fields if f.default is attrs.NOTHING},
            optional={f.name: valid(f.type) for f in fields if f.default is not attrs.NOTHING},
        )
    msg = f"no strategy for {tp!r}"
    raise TypeError(msg)


def status_bodies() -> st.SearchStrategy[Any]:
    """``buy/status``: ``{"result": {...}}``, ``{"status": "pending"}``, and near misses."""
    return st.one_of(
        st.fixed_dictionaries(
            {"result": valid(PurchaseResult)},
            optional={"status": st.sampled_from(["pending", "error", "done"])},
        ),
        st.fixed_dictionaries({}, optional={"status": st.sampled_from(["pending", "x", None])}),
        st.fixed_dictionaries({"result": st.none() | st.just({})}),
    )


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``value``: object keys and array indexes."""
    found = [path]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _places(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _places(inner, (*path, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], change: Callable[[Any], Any]) -> Any:
    if not path:
        return change(value)
    head, rest = path[0], path[1:]
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = _replace(value[head], rest, change)
    return copy


@st.composite
def broken(draw: st.DrawFn, value: Any) -> Any:
    """``value`` changed in one place: a value replaced, a key dropped or one added.

    The place is drawn among all of them, so a card trait's value is as likely as the top.
    """
    path = draw(st.sampled_from(_places(value)))
    action = draw(st.sampled_from(["replace", "drop", "add"]))
    if action == "replace" or not path:
        return _replace(value, path, lambda _: draw(WRONG))
    parent, key = path[:-1], path[-1]
    if action == "drop":
        return _replace(
            value,
            parent,
            lambda p: {k: v for k, v in p.items() if k != key} if isinstance(p, dict) else p[1:],
        )
    extra = draw(st.sampled_from(["status", "rarity", "result", f"{key}_"]))
    added = draw(st.sampled_from(["error", "pending", 1, None]))
    return _replace(value, parent, lambda p: p | {extra: added} if isinstance(p, dict) else p)


def body_for(into: Any) -> st.SearchStrategy[str]:
    """Valid bodies for ``into``, broken ones, and a few that are not JSON at all."""
    shapes = status_bodies() if into == PurchaseResult | PurchasePending else valid(into)
    bodies = st.one_of(shapes, shapes.flatmap(broken)).map(dump)
    return bodies | bodies.map(lambda text: text[: len(text) // 2]) | st.just("")


def transport(strict: bool, fast: bool) -> Transport:
    """A seam that is never connected: only its decoding runs."""
    seam = AsyncPhygitals(api_key="sandbox-k", base_url="http://127.0.0.1:9")._transport
    seam._reader.converter = make_converter(strict=strict)
    seam._reader.fast = fast_decoder(strict=strict) if fast else None
    return seam


URL = yarl.URL("http://127.0.0.1:9/api/v1/x")


def outcome(seam: Transport, raw: bytes, into: Any, retry: RetryPolicy) -> tuple[object, ...]:
    """What the seam makes of ``raw``: the model's repr, or the error's class and message."""
    call: Call[Any] = Call("op", "GET", "/api/v1/x", retry, into)
    try:
        reader = seam._reader
        result = _answers.decode(call, URL, raw, {}, reader.converter, reader.fast)
    except Exception as exc:  # noqa: BLE001  compared below, class and message
        return ("raised", type(exc), str(exc))
    if isinstance(result, Retryable):
        return ("retry", type(result.error), str(result.error))
    return ("model", repr(result))


PATHS: dict[bool, tuple[Transport, Transport]] = {
    strict: (transport(strict, fast=True), transport(strict, fast=False))
    for strict in (False, True)
}


@pytest.mark.parametrize("strict", [False, True], ids=["production", "strict"])
@pytest.mark.parametrize(
    ("into", "retry"), RESPONSE_TYPES, ids=lambda v: getattr(v, "__name__", None)
)
# Derandomized: the same bodies on every CI run, so a failure is reproducible, not flaky.
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_both_paths_decode_every_body_alike(
    into: Any, retry: RetryPolicy, strict: bool, data: st.DataObject
) -> None:
    """Msgspec and the converter give the same model, or the same error, for any body."""
    raw = data.draw(body_for(into), label="body").encode("utf-8", "surrogatepass")
    fast, pure = PATHS[strict]
    assert outcome(fast, raw, into, retry) == outcome(pure, raw, into, retry)


def _decoders() -> list[tuple[bool, Callable[[bytes, Any], Any]]]:
    found = []
    for strict in (False, True):
        decoder = fast_decoder(strict=strict)
        assert decoder is not None
        found.append((strict, decoder))
    return found


def _hash(value: object) -> object:
    try:
        return hash(value)
    except TypeError as exc:  # a list, or a model holding the destination mapping
        return str(exc)


def test_fast_path_decodes_every_sandbox_body_itself() -> None:
    """Each documented response shape, as the sandbox writes it, never falls back."""
    for strict, decode in _decoders():
        reference = make_converter(strict=strict)
        for data, into in sandbox_bodies():
            raw = dump(data).encode()
            result = decode(raw, into)
            assert result is not NOT_DECODED, (strict, into)
            expected = reference.structure(data, into)
            assert repr(result) == repr(expected)
            assert result == expected
            # Built without __init__ (see _fastdecode.construct): still hashable alike, and
            # still round-trips through pickle.
            assert pickle.loads(pickle.dumps(result)) == expected  # noqa: S301  our own bytes
            assert _hash(result) == _hash(expected)


def test_money_stays_exact_and_unknown_enum_values_stay_strings() -> None:
    """Amounts keep their digits, known enum values become members, new ones stay strings."""
    body = {
        "id": "i",
        "buyback_price": Raw("0.10000000000000000000001"),
        "type": "graded-slab",
        "content": {
            "metadata": {"name": "n", "attributes": [{"trait_type": "t", "value": Raw("1.50")}]}
        },
        "purchased_at": "2026-04-18T19:05:14",
    }
    for _, decode in _decoders():
        inventory = decode(dump({"user_id": "u", "items": [body]}).encode(), Inventory)
        assert inventory is not NOT_DECODED
        (item,) = inventory.items
        assert item.buyback_price == Decimal("0.10000000000000000000001")
        assert item.type == "graded-slab"
        assert type(item.type) is str
        assert item.content.metadata.attributes[0].value == Decimal("1.50")
        assert item.purchased_at == datetime(2026, 4, 18, 19, 5, 14, tzinfo=UTC)
        known = decode(
            dump({"user_id": "u", "items": [body | {"type": "alt"}]}).encode(), Inventory
        )
        assert repr(known.items[0].type) == "<ItemType.ALT: 'alt'>"


ITEM_TEXT = '{"id": "i", "buyback_price": %s, "content": {"metadata": {"name": "n"}}}'


@pytest.mark.parametrize(
    "text",
    [
        '{"user_id": "u", "items": [], "status": "error", "error_message": "no"}',
        '{"user_id": "u", "items": [%s]}' % (ITEM_TEXT % "NaN"),
        '{"user_id": "u", "items": [], "extra": 1}',
    ],
)
def test_fast_path_leaves_envelopes_and_odd_bodies_to_the_converter(text: str) -> None:
    """The error envelope, NaN and unknown fields are left to the converter.

    Unknown fields too in production mode: there the converter checks, then ignores them.
    """
    for _, decode in _decoders():
        assert decode(text.encode(), Inventory) is NOT_DECODED


DEEP = "[" * 200 + "]" * 200
# Around the bound on a number's text (100 characters): the first and third pass.
LONG_INTEGERS = ("9" * 100, "1" + "0" * 100, "-" + "9" * 99, "-" + "9" * 100)
HOSTILE = [
    ("buyback_price", "1e1000000"),
    ("buyback_price", "-1e-1000000"),
    ("buyback_price", '"1e1000000"'),
    ("buyback_price", '"' + "0" * 150 + '1"'),
    ("buyback_price", "NaN"),
    ("buyback_price", '"NaN"'),
    ("buyback_price", '"-Infinity"'),
    ("buyback_price", "1" * 5000),
    ("buyback_price", "0." + "0" * 120 + "1"),
    ("mint_address", DEEP),
    ("unknown", DEEP),
    ("unknown", "1e1000000"),
    ("unknown", "1" * 5000),
    ("content", '{"metadata": {"name": "n", "attributes": [{"trait_type": "t", "value": %s}]}}'),
]


@pytest.mark.parametrize("strict", [False, True], ids=["production", "strict"])
@pytest.mark.parametrize(("field", "value"), HOSTILE, ids=lambda v: str(v)[:20])
def test_hostile_numbers_and_nesting_decode_alike(field: str, value: str, strict: bool) -> None:
    """Huge or non-finite numbers and deep nesting, anywhere, end the same on both paths."""
    fillings = ("1e1000000", "1" * 5000, DEEP, "NaN", *LONG_INTEGERS)
    texts = [value % filling for filling in fillings] if "%s" in value else [value]
    fast, pure = PATHS[strict]
    for text in texts:
        item = {"id": "i", "buyback_price": 1, "content": {"metadata": {"name": "n"}}}
        item.pop(field, None)
        raw = dump({"user_id": "u", "items": [item | {field: Raw(text)}]}).encode()
        expected = outcome(pure, raw, Inventory, Retry.SAFE)
        assert outcome(fast, raw, Inventory, Retry.SAFE) == expected


async def test_a_client_over_loopback_decodes_through_msgspec(client: AsyncPhygitals) -> None:
    """Every documented response of the local sandbox takes the fast path, end to end."""
    from support import ADDRESS, TOPPS  # noqa: PLC0415  the shared sandbox fixtures

    seam = client._transport
    decode = seam._reader.fast
    assert decode is not None
    taken: list[tuple[Any, bool]] = []

    def spy(raw: bytes, into: Any) -> Any:
        result = decode(raw, into)
        taken.append((into, result is not NOT_DECODED))
        return result

    seam._reader.fast = spy
    await client.list_packs()
    purchase = await client.buy(TOPPS, amount=2, user_id="u1")
    result = await client.wait_for_purchase(purchase.session_id, interval=0)
    await client.card(result.nfts[0])
    await client.recent_pulls([TOPPS])
    inventory = await client.inventory("u1")
    sale = await client.sell_back(inventory.items[0])
    quote = await client.ship_quote([inventory.items[1]], destination=ADDRESS)
    created = await client.ship_request(quote.quotes[0])
    await client.ship_order(created.order_id)
    assert sale.amount == inventory.items[0].buyback_price
    assert len(taken) >= 10
    assert all(fast for _, fast in taken), [into for into, fast in taken if not fast]


@pytest.mark.parametrize("strict", [False, True], ids=["production", "strict"])
@pytest.mark.parametrize("number", [*LONG_INTEGERS, "1e1000000", "10.0", "1E2"])
def test_integer_fields_take_the_same_numbers(number: str, strict: bool) -> None:
    """An integer field takes exactly the numbers the converter takes, up to the bound."""
    pack = {
        "id": "p",
        "name": "n",
        "platform": "mainnet",
        "enable": True,
        "in_stock": True,
        "mint_price": 1,
        "max_per_mint": Raw(number),
        "buyback_percent": Raw("0.85"),
    }
    fast, pure = PATHS[strict]
    raw = dump([pack]).encode()
    assert outcome(fast, raw, list[Pack], Retry.SAFE) == outcome(pure, raw, list[Pack], Retry.SAFE)
