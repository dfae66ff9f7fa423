"""The private cattrs converter that turns decoded JSON into models.

Hook choices, all in one place:

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
- Speed: attrs classes get a generated hook (:func:`_attrs_hook`) that checks and converts
  each field's usual JSON type inline and builds the instance by setting its slots (see
  :mod:`._construct`); homogeneous tuples and optionals have direct hooks; equal
  ``Attribute`` traits share one instance (they are frozen). A body that fails to decode is
  decoded again by a detailed cattrs converter (:func:`explain`) only to say where it failed.
- msgspec (the ``speedups`` extra): :func:`fast_decoder` is the one way in. It decodes a body
  into the same models with these hooks' rules (money goes through :func:`_structure_decimal`
  itself), or leaves the body to this converter, which stays the definition of the wire
  format and the source of every error (see :mod:`._fastdecode`).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache, partial
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import IterableValidationNote
from cattrs.gen import make_dict_structure_fn
from cattrs.strategies import configure_union_passthrough
from cattrs.v import format_exception

from .. import _errors
from .._limits import MAX_NUMBER_CHARS, BodyError, bounded_decimal, check_decimal, short_repr
from .._models import Attribute, AttributeValue, PurchasePending, PurchaseResult, install_codec
from ._construct import construction

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


# An int of more bits than this has more than MAX_NUMBER_CHARS digits.
_MAX_INT_BITS = int(MAX_NUMBER_CHARS * 3.33)


def _structure_decimal(value: object, _: type) -> Decimal:
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
    msg = f"expected a number, got {short_repr(value)}"
    raise ValueError(msg)


def _bounded_int(value: int) -> int:
    if value.bit_length() > _MAX_INT_BITS:
        msg = f"integer of {value.bit_length()} bits is out of range"
        raise ValueError(msg)
    return value


def _structure_datetime(value: object, _: type) -> datetime:
    if not isinstance(value, str):
        msg = f"expected an ISO 8601 string, got {short_repr(value)}"
        raise TypeError(msg)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _structure_str(value: object, _: type) -> str:
    if isinstance(value, str):
        return value
    msg = f"expected a string, got {short_repr(value)}"
    raise TypeError(msg)


def _structure_int(value: object, _: type) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return _bounded_int(value)
    # Bounded first: int(Decimal("1e999999999")) would build a billion-digit integer.
    if isinstance(value, Decimal) and check_decimal(value) == value.to_integral_value():
        return int(value)
    msg = f"expected an integer, got {short_repr(value)}"
    raise TypeError(msg)


def _structure_bool(value: object, _: type) -> bool:
    if isinstance(value, bool):
        return value
    msg = f"expected a boolean, got {short_repr(value)}"
    raise TypeError(msg)


def _open_enum(tp: Any) -> type[enum.Enum] | None:
    args = get_args(tp)
    members = [a for a in args if isinstance(a, type) and issubclass(a, enum.Enum)]
    if len(members) == 1 and str in args and set(args) <= {members[0], str, type(None)}:
        return members[0]
    return None


def _make_open_enum_hook(tp: Any) -> Callable[[object, Any], object]:
    enum_type = _open_enum(tp)
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


def _is_homogeneous_tuple(tp: Any) -> bool:
    args = get_args(tp)
    return get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis


def _is_list(tp: Any) -> bool:
    return get_origin(tp) is list and len(get_args(tp)) == 1


def _is_optional(tp: Any) -> bool:
    args = get_args(tp)
    return (
        get_origin(tp) in (Union, UnionType)
        and len(args) == 2
        and type(None) in args
        and _open_enum(tp) is None
    )


_MISSING = object()
_M = TypeVar("_M")


def _attrs_hook(conv: cattrs.Converter, cls: type, *, strict: bool) -> Callable[[Any, Any], Any]:
    """A structure function for one attrs class, generated like cattrs' but leaner.

    Each field's common case is checked and converted inline (see :func:`_convert_lines`);
    anything unusual falls through to the converter's hook for the field's type, which
    converts it or raises. The instance is built by :func:`._construct.construction`.
    """
    # Resolved once, where the annotations were written (the package's __init__ resolves
    # the exported models before it renames their module).
    hints = {field.name: field.type for field in attrs.fields(attrs.resolve_types(cls))}
    namespace: dict[str, Any] = {
        "cls": cls,
        "MISSING": _MISSING,
        "extra_keys": _extra_keys,
        "short": short_repr,
    }
    body = [
        "    if o.__class__ is not dict:",
        "        raise TypeError(f'expected an object, got {short(o)}')",
    ]
    names = []
    for index, field in enumerate(attrs.fields(cls)):
        value, tp = f"v{index}", hints[field.name]
        names.append(value)
        optional = _is_optional(tp)
        inner = next(m for m in get_args(tp) if m is not type(None)) if optional else tp
        convert = _convert_lines(conv, namespace, index, field.name, inner)
        if field.default is attrs.NOTHING:
            body.append(f"    {value} = o[{field.name!r}]")
            guard = f"    if {value} is not None:" if optional else None
        elif optional and field.default is None:
            # Absent and null are the same here: one lookup, no sentinel.
            body.append(f"    {value} = o.get({field.name!r})")
            guard = f"    if {value} is not None:"
        else:
            namespace[f"d{index}"] = field.default
            body += [
                f"    {value} = o.get({field.name!r}, MISSING)",
                f"    if {value} is MISSING:",
                f"        {value} = d{index}",
            ]
            guard = f"    elif {value} is not None:" if optional else "    else:"
        body += convert if guard is None else [guard, *(f"    {line}" for line in convert)]
    if strict:
        namespace["known"] = frozenset(f.name for f in attrs.fields(cls))
        body.insert(2, "    if o.keys() - known: extra_keys(cls, o.keys() - known)")
    body += construction(cls, names, partial(_constant, namespace))
    source = "\n".join(["def structure(o, _):", *body])
    exec(compile(source, f"<phygitals structure {cls.__name__}>", "exec"), namespace)  # noqa: S102  generated from our own models
    hook: Callable[[Any, Any], Any] = namespace["structure"]
    return hook


def _constant(namespace: dict[str, Any], value: object) -> str:
    name = f"k{len(namespace)}"
    namespace[name] = value
    return name


def _convert_lines(
    conv: cattrs.Converter, namespace: dict[str, Any], index: int, name: str, tp: Any
) -> list[str]:
    """Statements (indented one level) that check and convert ``v<index>`` into ``tp``.

    The type the JSON parser already produced passes on a class check; a different type
    goes to the converter's hook for ``tp``, which converts it or raises.
    """
    value, hook, target = f"v{index}", f"h{index}", f"t{index}"
    namespace[target] = tp
    if tp in (str, bool):
        message = f"{name}: expected {tp.__name__}, got {{short({value})}}"
        return [
            f"    if {value}.__class__ is not {target}:",
            f"        raise TypeError(f'{message}')",
        ]
    namespace[hook] = conv.get_structure_hook(tp)
    fallback = f"{value} = {hook}({value}, {target})"
    if tp in (Decimal, int):
        return [f"    if {value}.__class__ is not {target}:", f"        {fallback}"]
    if tp is datetime:
        namespace.update(fromisoformat=datetime.fromisoformat, UTC=UTC)
        return [
            f"    if {value}.__class__ is str:",
            f"        {value} = fromisoformat({value})",
            f"        if {value}.tzinfo is None:",
            f"            {value} = {value}.replace(tzinfo=UTC)",
            "    else:",
            f"        {fallback}",
        ]
    enum_type = _open_enum(tp)
    if enum_type is not None:
        namespace[f"m{index}"] = {member.value: member for member in enum_type}
        return [
            f"    if {value}.__class__ is str:",
            f"        {value} = m{index}.get({value}, {value})",
            "    else:",
            f"        {fallback}",
        ]
    if _is_homogeneous_tuple(tp):
        member = get_args(tp)[0]
        namespace[f"e{index}"], namespace[f"f{index}"] = conv.get_structure_hook(member), member
        return [
            f"    if {value}.__class__ is list:",
            f"        {value} = tuple([e{index}(x, f{index}) for x in {value}])",
            "    else:",
            f"        {fallback}",
        ]
    return [f"    {fallback}"]


def _extra_keys(cls: type, extra: set[str]) -> None:
    raise cattrs.ForbiddenExtraKeysError("", cls, extra)


def _structure_attribute(value: object, _: Any) -> Attribute:
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


def make_converter(*, strict: bool = False, detailed: bool = False) -> cattrs.Converter:
    """Build the converter; ``strict`` rejects response fields the models do not know.

    ``detailed`` turns on cattrs' detailed validation (error paths), at a cost in speed.
    """
    conv = cattrs.Converter(
        forbid_extra_keys=strict, prefer_attrib_converters=False, detailed_validation=detailed
    )
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(bool, _structure_bool)
    configure_union_passthrough(AttributeValue, conv)
    if detailed:
        # cattrs' own hooks, refusing what the fast ones refuse: an object where a model
        # is expected, an array where a tuple is (cattrs would iterate a string's letters).
        conv.register_structure_hook_factory(attrs.has, lambda cls: _detailed_attrs_hook(conv, cls))
        conv.register_structure_hook_factory(
            _is_homogeneous_tuple, lambda tp: _tuple_hook(conv, tp, detailed=True)
        )
        conv.register_structure_hook_factory(
            _is_list, lambda tp: _tuple_hook(conv, tp, detailed=True)
        )
    else:
        conv.register_structure_hook_factory(
            attrs.has, lambda cls: _attrs_hook(conv, cls, strict=strict)
        )
        conv.register_structure_hook_factory(
            _is_homogeneous_tuple, lambda tp: _tuple_hook(conv, tp)
        )
        conv.register_structure_hook_factory(_is_optional, lambda tp: _optional_hook(conv, tp))
        if not strict:
            conv.register_structure_hook(Attribute, _structure_attribute)
    # Registered last so it wins for ``SomeEnum | str`` unions.
    conv.register_structure_hook_factory(
        lambda tp: _open_enum(tp) is not None, _make_open_enum_hook
    )
    conv.register_structure_hook_func(
        lambda tp: tp == Mapping[str, Any], lambda value, _: _structure_mapping(value)
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
    _configure_builtins(conv)
    return conv


def _detailed_attrs_hook(conv: cattrs.Converter, cls: type) -> Callable[[object, Any], Any]:
    inner: Callable[[Any, Any], Any] = make_dict_structure_fn(cls, conv)

    def hook(value: object, _: Any) -> Any:
        if not isinstance(value, dict):
            msg = f"expected an object, got {short_repr(value)}"
            raise TypeError(msg)
        return inner(value, cls)

    return hook


def _tuple_hook(
    conv: cattrs.Converter, tp: Any, *, detailed: bool = False
) -> Callable[[object, Any], Sequence[Any]]:
    """A JSON array as a tuple (a list for ``list[X]``); ``detailed`` notes each error's index.

    The detailed hook stops at the :data:`_EXPLAINED` th failing element: a million bad
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
                if len(errors) == _EXPLAINED:
                    break
        if errors:
            msg = f"While structuring {tp!r}"
            raise cattrs.IterableValidationError(msg, errors, tp)
        return result if get_origin(tp) is list else tuple(result)

    return hook


_EXPLAINED = 5


def _optional_hook(conv: cattrs.Converter, tp: Any) -> Callable[[object, Any], Any]:
    member = next(a for a in get_args(tp) if a is not type(None))
    inner = conv.get_structure_hook(member)
    return lambda value, _: None if value is None else inner(value, member)


def _structure_mapping(value: object) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)
    msg = f"expected an object, got {short_repr(value)}"
    raise TypeError(msg)


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
        money=lambda value: _structure_decimal(value, Decimal),
        integer=_json_integer,
        number=bounded_decimal,
    )
    make, refused = _fastdecode.make_decoder, _fastdecode.Refused
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
        except refused:
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
    return [line if len(line) <= 300 else line[:300] + "..." for line in lines[:_EXPLAINED]]


# -- models to JSON-ready builtins and back (Model.to_dict / Model.from_dict) --------------


def _configure_builtins(conv: cattrs.Converter) -> None:
    """The unstructure side: every model to JSON-ready builtins, and errors both ways."""
    conv.register_unstructure_hook(Decimal, str)
    conv.register_unstructure_hook(datetime, _unstructure_datetime)
    # StrEnum members are str already, but a plain str is what JSON tools expect.
    conv.register_unstructure_hook_factory(
        lambda tp: isinstance(tp, type) and issubclass(tp, enum.Enum),
        lambda _: lambda member: member.value,
    )
    conv.register_unstructure_hook_factory(
        lambda tp: _open_enum(tp) is not None,
        lambda _: lambda value: value.value if isinstance(value, enum.Enum) else value,
    )
    conv.register_unstructure_hook_factory(
        _is_homogeneous_tuple, lambda _: lambda value: [conv.unstructure(v) for v in value]
    )
    conv.register_unstructure_hook_func(
        lambda tp: tp == Mapping[str, Any],
        lambda value: {str(k): conv.unstructure(v) for k, v in value.items()},
    )
    conv.register_unstructure_hook_func(
        lambda tp: isinstance(tp, type) and issubclass(tp, BaseException),
        lambda error: _unstructure_error(conv, error),
    )
    conv.register_structure_hook(Exception, lambda value, _: _structure_error(value))


def _unstructure_datetime(value: datetime) -> str:
    # Always with an offset: a naive time (only ever built by hand) is UTC, as in decoding.
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).isoformat()


def _unstructure_error(conv: cattrs.Converter, error: BaseException) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type(error).__name__, "message": str(error)}
    if error.args != (str(error),):
        data["args"] = conv.unstructure(list(error.args))
    # A private attribute behind a public property (APIStatusError._headers) is written
    # under the property's name: JSON readers see the public API, never a private key.
    data["attributes"] = {
        _public_name(type(error), k): conv.unstructure(v) for k, v in vars(error).items()
    }
    return data


def _public_name(cls: type, attribute: str) -> str:
    name = attribute.removeprefix("_")
    return (
        name if name != attribute and isinstance(getattr(cls, name, None), property) else attribute
    )


def _structure_error(value: object) -> Exception:
    """An error from :func:`_unstructure_error`'s output, as the class it names."""
    if not isinstance(value, dict) or not isinstance(value.get("message"), str):
        msg = f"expected an error object with a 'message', got {value!r}"
        raise TypeError(msg)
    found = getattr(_errors, str(value.get("type")), None)
    cls = found if isinstance(found, type) and issubclass(found, _errors.PhygitalsError) else None
    # Not one of ours (never in an SDK report): the root class keeps the message.
    error = (cls or _errors.PhygitalsError).__new__(cls or _errors.PhygitalsError)
    args = value.get("args", [value["message"]])
    error.args = tuple(args) if isinstance(args, list) else (value["message"],)
    attributes = value.get("attributes") or {}
    if cls is not None and isinstance(attributes, dict):
        error.__dict__.update(
            {
                f"_{k}" if isinstance(getattr(cls, k, None), property) else k: v
                for k, v in attributes.items()
            }
        )
    return error


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
