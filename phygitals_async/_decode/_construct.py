"""Building frozen models in generated decoding code, at the cost of setting their slots.

A frozen attrs ``__init__`` sets each field through ``object.__setattr__``. For a model
whose ``__init__`` would do nothing else (no validator, converter or hook) the generated
code creates the instance and sets its slots directly, as msgspec builds attrs instances:
a third of the cost of building an item. Used by both decode paths.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

__all__ = ["construction"]


def _plain(cls: type) -> bool:
    fields = attrs.fields(cls)
    return (
        "__slots__" in cls.__dict__
        and not any(f.validator or f.converter or not f.init for f in fields)
        and not hasattr(cls, "__attrs_pre_init__")
        and not hasattr(cls, "__attrs_post_init__")
    )


def construction(cls: type, values: list[str], constant: Callable[[object], str]) -> list[str]:
    """Lines (indented once) returning ``cls`` built from the expressions ``values``.

    ``values`` are in field order; ``constant`` names an object for the generated code.
    """
    if not _plain(cls):
        return [f"    return {constant(cls)}({', '.join(values)})"]
    lines = [f"    o = {constant(object.__new__)}({constant(cls)})"]
    for field, value in zip(attrs.fields(cls), values, strict=True):
        lines.append(f"    {constant(cls.__dict__[field.name].__set__)}(o, {value})")
    return [*lines, "    return o"]
