"""The converter's value hooks: each JSON value checked and converted into its field's type.

Money, integers and times are bounded (see :mod:`.._limits`); every value shown in an error
goes through :func:`.._limits.short_repr`. The hook choices are listed in :mod:`._converter`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, get_args, get_origin

import cattrs
from cattrs.errors import IterableValidationNote
from cattrs.gen import make_dict_structure_fn

from .._limits import MAX_NUMBER_CHARS, BodyError, bounded_decimal, check_decimal, short_repr
from .._models import Attribute
from ._types import non_null, open_enum

# An int of more bits than this has more than MAX_NUMBER_CHARS digits.
_MAX_INT_BITS = int(MAX_NUMBER_CHARS * 3.33)


def structure_decimal(value: object, _: type) -> Decimal:
    if isinstance(value, Decimal):
        return check_decimal(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return check_decimal(Decimal(_bounded_int(value)))
    if isinstance(value, str):
        try:
            return bounded_decimal(value)
        except BodyError as exc:
            msg = f"expected a finite number, got {exc}"
            raise ValueError(msg) from None
    if isinstance(value, float):
        # Not exact: JSON parsed without parse_float=Decimal has already rounded it.
        msg = (
            f"expected an exact number, got the binary float {short_repr(value)}"
            " (parse JSON with json.loads(text, parse_float=Decimal))"
        )
        raise TypeError(msg)
    msg = f"expected a number, got {short_repr(value)}"
    raise ValueError(msg)


def _bounded_int(value: int) -> int:
    if value.bit_length() > _MAX_INT_BITS:
        msg = f"integer of {value.bit_length()} bits is out of range"
        raise ValueError(msg)
    return value


def structure_datetime(value: object, _: type) -> datetime:
    if not isinstance(value, str):
        msg = f"expected an ISO 8601 string, got {short_repr(value)}"
        raise TypeError(msg)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def structure_str(value: object, _: type) -> str:
    if isinstance(value, str):
        return value
    msg = f"expected a string, got {short_repr(value)}"
    raise TypeError(msg)


def structure_int(value: object, _: type) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return _bounded_int(value)
    # Bounded first: int(Decimal("1e999999999")) would build a billion-digit integer.
    if isinstance(value, Decimal) and check_decimal(value) == value.to_integral_value():
        return int(value)
    msg = f"expected an integer, got {short_repr(value)}"
    raise TypeError(msg)


def structure_bool(value: object, _: type) -> bool:
    if isinstance(value, bool):
        return value
    msg = f"expected a boolean, got {short_repr(value)}"
    raise TypeError(msg)


def make_literal_hook(tp: Any) -> Callable[[object, Any], object]:
    """``Literal[...]``: one of the listed values, of its JSON type too.

    cattrs' own check is ``in``, so ``1`` and ``1.0`` passed for ``True``: a buyback answer
    saying ``"success": 1`` is not the documented ``true``, and the model would hold ``1``.
    """
    values = get_args(tp)
    # Each literal as JSON writes it (an enum member as its value), and what it decodes to.
    forms = [(v.value if isinstance(v, Enum) else v, v) for v in values]

    def hook(value: object, _: Any) -> object:
        for written, literal in forms:
            # The literal itself too: an unstructured model may keep an enum member as is.
            if value is literal or (value.__class__ is written.__class__ and value == written):
                return literal
        listed = ", ".join(json.dumps(w, default=str) for w, _ in forms)
        msg = f"expected {listed}, got {short_repr(value)}"
        raise ValueError(msg)

    return hook


def make_open_enum_hook(tp: Any) -> Callable[[object, Any], object]:
    enum_type = open_enum(tp)
    assert enum_type is not None  # noqa: S101  only called where the predicate matched
    nullable = type(None) in get_args(tp)

    def hook(value: object, _: Any) -> object:
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            msg = f"expected a string, got {short_repr(value)}"
            raise TypeError(msg)
        try:
            return enum_type(value)
        except ValueError:
            return value

    return hook


def structure_attribute(value: object, _: Any) -> Attribute:
    if not isinstance(value, dict):
        msg = f"expected an object, got {short_repr(value)}"
        raise TypeError(msg)
    trait, trait_value = value["trait_type"], value["value"]
    # The type is part of the key: 1, 1.0, True and Decimal(1) are equal but not the same.
    key = (trait, trait_value.__class__, trait_value)
    try:
        return _ATTRIBUTES[key]
    except (KeyError, TypeError):  # not seen yet, or unhashable (and so refused below)
        pass
    if not isinstance(trait, str) or not isinstance(trait_value, _ATTRIBUTE_TYPES):
        msg = f"invalid attribute {short_repr(value)}"
        raise TypeError(msg)
    attribute = Attribute(trait, trait_value)
    if len(_ATTRIBUTES) < _ATTRIBUTES_KEPT:
        _ATTRIBUTES[key] = attribute
    return attribute


_ATTRIBUTE_TYPES = (str, int, float, Decimal, type(None))


# Cards share most traits ("Grader": "PSA", "Category": "Baseball"), and attributes are
# frozen, so one instance serves every card: a dict lookup instead of building an object.
_ATTRIBUTES: dict[tuple[object, type, object], Attribute] = {}


_ATTRIBUTES_KEPT = 4096


def detailed_attrs_hook(conv: cattrs.Converter, cls: type) -> Callable[[object, Any], Any]:
    inner: Callable[[Any, Any], Any] = make_dict_structure_fn(cls, conv)

    def hook(value: object, _: Any) -> Any:
        if not isinstance(value, dict):
            msg = f"expected an object, got {short_repr(value)}"
            raise TypeError(msg)
        return inner(value, cls)

    return hook


def tuple_hook(
    conv: cattrs.Converter, tp: Any, *, detailed: bool = False
) -> Callable[[object, Any], Sequence[Any]]:
    """A JSON array as a tuple (a list for ``list[X]``); ``detailed`` notes each error's index.

    The detailed hook stops at the :data:`EXPLAINED` th failing element: a million bad
    elements say nothing more than a few, and listing them all would take seconds.
    """
    member = get_args(tp)[0]
    inner = conv.get_structure_hook(member)

    def hook(value: object, _: Any) -> Sequence[Any]:
        if not isinstance(value, list | tuple):
            msg = f"expected an array, got {short_repr(value)}"
            raise TypeError(msg)
        if not detailed:
            return tuple([inner(v, member) for v in value])
        result, errors = [], []
        for index, element in enumerate(value):
            try:
                result.append(inner(element, member))
            except Exception as exc:  # noqa: BLE001  collected, as cattrs does, with their index
                note = IterableValidationNote(f"Structuring {tp} @ index {index}", index, member)
                exc.add_note(note)
                errors.append(exc)
                if len(errors) == EXPLAINED:
                    break
        if errors:
            msg = f"While structuring {tp!r}"
            raise cattrs.IterableValidationError(msg, errors, tp)
        return result if get_origin(tp) is list else tuple(result)

    return hook


EXPLAINED = 5


def optional_hook(conv: cattrs.Converter, tp: Any) -> Callable[[object, Any], Any]:
    member = non_null(tp)
    inner = conv.get_structure_hook(member)
    return lambda value, _: None if value is None else inner(value, member)


def structure_mapping(value: object) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)
    msg = f"expected an object, got {short_repr(value)}"
    raise TypeError(msg)
