"""The unstructure side: models to JSON-ready builtins (``to_dict``), and errors both ways.

``Decimal`` becomes its exact string, ``datetime`` ISO 8601 with its offset, an enum its
value, tuples lists, an exception ``{"type", "message", "attributes"}`` that structures back
into the class it names in the SDK's error tree.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import cattrs

from .. import _errors
from ._types import is_homogeneous_tuple, open_enum


def configure_builtins(conv: cattrs.Converter) -> None:
    """The unstructure side: every model to JSON-ready builtins, and errors both ways."""
    conv.register_unstructure_hook(Decimal, str)
    conv.register_unstructure_hook(datetime, _unstructure_datetime)
    # StrEnum members are str already, but a plain str is what JSON tools expect.
    conv.register_unstructure_hook_factory(
        lambda tp: isinstance(tp, type) and issubclass(tp, enum.Enum),
        lambda _: lambda member: member.value,
    )
    conv.register_unstructure_hook_factory(
        lambda tp: open_enum(tp) is not None,
        lambda _: lambda value: value.value if isinstance(value, enum.Enum) else value,
    )
    conv.register_unstructure_hook_factory(
        is_homogeneous_tuple, lambda _: lambda value: [conv.unstructure(v) for v in value]
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
