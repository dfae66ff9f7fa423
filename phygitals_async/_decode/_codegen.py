"""The structure function generated for each model: the converter's fast path.

Each field's usual JSON type is checked and converted inline; anything unusual falls through
to the converter's hook for the field's type. The instance is built by
:func:`._construct.construction`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any, get_args

import attrs
import cattrs

from .._limits import short_repr
from ._construct import construction
from ._types import is_homogeneous_tuple, is_optional, non_null, open_enum

_MISSING = object()


def attrs_hook(conv: cattrs.Converter, cls: type, *, strict: bool) -> Callable[[Any, Any], Any]:
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
        optional = is_optional(tp)
        inner = non_null(tp) if optional else tp
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
    enum_type = open_enum(tp)
    if enum_type is not None:
        namespace[f"m{index}"] = {member.value: member for member in enum_type}
        return [
            f"    if {value}.__class__ is str:",
            f"        {value} = m{index}.get({value}, {value})",
            "    else:",
            f"        {fallback}",
        ]
    if is_homogeneous_tuple(tp):
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
