"""The kinds of type the models' fields use, written once for both decoding paths.

The converter registers a hook per kind and the msgspec path generates a wire type per
kind; both ask these predicates, so a field is the same kind on either path.
"""

from __future__ import annotations

import enum
from types import NoneType, UnionType
from typing import Any, Literal, Union, get_args, get_origin

__all__ = [
    "is_homogeneous_tuple",
    "is_list",
    "is_literal",
    "is_optional",
    "non_null",
    "open_enum",
]


def open_enum(tp: Any) -> type[enum.Enum] | None:
    """The enum of an open enum (``SomeEnum | str``, maybe ``| None``), else ``None``.

    A known value decodes to the member, an unknown one stays the plain string.
    """
    if get_origin(tp) not in (Union, UnionType):
        return None
    args = set(get_args(tp)) - {NoneType}
    members = [a for a in args if isinstance(a, type) and issubclass(a, enum.Enum)]
    if len(members) == 1 and args == {members[0], str}:
        return members[0]
    return None


def is_optional(tp: Any) -> bool:
    """``X | None`` for one ``X`` (an open enum, which may be null too, is its own kind)."""
    args = get_args(tp)
    return (
        get_origin(tp) in (Union, UnionType)
        and len(args) == 2
        and NoneType in args
        and open_enum(tp) is None
    )


def non_null(tp: Any) -> Any:
    """The ``X`` of an optional ``X | None``."""
    return next(arg for arg in get_args(tp) if arg is not NoneType)


def is_homogeneous_tuple(tp: Any) -> bool:
    """``tuple[X, ...]``: a JSON array of one type."""
    args = get_args(tp)
    return get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis


def is_list(tp: Any) -> bool:
    """``list[X]``: a JSON array decoded as a list (whole bodies only)."""
    return get_origin(tp) is list and len(get_args(tp)) == 1


def is_literal(tp: Any) -> bool:
    """``Literal[...]``: one of the listed JSON values."""
    return get_origin(tp) is Literal
