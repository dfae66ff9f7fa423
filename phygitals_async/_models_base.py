"""The base every model shares: JSON in and out through the SDK's one cattrs converter.

The converter builds its hooks from the models, so the models cannot import it: it hands
its two sides over here (:func:`install_codec`) when it is imported, which the package does
before any model can be used.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Self

import attrs

__all__ = ["install_codec"]


@attrs.frozen
class _Codec:
    to_builtins: Callable[[object], Any]
    from_builtins: Callable[[object, type[Any]], Any]


# The converter behind to_dict/from_dict, once it has handed itself over.
_codec: list[_Codec] = []


def install_codec(
    to_builtins: Callable[[object], Any], from_builtins: Callable[[object, type[Any]], Any]
) -> None:
    """Give :meth:`_Model.to_dict` and :meth:`_Model.from_dict` the converter's two sides."""
    _codec[:] = [_Codec(to_builtins, from_builtins)]


class _Model:
    """JSON in and out for every model, through the SDK's one cattrs converter."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """This model as JSON-ready builtins: ``json.dumps(model.to_dict())`` works.

        Money is its exact decimal string (``"212.50"``), times ISO 8601 with their offset,
        enums their values (an unknown value stays the string it was), tuples lists.
        ``type(model).from_dict(model.to_dict()) == model``.
        """
        data: dict[str, Any] = _codec[0].to_builtins(self)
        return data

    def to_json(self, *, indent: int | None = None) -> str:
        """:meth:`to_dict` as a standard JSON string.

        Raises:
            ValueError: a float field holds NaN or infinity, which JSON cannot write (the
                API never sends one; only a model built by hand can hold it).
        """
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """The model from :meth:`to_dict`'s output (or the API's own JSON for it).

        Raises:
            InvalidRequestError: ``data`` does not have this model's shape.
        """
        model: Self = _codec[0].from_builtins(data, cls)
        return model
