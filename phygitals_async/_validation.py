"""Argument checks that run before any request, and path-segment encoding."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import aiohttp

from ._errors import ConfigurationError, InvalidRequestError
from ._limits import short_repr
from ._models import Address, Item, ShippingRate
from ._models_shipping import is_country_code

__all__ = [
    "check_session",
    "destination_json",
    "item_id_of",
    "item_ids_of",
    "path_segment",
    "require_id",
    "require_int",
    "require_seconds",
]

# The largest integer a JSON number holds exactly everywhere (JavaScript's safe integers).
MAX_JSON_INT = 2**53 - 1


def require_id(name: str, value: object) -> str:
    """``value`` as a non-empty string id of valid Unicode, else :class:`InvalidRequestError`."""
    if not isinstance(value, str) or not value.strip():
        msg = f"{name} must be a non-empty string, got {short_repr(value)}"
        raise InvalidRequestError(msg)
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            # A lone surrogate (from a mis-decoded byte string) has no UTF-8 form to send.
            msg = f"{name} must be valid Unicode text, got {short_repr(value)}"
            raise InvalidRequestError(msg) from None
    return value


def require_int(name: str, value: object, *, minimum: int, maximum: int = MAX_JSON_INT) -> int:
    """``value`` as an int within bounds (booleans are not ints here).

    The default ``maximum`` keeps every integer the SDK sends exact in JSON.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"{name} must be an integer, got {short_repr(value)}"
        raise InvalidRequestError(msg)
    if value < minimum or value > maximum:
        msg = f"{name} must be between {minimum} and {maximum}, got {short_repr(value)}"
        raise InvalidRequestError(msg)
    return value


def require_seconds(name: str, value: object, *, allow_zero: bool = False) -> float:
    """``value`` as a finite number of seconds, > 0 (or >= 0 with ``allow_zero``)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        bound = ">= 0" if allow_zero else "> 0"
        msg = f"{name} must be a finite number of seconds {bound}, got {short_repr(value)}"
        raise InvalidRequestError(msg)
    return float(value)


def item_id_of(value: object, name: str = "item_id") -> str:
    """An item id from an id string or an :class:`Item`."""
    if isinstance(value, Item):
        return value.id
    return require_id(name, value)


def item_ids_of(values: object) -> list[str]:
    """A non-empty list of item ids, from ids or :class:`Item` objects."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        msg = f"item_ids must be a list of item ids, got {short_repr(values)}"
        raise InvalidRequestError(msg)
    ids = [item_id_of(v, "each item id") for v in values]
    if not ids:
        msg = "item_ids must not be empty"
        raise InvalidRequestError(msg)
    return ids


def quote_id_of(value: object) -> str:
    """A quote id from a string or a :class:`ShippingRate`."""
    if isinstance(value, ShippingRate):
        return value.id
    return require_id("quote_id", value)


def destination_json(destination: object) -> dict[str, Any]:
    """The JSON object for ``destination``; its ``country`` must be a two-letter code."""
    if isinstance(destination, Address):
        return destination.to_dict()
    if not isinstance(destination, Mapping):
        msg = f"destination must be an Address or a mapping, got {type(destination).__name__}"
        raise InvalidRequestError(msg)
    data = dict(destination)
    country = data.get("country")
    if not is_country_code(country):
        msg = (
            "destination['country'] must be a two-letter code such as 'US', "
            f"got {short_repr(country)}"
        )
        raise InvalidRequestError(msg)
    return data


# Text that percent-encoding leaves as it is (RFC 3986's unreserved characters); \Z, not $,
# which would let a trailing newline through.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*\Z").match


def path_segment(value: str) -> str:
    """Percent-encode ``value`` as exactly one path segment.

    Everything but unreserved characters is encoded (``|``, ``/``, ``?``, ``#``, ``%``), and
    the dot segments ``.`` and ``..`` are encoded too so no URL normalization can act on them.
    """
    if _UNRESERVED(value) and value.strip(".") != "":  # the usual id: nothing to encode
        return value
    segment = quote(value, safe="")
    if segment.strip(".") == "":
        segment = segment.replace(".", "%2E")
    return segment


def check_session(
    http_session: object, trace_configs: Sequence[aiohttp.TraceConfig] | None
) -> None:
    """``http_session=`` is an aiohttp session, and not given beside ``trace_configs=``."""
    if http_session is not None and not isinstance(http_session, aiohttp.ClientSession):
        msg = f"http_session must be an aiohttp.ClientSession, got {http_session!r}"
        raise ConfigurationError(msg)
    if http_session is not None and trace_configs:
        msg = "trace_configs apply to the client's own session: add them to http_session"
        raise ConfigurationError(msg)
