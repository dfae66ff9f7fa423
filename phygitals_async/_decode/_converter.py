"""The private cattrs converter that turns decoded JSON into models: its factory and cache.

The value hooks are in :mod:`._hooks`, the generated model hooks in :mod:`._codegen`, the
to-dict side in :mod:`._builtins`, the kinds of type in :mod:`._types`; the choices, all
in one place:

- ``Decimal``: JSON numbers arrive as ``Decimal`` already (:func:`._limits.decode_json`
  keeps the digits the server wrote, within its bounds); ints and numeric strings are
  accepted within the same bounds (finite, exponent within ±100); booleans and floats are
  not money and are rejected.
- Messages: every value shown in an error goes through :func:`._limits.short_repr`, and the
  detailed pass (:func:`explain`) stops after a few failing elements, so a huge hostile
  body gives a short message, fast.
- ``datetime``: ISO 8601 strings; a trailing ``Z`` or any offset is kept; a naive time is taken
  as UTC, since the API documents every time in UTC.
- Open enums (``ItemType | str``, ``OrderStatus | str``): a known value becomes the member, an
  unknown one stays the plain string, so a new server value never breaks decoding.
- ``PurchaseResult | PurchasePending``: ``{"result": {...}}`` flattens to the result,
  ``{"status": "pending"}`` is pending.
- ``Mapping[str, Any]``: passed through as a fresh ``dict``.
- Extra keys: ignored by default; rejected when ``strict`` (the SDK's own tests run strict, so
  a field the models miss is noticed).
- Unstructuring (``Model.to_dict()``, the CLI's ``--json``): JSON-ready builtins. ``Decimal``
  becomes its exact string (``"212.50"``), ``datetime`` ISO 8601 with its offset (UTC for a
  naive one, as in decoding), an enum its
  value, an unknown enum string stays itself, tuples become lists, an exception (a failed
  sellback's error) ``{"type", "message", "attributes"}``. Structuring that output gives an
  equal model back (``Model.from_dict``); exceptions are rebuilt from their class name in the
  SDK's error tree. Free-form values (trait values, an order's echoed ``destination``) keep
  their JSON types, except a ``Decimal`` there, which comes back as its string.
- Speed: attrs classes get a generated hook (:func:`._codegen.attrs_hook`) that checks and converts
  each field's usual JSON type inline and builds the instance by setting its slots (see
  :mod:`._construct`); homogeneous tuples and optionals have direct hooks; equal
  ``Attribute`` traits share one instance (they are frozen). A body that fails to decode is
  decoded again by a detailed cattrs converter (:func:`explain`) only to say where it failed.
- msgspec (the ``speedups`` extra): :func:`fast_decoder` is the one way in. It decodes a body
  into the same models with these hooks' rules (money goes through :func:`._hooks.structure_decimal`
  itself), or leaves the body to this converter, which stays the definition of the wire
  format and the source of every error (see :mod:`._fast`).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.strategies import configure_union_passthrough
from cattrs.v import format_exception

from .. import _errors
from .._limits import MAX_NUMBER_CHARS, bounded_decimal, short_repr
from .._models import Attribute, AttributeValue, PurchasePending, PurchaseResult
from .._models_base import install_codec
from ._builtins import configure_builtins
from ._codegen import attrs_hook
from ._hooks import (
    EXPLAINED,
    detailed_attrs_hook,
    make_literal_hook,
    make_open_enum_hook,
    optional_hook,
    structure_attribute,
    structure_bool,
    structure_datetime,
    structure_decimal,
    structure_int,
    structure_mapping,
    structure_str,
    tuple_hook,
)
from ._types import is_homogeneous_tuple, is_list, is_literal, is_optional, open_enum

__all__ = [
    "NOT_DECODED",
    "SPEEDUPS_ENV",
    "STRICT_ENV",
    "converter",
    "explain",
    "fast_decoder",
    "from_builtins",
    "make_converter",
    "to_builtins",
]

STRICT_ENV = "PHYGITALS_STRICT_DECODING"
# "0" keeps msgspec out even when it is installed: benchmarks compare the two paths with it.
SPEEDUPS_ENV = "PHYGITALS_SPEEDUPS"


_M = TypeVar("_M")


def make_converter(*, strict: bool = False, detailed: bool = False) -> cattrs.Converter:
    """Build the converter; ``strict`` rejects response fields the models do not know.

    ``detailed`` turns on cattrs' detailed validation (error paths), at a cost in speed.
    """
    conv = cattrs.Converter(
        forbid_extra_keys=strict, prefer_attrib_converters=False, detailed_validation=detailed
    )
    conv.register_structure_hook(Decimal, structure_decimal)
    conv.register_structure_hook(datetime, structure_datetime)
    conv.register_structure_hook(str, structure_str)
    conv.register_structure_hook(int, structure_int)
    conv.register_structure_hook(bool, structure_bool)
    conv.register_structure_hook_factory(is_literal, make_literal_hook)
    configure_union_passthrough(AttributeValue, conv)
    if detailed:
        # cattrs' own hooks, refusing what the fast ones refuse: an object where a model
        # is expected, an array where a tuple is (cattrs would iterate a string's letters).
        conv.register_structure_hook_factory(attrs.has, lambda cls: detailed_attrs_hook(conv, cls))
        conv.register_structure_hook_factory(
            is_homogeneous_tuple, lambda tp: tuple_hook(conv, tp, detailed=True)
        )
        conv.register_structure_hook_factory(
            is_list, lambda tp: tuple_hook(conv, tp, detailed=True)
        )
    else:
        conv.register_structure_hook_factory(
            attrs.has, lambda cls: attrs_hook(conv, cls, strict=strict)
        )
        conv.register_structure_hook_factory(is_homogeneous_tuple, lambda tp: tuple_hook(conv, tp))
        conv.register_structure_hook_factory(is_optional, lambda tp: optional_hook(conv, tp))
        if not strict:
            conv.register_structure_hook(Attribute, structure_attribute)
    # Registered last so it wins for ``SomeEnum | str`` unions.
    conv.register_structure_hook_factory(lambda tp: open_enum(tp) is not None, make_open_enum_hook)
    conv.register_structure_hook_func(
        lambda tp: tp == Mapping[str, Any], lambda value, _: structure_mapping(value)
    )

    def structure_status(value: object, _: Any) -> PurchaseResult | PurchasePending:
        if isinstance(value, dict) and "result" in value:
            if strict and value.keys() - {"result"}:
                extra = short_repr(sorted(value.keys() - {"result"}))
                msg = f"unexpected keys beside 'result': {extra}"
                raise ValueError(msg)
            return conv.structure(value["result"], PurchaseResult)
        return conv.structure(value, PurchasePending)

    conv.register_structure_hook(PurchaseResult | PurchasePending, structure_status)
    configure_builtins(conv)
    return conv


@cache
def _converter(strict: bool, detailed: bool) -> cattrs.Converter:
    return make_converter(strict=strict, detailed=detailed)


def strict_default() -> bool:
    """Strict decoding's default: the ``PHYGITALS_STRICT_DECODING=1`` switch (the SDK's tests)."""
    return os.environ.get(STRICT_ENV) == "1"


def converter(*, strict: bool | None = None) -> cattrs.Converter:
    """The shared converter of a mode; ``strict`` defaults to :func:`strict_default`."""
    return _converter(strict_default() if strict is None else strict, False)  # noqa: FBT003


def _describe(exc: BaseException, tp: type | None) -> str:
    """Cattrs' words for a failure, plus the hook's own reason (e.g. "not a finite number")."""
    words = format_exception(exc, tp)
    reason = str(exc)
    if isinstance(exc, ValueError | TypeError) and reason and reason not in words:
        return f"{words} ({reason[:200]})"
    return words


class _NotDecoded(enum.Enum):
    NOT_DECODED = "not decoded"


NOT_DECODED = _NotDecoded.NOT_DECODED
"""What a fast decoder returns for a body it leaves to the converter."""

FastDecoder = Callable[[bytes, Any], Any]


def fast_decoder(*, strict: bool | None = None) -> FastDecoder | None:
    """The msgspec decode path (the ``speedups`` extra), or ``None`` without msgspec.

    The function returned takes a body and the type to decode it into, and gives the model
    exactly as the converter would give it, or :data:`NOT_DECODED`: for any body msgspec
    refuses, and for every body of a type it has no decoder for, the caller decodes with
    the converter, which stays the definition of the wire format and explains failures.
    ``strict`` defaults to the ``PHYGITALS_STRICT_DECODING=1`` switch; ``PHYGITALS_SPEEDUPS=0``
    turns the fast path off.
    """
    if os.environ.get(SPEEDUPS_ENV) == "0" or not _msgspec_installed():
        return None
    return _fast_decoder(strict_default() if strict is None else strict)


@cache
def _msgspec_installed() -> bool:
    # Asked once: every client asks, and a failed import searches the path again each time.
    try:
        from . import _fast as _fastdecode  # noqa: F401, PLC0415  optional: only with the speedups extra
    except ImportError:
        return False
    return True


# The integers bounded_int lets through: at most MAX_NUMBER_CHARS characters of JSON text.
_JSON_INTEGERS = range(1 - 10 ** (MAX_NUMBER_CHARS - 1), 10**MAX_NUMBER_CHARS)


def _json_integer(value: int) -> None:
    """:func:`._limits.bounded_int` for an integer msgspec has already read."""
    if value not in _JSON_INTEGERS:
        msg = f"integer of {value.bit_length()} bits is out of range"
        raise ValueError(msg)


@cache
def _fast_decoder(strict: bool) -> FastDecoder:
    from . import _fast as _fastdecode  # noqa: PLC0415  importable: _msgspec_installed() said so

    # The converter's own value rules, so that both paths accept exactly the same values.
    rules = _fastdecode.Rules(
        strict=strict,
        money=lambda value: structure_decimal(value, Decimal),
        integer=_json_integer,
        number=bounded_decimal,
    )
    make = _fastdecode.make_decoder
    decoders: dict[Any, Callable[[bytes], Any] | None] = {}

    def decode(raw: bytes, into: Any) -> Any:
        try:
            decoder = decoders[into]
        except KeyError:
            try:
                decoder = make(into, rules)
            except TypeError:  # a type msgspec cannot decode as the converter does
                decoder = None
            decoders[into] = decoder
        if decoder is None:
            return NOT_DECODED
        try:
            return decoder(raw)
        except Exception:  # noqa: BLE001  a refusal, or what msgspec or a conversion refused
            # The converter decides, and explains: a refusal never becomes an error of its own.
            return NOT_DECODED

    return decode


def explain(data: object, into: Any, *, strict: bool | None = None) -> list[str]:
    """Where ``data`` fails to decode into ``into``, as cattrs' detailed messages.

    At most a few messages, each cut to a line or two. ``strict`` as for :func:`converter`.
    """
    try:
        _converter(strict_default() if strict is None else strict, True).structure(data, into)  # noqa: FBT003
    except cattrs.BaseValidationError as exc:
        lines = cattrs.transform_error(exc, format_exception=_describe)
    except Exception as exc:  # noqa: BLE001  a hook's own error, reported as it is
        lines = [f"{type(exc).__name__}: {exc}"]
    else:
        return []
    return [line if len(line) <= 300 else line[:300] + "..." for line in lines[:EXPLAINED]]


# -- models to JSON-ready builtins and back (Model.to_dict / Model.from_dict) --------------


def to_builtins(value: object) -> Any:
    """``value`` (a model, or lists and dicts of them) as JSON-ready builtins."""
    return converter().unstructure(value)


def from_builtins(data: object, cls: type[_M]) -> _M:
    """``data`` (as :func:`to_builtins` or the API wrote it) as a ``cls`` model."""
    if isinstance(data, Mapping) and not isinstance(data, dict):
        data = dict(data)
    conv = converter()
    try:
        return conv.structure(data, cls)
    except Exception as exc:  # any shape error is one clear error to the caller
        details = "; ".join(explain(data, cls)) or f"{type(exc).__name__}: {exc}"
        msg = f"not a valid {cls.__name__}: {details}"
        raise _errors.InvalidRequestError(msg) from exc


# The models' to_dict/from_dict run through this converter (they cannot import it).
install_codec(to_builtins, from_builtins)
