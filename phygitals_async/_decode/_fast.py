"""The optional msgspec decode path (the ``speedups`` extra), only imported when msgspec is.

msgspec parses a body straight into typed objects, without the intermediate dicts and lists
that ``json.loads`` builds and the converter then walks. For each model a private wire
struct is generated from its attrs fields; msgspec fills the struct and generated code
turns it into the very same public model.

The contract is one-sided: a decoder returns the model the converter would return, or
raises: :class:`Refused` where a rule below says no, or whatever msgspec or a conversion
raised. Either way the caller decodes the body again with the converter, which
stays the definition of the wire format and produces the error. So a refusal costs a second
decode, never a different result, and the rules below may refuse more than needed:

- Fields: every wire struct forbids fields the models do not know, in production mode too.
  msgspec would skip them unread, so the converter's bounds on what a body may hold
  (numbers, nesting) could not see them; such bodies are the converter's, which ignores
  the field after checking it. The models' own fields bound the nesting.
- ``Decimal``: a number's text goes through ``Rules.number`` (no float on the way, bounded as
  the pure path's parser bounds it); any other JSON value meets the converter's own money
  rule (``Rules.money``).
- Integers: msgspec's ``int``, checked by ``Rules.integer``; ``10.0`` is refused where the
  converter takes an integral number.
- ``datetime``: a string parsed by ``datetime.fromisoformat`` as the converter does
  (msgspec's own parser accepts ``t``/``z`` and rounds nanoseconds).
- Open enums: a string, mapped to the member when known.
- Card trait values and the order's ``destination``: JSON values msgspec builds with the
  same number rules; a destination holding arrays or objects is refused.
- The error envelope (``"status": "error"`` at the top) is refused, so the seam raises it.

Wire structs are short-lived and hold no reference cycles, so the cyclic GC does not track
them (``gc=False``). Plain frozen models are built by setting their slots (see
:mod:`._construct`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from types import NoneType
from typing import Any, cast, get_args, get_origin

import attrs
import msgspec

from .._models import Attribute, AttributeValue, PurchasePending, PurchaseResult
from ._construct import construction
from ._types import is_homogeneous_tuple, is_literal, is_optional, non_null, open_enum

__all__ = ["Refused", "Rules", "make_decoder"]


class Refused(Exception):  # noqa: N818  a signal to the caller, not an error users see
    """This body is left to the converter."""


@attrs.frozen
class Rules:
    """The converter's value rules, applied to what msgspec decoded.

    ``money`` turns a JSON value into an amount or raises; ``integer`` checks an integer
    (``None``: any); ``number`` turns a JSON number's text into a ``Decimal`` where the
    model does not say the type (a trait's value, the destination), or raises.
    """

    strict: bool
    money: Callable[[object], Decimal]
    integer: Callable[[int], object] | None = None
    number: Callable[[str], Decimal] = Decimal


Decoder = Callable[[bytes], Any]

_TIME = ["    v = fromisoformat(v)", "    if v.tzinfo is None: v = v.replace(tzinfo=UTC)"]


class _Builder:
    """Generates the wire structs and conversion functions for one set of rules."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.wires: dict[type, Any] = {}
        self.converters: dict[type, Callable[[Any], Any]] = {}
        # What the generated functions see: helpers, then constants c0, c1, ...
        self.namespace: dict[str, Any] = {
            "Refused": Refused,
            "fromisoformat": datetime.fromisoformat,
            "UTC": UTC,
            "Decimal": Decimal,
            "money": rules.money,
            "integer": rules.integer,
        }

    def struct(self, name: str, fields: list[tuple[Any, ...]]) -> Any:
        """A wire struct that refuses unknown fields (see the module docstring)."""
        return msgspec.defstruct(name, fields, kw_only=True, forbid_unknown_fields=True, gc=False)

    def wire(self, tp: Any) -> tuple[Any, list[str] | None]:
        """The type msgspec decodes ``tp``'s JSON into, and the lines that convert ``v``.

        ``None`` instead of lines: the decoded value is already right.
        """
        if tp in (str, bool) or is_literal(tp):
            return tp, None
        if tp is int:
            return int, None if self.rules.integer is None else ["    integer(v)"]
        if tp is Decimal:
            # A number's text became a Decimal through Rules.number, within its bounds, as
            # the pure path's parser does; anything else meets the converter's money rule.
            return Any, ["    if v.__class__ is not Decimal: v = money(v)"]
        if tp is datetime:
            return str, _TIME
        for matches, handler in (
            (lambda tp: tp == Mapping[str, Any], self.mapping),
            (lambda tp: open_enum(tp) is not None, self.open_enum),
            (is_optional, self.optional),
            (is_homogeneous_tuple, self.array),
            (attrs.has, self.nested),
        ):
            if matches(tp):
                return handler(tp)
        msg = f"no msgspec wire type for {tp!r}"
        raise TypeError(msg)

    def mapping(self, _: Any) -> tuple[Any, list[str]]:
        """The destination: an object of scalars; arrays or objects inside are refused."""
        integer = self.rules.integer

        def flat(value: dict[str, Any]) -> None:
            for item in value.values():
                if item.__class__ not in _SCALARS:
                    raise Refused
                if item.__class__ is int and integer is not None:
                    integer(item)

        return dict[str, Any], [f"    {self.constant(flat)}(v)"]

    def open_enum(self, tp: Any) -> tuple[Any, list[str]]:
        """``SomeEnum | str``: a string, the member when the value is known."""
        enum_type = open_enum(tp)
        assert enum_type is not None  # noqa: S101  only called where it matched
        members = self.constant({member.value: member for member in enum_type})
        wire: Any = str | None if NoneType in get_args(tp) else str
        return wire, [f"    if v is not None: v = {members}.get(v, v)"]

    def optional(self, tp: Any) -> tuple[Any, list[str] | None]:
        inner = non_null(tp)
        wire, lines = self.wire(inner)
        if lines is None:
            return wire | None, None
        return wire | None, ["    if v is not None:", *(f"    {line}" for line in lines)]

    def array(self, tp: Any) -> tuple[Any, list[str] | None]:
        wire, convert = self.element(get_args(tp)[0])
        if convert is None:
            return tuple[wire, ...], None  # type: ignore[valid-type]
        return tuple[wire, ...], [f"    v = tuple(map({self.constant(convert)}, v))"]  # type: ignore[valid-type]

    def nested(self, cls: type) -> tuple[Any, list[str]]:
        wire, convert = self.model(cls)
        return wire, [f"    v = {self.constant(convert)}(v)"]

    def element(self, tp: Any) -> tuple[Any, Callable[[Any], Any] | None]:
        """A wire type and a one-argument converter, for array elements."""
        if attrs.has(tp):
            return self.model(tp)
        wire, lines = self.wire(tp)
        if lines is None:
            return wire, None
        return wire, self.function("element", lines)

    def model(self, cls: type) -> tuple[Any, Callable[[Any], Any]]:
        """The wire struct for an attrs class, and its converter."""
        if cls not in self.wires:
            wire, convert = self.attribute() if cls is Attribute else self.generate(cls)
            self.wires[cls], self.converters[cls] = wire, convert
        return self.wires[cls], self.converters[cls]

    def generate(self, cls: type, *, top: bool = False) -> tuple[Any, Callable[[Any], Any]]:
        """A wire struct and converter for ``cls``.

        ``top``: the struct of a whole body, which also reads ``status`` (the error envelope).
        """
        # Resolved where the models are defined (they report the public module as theirs).
        hints = {field.name: field.type for field in attrs.fields(attrs.resolve_types(cls))}
        fields: list[tuple[Any, ...]] = []
        body: list[str] = []
        for index, field in enumerate(attrs.fields(cls)):
            wire, lines = self.wire(hints[field.name])
            fields.append(
                (field.name, wire)
                if field.default is attrs.NOTHING
                else (field.name, wire, field.default)
            )
            body.append(f"    v{index} = w.{field.name}")
            if lines is not None:
                body += _rename(lines, f"v{index}")
        values = [f"v{i}" for i in range(len(fields))]
        if top and "status" not in attrs.fields_dict(cls):
            fields.append(("status", Any, msgspec.UNSET))
        wire_struct = self.struct(f"{cls.__name__}{'Body' if top else 'Wire'}", fields)
        body += construction(cls, values, self.constant)
        return wire_struct, self.function(cls.__name__, body, argument="w", result=None)

    def attribute(self) -> tuple[Any, Callable[[Any], Any]]:
        """Card traits: any scalar value, one shared (frozen) instance per distinct trait."""
        wire = self.struct("AttributeWire", [("trait_type", str), ("value", Any)])
        cache: dict[tuple[str, type, object], Attribute] = {}
        integer = self.rules.integer

        def convert(w: Any) -> Attribute:
            value = w.value
            # The type is part of the key: 1, True and Decimal(1) are equal but not the same.
            key = (w.trait_type, value.__class__, value)
            try:
                return cache[key]
            except (KeyError, TypeError):  # not seen yet, or unhashable (and so refused below)
                pass
            if value.__class__ not in _ATTRIBUTE_TYPES:
                raise Refused
            if value.__class__ is int and integer is not None:
                integer(value)
            attribute = Attribute(w.trait_type, cast("AttributeValue", value))
            if len(cache) < _ATTRIBUTES_KEPT:
                cache[key] = attribute
            return attribute

        return wire, convert

    def constant(self, value: object) -> str:
        """A name under which generated code sees ``value``."""
        name = f"c{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def function(
        self, name: str, body: list[str], argument: str = "v", result: str | None = "v"
    ) -> Callable[[Any], Any]:
        ending = [] if result is None else [f"    return {result}"]
        source = "\n".join([f"def convert({argument}):", *body, *ending])
        namespace = self.namespace
        exec(compile(source, f"<phygitals wire {name}>", "exec"), namespace)  # noqa: S102  generated from our own models
        function: Callable[[Any], Any] = namespace.pop("convert")
        return function


def _rename(lines: list[str], name: str) -> list[str]:
    """The conversion lines written for ``v``, rewritten for the local ``name``."""
    return [re.sub(r"\bv\b", name, line) for line in lines]


# What JSON scalars become here: a fraction or exponent is a Decimal (``Rules.number``).
_SCALARS = _ATTRIBUTE_TYPES = frozenset({str, int, bool, Decimal, NoneType})
_ATTRIBUTES_KEPT = 4096


def make_decoder(into: Any, rules: Rules) -> Decoder:
    """A function decoding a body into ``into``; what it raises leaves the body to the converter.

    Raises ``TypeError`` when ``into`` has a type msgspec cannot decode like the converter.
    """
    builder = _Builder(rules)
    if into == PurchaseResult | PurchasePending:
        return _status_decoder(builder)
    if get_origin(into) is list:
        element, convert = builder.element(get_args(into)[0])
        elements = msgspec.json.Decoder(list[element], float_hook=rules.number)  # type: ignore[valid-type]
        if convert is None:
            return elements.decode
        convert_element = convert
        return lambda raw: [convert_element(x) for x in elements.decode(raw)]
    if not attrs.has(into):
        msg = f"no msgspec decoder for {into!r}"
        raise TypeError(msg)
    wire, convert = builder.generate(into, top=True)
    decoder = msgspec.json.Decoder(wire, float_hook=rules.number)
    # A field the model lacks is only read to see the envelope; strict mode refuses it.
    refuse_status = rules.strict and "status" not in attrs.fields_dict(into)

    def decode(raw: bytes) -> Any:
        body = decoder.decode(raw)
        status = body.status
        if status == "error" or (refuse_status and status is not msgspec.UNSET):
            raise Refused
        return convert(body)

    return decode


def _status_decoder(builder: _Builder) -> Decoder:
    """``{"result": {...}}`` is the result; anything else must be ``{"status": "pending"}``."""
    result_wire, convert = builder.model(PurchaseResult)
    wire = builder.struct(
        "StatusWire",
        [
            ("result", result_wire | msgspec.UnsetType, msgspec.UNSET),
            ("status", Any, msgspec.UNSET),
        ],
    )
    decoder = msgspec.json.Decoder(wire, float_hook=builder.rules.number)
    pending = PurchasePending()
    strict = builder.rules.strict

    def decode(raw: bytes) -> Any:
        status: Any = decoder.decode(raw)
        if status.status == "error":
            raise Refused
        if status.result is not msgspec.UNSET:
            if strict and status.status is not msgspec.UNSET:
                raise Refused
            return convert(status.result)
        if status.status is msgspec.UNSET or (
            status.status.__class__ is str and status.status == "pending"
        ):
            return pending
        raise Refused

    return decode
