"""Models to JSON-ready builtins and back: to_dict, to_json, from_dict."""

from __future__ import annotations

import enum
import json
import types
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal, Union, get_args, get_origin

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import TOPPS

import phygitals_async as p
from phygitals_async import _models as models_module
from phygitals_async import cli
from phygitals_async._models import BuybackAnswer
from phygitals_async.testing import LocalSandbox

# The API's models, as exported: every attrs class of the models module.
MODELS: list[type[Any]] = sorted(
    (getattr(p, name) for name in models_module.__all__ if attrs.has(getattr(p, name))),
    key=lambda cls: cls.__name__,
)

# Realistic bounds: the API's numbers are small, and hostile sizes are refused by design.
_money = st.decimals(
    min_value=-(10**9), max_value=10**9, places=4, allow_nan=False, allow_infinity=False
)
_offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
_times = st.datetimes(
    min_value=datetime(1970, 1, 2),  # noqa: DTZ001  bounds of naive values, given a zone below
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.one_of(st.just(UTC), _offsets),
)
_text = st.text(max_size=12)
_ints = st.integers(min_value=-(2**53), max_value=2**53)
_json_scalars = st.one_of(st.none(), st.booleans(), _ints, _text)
_json = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)


def _errors() -> st.SearchStrategy[Exception]:
    status = st.builds(
        lambda cls, message, body, request_id: cls(
            message,
            status_code=400,
            body=body,
            method="POST",
            url="http://127.0.0.1/_/api/v1/vm/buyback",
            headers={"X-Request-Id": request_id, "Content-Type": "application/json"},
        ),
        st.sampled_from([p.ItemExpiredError, p.ItemNotFoundError, p.BadRequestError]),
        _text,
        _json,
        _text,
    )
    limited = st.builds(
        lambda after: p.RateLimitError(
            "busy", status_code=429, body="busy", method="POST", url="u", retry_after=after
        ),
        st.none() | st.floats(min_value=0, max_value=60),
    )
    unknown = st.builds(
        lambda item: p.OutcomeUnknownError(
            "lost", operation="sell_back", arguments={"item_id": item}
        ),
        _text,
    )
    plain = st.builds(
        lambda cls, message: cls(message),
        st.sampled_from([p.APITimeoutError, p.APIConnectionError, p.ClientClosedError]),
        _text,
    )
    return st.one_of(status, limited, unknown, plain)


def _for_type(tp: Any) -> st.SearchStrategy[Any]:  # noqa: PLR0911  one branch per kind of field
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        if set(args) >= {str, int, float, bool, Decimal}:
            # Trait values: the JSON scalars the API sends (README: a Decimal comes back as str).
            finite = st.floats(allow_nan=False, allow_infinity=False)
            return st.one_of(st.none(), st.booleans(), _ints, _text, finite)
        # An open enum draws its members and unknown strings; optionals draw None too.
        return st.one_of(
            *(
                st.sampled_from(list(a))
                if isinstance(a, type) and issubclass(a, enum.Enum)
                else _for_type(a)
                for a in args
            )
        )
    if origin is tuple:
        return st.lists(_for_type(args[0]), max_size=2).map(tuple)
    if origin is Literal:
        return st.sampled_from(args)
    if tp == Mapping[str, Any]:
        return st.dictionaries(_text, _json, max_size=4)
    simple: dict[Any, st.SearchStrategy[Any]] = {
        str: _text,
        int: _ints,
        bool: st.booleans(),
        float: st.floats(allow_nan=False, allow_infinity=False),
        Decimal: _money,
        datetime: _times,
        type(None): st.none(),
        Exception: _errors(),
    }
    if tp in simple:
        return simple[tp]
    assert attrs.has(tp), tp
    return _for_model(tp)


def _for_model(cls: type) -> st.SearchStrategy[Any]:
    # Hypothesis validates a strategy on first use: build each once.
    if cls in _BUILT:
        return _BUILT[cls]
    # Annotations are resolved when the models are defined (before __module__ changes).
    hints = {f.name: f.type for f in attrs.fields(attrs.resolve_types(cls))}
    fields = {f.name: _for_type(hints[f.name]) for f in attrs.fields(cls)}
    if cls is p.Address:
        fields["country"] = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)
    return _BUILT.setdefault(cls, st.builds(cls, **fields))


_BUILT: dict[type, st.SearchStrategy[Any]] = {}


@pytest.mark.parametrize("cls", [*MODELS, BuybackAnswer], ids=lambda cls: cls.__name__)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_every_model_round_trips_through_json(cls: type[Any], data: st.DataObject) -> None:
    """Model.from_dict(m.to_dict()) == m for every model, also through a JSON string."""
    model = data.draw(_for_model(cls))
    as_dict = model.to_dict()
    assert cls.from_dict(as_dict) == model
    assert cls.from_dict(json.loads(model.to_json())) == model
    assert json.loads(json.dumps(as_dict)) == as_dict  # nothing but JSON builtins


def test_every_public_model_is_covered() -> None:
    """The round trip above runs for every public model, the report and failures included."""
    names = {cls.__name__ for cls in MODELS}
    assert {"Pack", "Item", "Inventory", "ShippingOrder", "BulkSellbackReport"} <= names
    assert {"FailedSellback", "PurchasePending", "Address", "Attribute"} <= names
    for cls in MODELS:
        assert callable(cls.from_dict)
        assert callable(cls.to_dict)
        assert callable(cls.to_json)


def test_money_times_and_enums_are_json_ready() -> None:
    """Decimal is its exact string, times keep their offset, enums are values, unknowns stay."""
    order = p.ShippingOrder(
        order_id="o1",
        status=p.OrderStatus.SHIPPED,
        carrier="UPS",
        service="Ground",
        amount=Decimal("12.50"),
        currency="USD",
        destination={"country": "US"},
        items=(p.OrderItem("i1", "card"),),
        created_at=datetime(2026, 4, 30, 17, 42, 11, 123000, tzinfo=timezone(timedelta(hours=2))),
    )
    data = order.to_dict()
    assert data["amount"] == "12.50"
    assert data["status"] == "shipped"
    assert type(data["status"]) is str
    assert data["created_at"] == "2026-04-30T17:42:11.123000+02:00"
    assert data["items"] == [{"item_id": "i1", "name": "card", "image": None, "back_image": None}]
    naive = attrs.evolve(order, created_at=datetime(2026, 1, 2, 3, 4, 5))  # noqa: DTZ001
    assert naive.to_dict()["created_at"] == "2026-01-02T03:04:05+00:00"
    unknown = attrs.evolve(order, status="returned_to_sender")
    assert unknown.to_dict()["status"] == "returned_to_sender"
    assert p.ShippingOrder.from_dict(unknown.to_dict()).status == "returned_to_sender"
    assert json.loads(order.to_json())["amount"] == "12.50"


def test_failed_sellbacks_keep_their_typed_error() -> None:
    """A report's failures come back as the same error class with the same attributes."""
    error = p.ItemExpiredError(
        "Item has expired",
        status_code=400,
        body={"error": "Item has expired"},
        method="POST",
        url="http://127.0.0.1/_/api/v1/vm/buyback",
        headers={"X-Request-Id": "req_1"},
    )
    report = p.BulkSellbackReport(
        succeeded=(p.Sellback("a", Decimal("8.50")),),
        failed=(p.FailedSellback("b", error),),
        elapsed=1.25,
    )
    data = report.to_dict()
    assert data["failed"][0]["error"]["type"] == "ItemExpiredError"
    assert data["failed"][0]["error"]["message"] == "400 Item has expired"
    back = p.BulkSellbackReport.from_dict(data)
    assert back == report
    rebuilt = back.failed[0].error
    assert isinstance(rebuilt, p.ItemExpiredError)
    assert rebuilt.status_code == 400
    assert rebuilt.request_id == "req_1"
    assert back.total_amount == Decimal("8.50")


def test_to_json_writes_only_standard_json() -> None:
    """A hand-built non-finite float is refused rather than written as non-JSON Infinity."""
    with pytest.raises(ValueError, match="JSON"):
        p.Attribute("Grade", float("inf")).to_json()
    assert json.loads(p.Attribute("Grade", 9.5).to_json()) == {"trait_type": "Grade", "value": 9.5}


def test_from_dict_rejects_a_wrong_shape_with_a_typed_error() -> None:
    """A dict that is not the model raises InvalidRequestError naming the field."""
    with pytest.raises(p.InvalidRequestError, match="buyback_price"):
        p.Item.from_dict({"id": "x", "buyback_price": "lots", "content": {"metadata": {}}})


async def test_sandbox_models_round_trip(client: p.AsyncPhygitals) -> None:
    """What the sandbox returns survives to_dict/from_dict unchanged."""
    purchase = await client.buy(TOPPS, amount=3, user_id="u1")
    result = await client.wait_for_purchase(purchase.session_id, interval=0)
    inventory = await client.inventory("u1")
    packs = await client.list_packs()
    quote = await client.ship_quote(
        [inventory.items[0]], destination=p.Address("Jane", "1 Main St", "Austin", "US")
    )
    for model in [
        purchase,
        result,
        inventory,
        *packs,
        quote,
        await client.card(inventory.items[1]),
    ]:
        assert type(model).from_dict(json.loads(model.to_json())) == model


def test_cli_json_is_to_dict(
    threaded: LocalSandbox, sync_client: p.Phygitals, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command line's --json prints exactly what to_dict returns."""
    sync_client.buy(TOPPS, amount=2, user_id="u1")
    inventory = sync_client.inventory("u1")
    arguments = ["--api-key", "sandbox-cli", "--base-url", threaded.url, "--json"]
    assert cli.main([*arguments, "inventory", "u1"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == inventory.to_dict()
    assert p.Inventory.from_dict(printed) == inventory


def test_equal_failures_hash_alike() -> None:
    """Failures read back from JSON are equal to and hash like the originals."""
    error = p.OutcomeUnknownError("lost", operation="sell_back", arguments={"item_id": "a"})
    failure = p.FailedSellback("a", error)
    again = p.FailedSellback.from_dict(failure.to_dict())
    assert again == failure
    assert again.error is not error
    assert len({failure, again}) == 1
    assert again != p.FailedSellback(
        "a", p.OutcomeUnknownError("lost", operation="x", arguments={})
    )
