"""The converter: exact money, aware times, tolerant of new fields and enum values."""

from __future__ import annotations

import enum
import json
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal

import attrs
import cattrs
import pytest
from support.decoding_cases import RESPONSE_TYPES, sandbox_bodies

import phygitals_async
from phygitals_async import (
    Attribute,
    Inventory,
    Item,
    ItemType,
    OrderStatus,
    Pack,
    PurchasePending,
    PurchaseResult,
    ShippingOrder,
)
from phygitals_async._decode._converter import explain, make_converter

ITEM: dict[str, Any] = {
    "id": "i",
    "buyback_price": Decimal("8.50"),
    "content": {"metadata": {"name": "n", "attributes": [{"trait_type": "Year", "value": 2024}]}},
}
LENIENT = make_converter()
STRICT = make_converter(strict=True)


def test_money_keeps_the_digits_the_server_wrote() -> None:
    """Amounts parsed from JSON text keep every digit; ints and numeric strings work too."""
    data = json.loads(
        '{"id": "i", "buyback_price": 0.1, "content": {"metadata": {"name": "n"}}}',
        parse_float=Decimal,
    )
    assert LENIENT.structure(data, Item).buyback_price == Decimal("0.1")
    assert LENIENT.structure(ITEM | {"buyback_price": 3}, Item).buyback_price == Decimal(3)
    assert LENIENT.structure(ITEM | {"buyback_price": "2.25"}, Item).buyback_price == Decimal(
        "2.25"
    )


@pytest.mark.parametrize("bad", [True, 1.5, "lots", None, [1]])
def test_money_rejects_non_numbers_and_binary_floats(bad: object) -> None:
    """Booleans, binary floats, words and nulls are not money."""
    with pytest.raises(Exception):  # noqa: B017, PT011  cattrs wraps as it likes
        LENIENT.structure(ITEM | {"buyback_price": bad}, Item)
    assert explain(ITEM | {"buyback_price": bad}, Item)


def test_a_float_amount_is_refused_saying_how_to_parse_json() -> None:
    """from_dict of json.loads output names the float and the parse_float=Decimal fix."""
    refused = r"binary float 8\.5 .*parse_float=Decimal"
    with pytest.raises(phygitals_async.InvalidRequestError, match=refused):
        phygitals_async.Sellback.from_dict(json.loads('{"item_id": "x", "amount": 8.5}'))
    exact = json.loads('{"item_id": "x", "amount": 8.50}', parse_float=Decimal)
    assert phygitals_async.Sellback.from_dict(exact).amount == Decimal("8.50")


def test_times_are_timezone_aware() -> None:
    """Z, offsets and naive times all decode to aware datetimes (naive taken as UTC)."""
    for text, expected in [
        ("2026-04-18T19:05:14.000Z", datetime(2026, 4, 18, 19, 5, 14, tzinfo=UTC)),
        (
            "2026-04-18T21:05:14+02:00",
            datetime(2026, 4, 18, 21, 5, 14, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("2026-04-18T19:05:14", datetime(2026, 4, 18, 19, 5, 14, tzinfo=UTC)),
    ]:
        item = LENIENT.structure(ITEM | {"purchased_at": text}, Item)
        assert item.purchased_at == expected
        assert item.purchased_at is not None
        assert item.purchased_at.tzinfo is not None
    with pytest.raises(Exception):  # noqa: B017, PT011
        LENIENT.structure(ITEM | {"purchased_at": 1713467114}, Item)


def test_unknown_fields_ignored_unless_strict() -> None:
    """A field the models do not know is dropped normally and refused in strict mode."""
    data = ITEM | {"rarity": "mythic"}
    assert LENIENT.structure(data, Item).id == "i"
    with pytest.raises(cattrs.ForbiddenExtraKeysError):
        STRICT.structure(data, Item)
    wrapped = {
        "result": {"session_id": "s", "user_id": "u", "public_id": "p", "nfts": [], "tx_hash": "t"},
        "extra": 1,
    }
    status: Any = PurchaseResult | PurchasePending
    assert isinstance(LENIENT.structure(wrapped, status), PurchaseResult)
    with pytest.raises(ValueError, match="extra"):
        STRICT.structure(wrapped, status)


def test_open_enums_keep_new_values() -> None:
    """Known values become members; new values stay strings; non-strings are refused."""
    assert LENIENT.structure(ITEM | {"type": "alt"}, Item).type is ItemType.ALT
    assert LENIENT.structure(ITEM | {"type": "graded-slab"}, Item).type == "graded-slab"
    assert LENIENT.structure(ITEM | {"type": None}, Item).type is None
    order_status: Any = OrderStatus | str
    assert LENIENT.structure("label_created", order_status) is OrderStatus.LABEL_CREATED
    with pytest.raises(Exception):  # noqa: B017, PT011
        LENIENT.structure(ITEM | {"type": 3}, Item)


@pytest.mark.parametrize(
    ("field", "bad"),
    [("id", 5), ("content", "text"), ("content", {"metadata": {"name": 1}})],
)
def test_wrong_types_are_refused(field: str, bad: object) -> None:
    """Strings stay strings and objects stay objects: no silent coercion."""
    with pytest.raises(Exception):  # noqa: B017, PT011
        LENIENT.structure(ITEM | {field: bad}, Item)


def test_attribute_values_of_any_scalar_type() -> None:
    """Trait values may be strings, numbers, booleans or null; objects are refused."""
    for value in ("2024", 2024, 9.5, True, None):
        attribute = LENIENT.structure({"trait_type": "t", "value": value}, Attribute)
        assert attribute.value == value
    with pytest.raises(TypeError):
        LENIENT.structure({"trait_type": "t", "value": {"nested": 1}}, Attribute)
    with pytest.raises(TypeError):
        LENIENT.structure(["t", 1], Attribute)


def test_equal_traits_share_one_instance_but_keep_their_type() -> None:
    """Repeated traits decode to one shared (frozen) object; 1, 1.0, True and "1" stay apart."""
    values: list[object] = [1, 1.0, True, Decimal(1), "1", None]
    first = [LENIENT.structure({"trait_type": "t", "value": v}, Attribute) for v in values]
    again = [LENIENT.structure({"trait_type": "t", "value": v}, Attribute) for v in values]
    assert [type(a.value) for a in first] == [type(v) for v in values]
    assert all(a is b for a, b in zip(first, again, strict=True))
    with pytest.raises(TypeError):
        LENIENT.structure({"trait_type": "t", "value": [1]}, Attribute)
    with pytest.raises(TypeError):
        LENIENT.structure({"trait_type": 1, "value": "x"}, Attribute)


def test_integers_and_booleans_are_exact() -> None:
    """An integral number is an int; a bool is not an int and an int is not a bool."""
    pack = {
        "id": "p",
        "name": "n",
        "platform": "mainnet",
        "enable": True,
        "in_stock": True,
        "mint_price": Decimal(1),
        "max_per_mint": Decimal("10.0"),
        "buyback_percent": Decimal("0.85"),
    }
    assert LENIENT.structure(pack, Pack).max_per_mint == 10
    for field, bad in (("max_per_mint", True), ("max_per_mint", Decimal("2.5")), ("enable", 1)):
        with pytest.raises(Exception):  # noqa: B017, PT011
            LENIENT.structure(pack | {field: bad}, Pack)


class _Tier(enum.Enum):
    GOLD = "gold"


@attrs.frozen
class _Literals:
    ok: Literal[True]
    tier: Literal[_Tier.GOLD]
    count: Literal[1] | None = None


def test_a_literal_is_its_value_of_its_json_type() -> None:
    """``1`` and ``1.0`` equal ``true`` but are not it; an enum literal is read by its value."""
    read = LENIENT.structure({"ok": True, "tier": "gold", "count": 1}, _Literals)
    assert read == _Literals(ok=True, tier=_Tier.GOLD, count=1)
    assert LENIENT.structure(LENIENT.unstructure(read), _Literals) == read
    # Some cattrs versions unstructure an enum literal to the member itself.
    assert LENIENT.structure({"ok": True, "tier": _Tier.GOLD}, _Literals).tier is _Tier.GOLD
    for field, bad in (("ok", 1), ("ok", Decimal("1.0")), ("count", True), ("tier", "GOLD")):
        with pytest.raises(ValueError, match="expected"):
            LENIENT.structure({"ok": True, "tier": "gold", field: bad}, _Literals)


def test_tuples_need_arrays_and_destination_needs_an_object() -> None:
    """A list field given an object, or a mapping field given a list, is refused."""
    with pytest.raises(TypeError):
        LENIENT.structure({"user_id": "u", "items": {"0": ITEM}}, Inventory)
    order = {
        "order_id": "o",
        "status": "queued",
        "carrier": "c",
        "service": "s",
        "amount": Decimal(1),
        "currency": "USD",
        "destination": ["US"],
        "items": [],
        "created_at": "2026-01-01T00:00:00Z",
    }
    with pytest.raises(Exception):  # noqa: B017, PT011
        LENIENT.structure(order, ShippingOrder)
    assert explain(order, ShippingOrder)
    assert explain(order | {"destination": {}}, ShippingOrder) == []


def test_generated_hooks_agree_with_cattrs() -> None:
    """The fast hooks decode sandbox output exactly as cattrs' own functions do, and fail alike."""
    from phygitals_async.testing import SandboxState  # noqa: PLC0415  only this test needs it

    state = SandboxState(seed=3)
    for pack in (
        "BSG6DyEihFFtfvxtL9mKYsvTwiZXB1rq5gARMTJC2xAM",
        "D1g1ta1LegendsEnftPackQw3rTy8uIoP4sDfGhJkLzXc",
    ):
        state.buy({"id": pack, "amount": 5, "user_id": "u"})
    body = json.dumps(state.inventory("u"), default=float)
    data = json.loads(body, parse_float=Decimal)
    fast, reference = make_converter(strict=True), make_converter(strict=True, detailed=True)
    assert fast.structure(data, Inventory) == reference.structure(data, Inventory)
    packs = json.loads(json.dumps(state.list_packs("mainnet"), default=float), parse_float=Decimal)
    assert fast.structure(packs, list[Pack]) == reference.structure(packs, list[Pack])
    item = data["items"][0]
    breakages: list[dict[str, Any]] = [
        {"id": None},
        {"mint_address": 7},
        {"content": {"metadata": {}}},
        {"purchased_at": "yesterday"},
        {"unknown": 1},
    ]
    for broken in breakages:
        mutated = item | broken
        with pytest.raises(Exception):  # noqa: B017, PT011  each converter raises its own way
            fast.structure(mutated, Item)
        with pytest.raises(Exception):  # noqa: B017, PT011
            reference.structure(mutated, Item)
    missing = {k: v for k, v in item.items() if k != "buyback_price"}
    with pytest.raises(KeyError):
        fast.structure(missing, Item)


def test_the_shared_bodies_cover_every_response_type() -> None:
    """Every type a response is decoded into has a sandbox body among the shared cases."""
    assert {into for _, into in sandbox_bodies()} == {into for into, _ in RESPONSE_TYPES}


WRONG_VALUES: list[object] = [None, 1, True, Decimal("1.5"), "x", "2026-01-01T00:00:00", [], {}]


def _mutations(data: object) -> list[object]:
    """Copies of ``data`` with one object field missing or holding another JSON value."""
    found: list[object] = []
    if isinstance(data, list):
        for index, value in enumerate(data[:2]):
            found += [[*data[:index], changed, *data[index + 1 :]] for changed in _mutations(value)]
    elif isinstance(data, dict):
        for key, value in data.items():
            found.append({k: v for k, v in data.items() if k != key})
            found += [data | {key: wrong} for wrong in WRONG_VALUES]
            found += [data | {key: changed} for changed in _mutations(value)]
    return found


def _outcome(conv: cattrs.Converter, data: object, into: Any) -> object:
    try:
        return conv.structure(data, into)
    except Exception:  # noqa: BLE001  only whether it failed is compared
        return "failed"


@pytest.mark.parametrize("strict", [False, True])
def test_generated_hooks_agree_on_every_field(strict: bool) -> None:
    """The fast hooks and cattrs' own agree on every field missing or holding a wrong value.

    For each response shape, every mutation decodes to the same model under both, or
    fails under both.
    """
    fast = make_converter(strict=strict)
    reference = make_converter(strict=strict, detailed=True)
    checked = 0
    for data, into in sandbox_bodies():
        assert _outcome(fast, data, into) != "failed", into
        for mutated in [data, *_mutations(data)]:
            assert _outcome(fast, mutated, into) == _outcome(reference, mutated, into), mutated
            checked += 1
    assert checked > 1000


def test_without_msgspec_the_converter_decodes_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """With msgspec missing, or switched off, there is no fast path and nothing else changes."""
    from phygitals_async._decode._converter import (  # noqa: PLC0415
        SPEEDUPS_ENV,
        _msgspec_installed,
        fast_decoder,
    )

    monkeypatch.setitem(sys.modules, "msgspec", None)
    monkeypatch.delitem(sys.modules, "phygitals_async._decode._fast", raising=False)
    monkeypatch.delattr(sys.modules["phygitals_async._decode"], "_fast", raising=False)
    _msgspec_installed.cache_clear()
    try:
        assert fast_decoder() is None
    finally:
        monkeypatch.undo()
        _msgspec_installed.cache_clear()
    monkeypatch.setenv(SPEEDUPS_ENV, "0")
    assert fast_decoder() is None
    async_client = phygitals_async.AsyncPhygitals(
        api_key="sandbox-k", base_url="http://127.0.0.1:9"
    )
    assert async_client._transport._reader.fast is None


@attrs.frozen
class _Checked:
    """A model whose __init__ does more than set fields: its validator must still run."""

    amount: int = attrs.field(validator=attrs.validators.gt(0))


def test_models_with_validators_are_built_through_init() -> None:
    """Slots are set directly only where __init__ would do nothing else."""
    assert LENIENT.structure({"amount": 2}, _Checked) == _Checked(2)
    with pytest.raises(ValueError, match="amount"):
        LENIENT.structure({"amount": 0}, _Checked)
    item = LENIENT.structure(ITEM, Item)
    assert item == Item("i", Decimal("8.50"), item.content)
    assert hash(item) == hash(Item("i", Decimal("8.50"), item.content))
