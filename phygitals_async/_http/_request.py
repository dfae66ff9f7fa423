"""``client.request``: a call the SDK has no method for, through the same seam as every endpoint.

The escape hatch builds a :class:`~._calls.Call` like the endpoint methods do, so the key
header, the environment check, the deadline, retries, error mapping by documented message,
:class:`OutcomeUnknownError` and tracing all apply. What it adds is checking what a caller
may pass where an endpoint method would have known better:

- the path must stay under the client's base URL: an absolute URL elsewhere (or a path
  that climbs out with ``..``) is refused before anything is sent, so the key never
  travels to another host or out of the sandbox's ``/_``;
- the query goes in ``params`` and is encoded here;
- the retry policy is one of :class:`Retry`'s; by default GET is ``Retry.SAFE`` and any
  other method ``Retry.UNSAFE`` (never resent once it may have reached the server).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeAlias, TypeVar
from urllib.parse import quote, unquote

from .._errors import InvalidRequestError
from .._limits import short_repr
from ._calls import Call, OneOf, Retry, RetryPolicy

__all__ = ["METHODS", "ParamValue", "Params", "request_call"]

T = TypeVar("T")

ParamValue: TypeAlias = str | int | Decimal
"""One query parameter's value; a sequence of them repeats the parameter."""
Params: TypeAlias = (
    Mapping[str, ParamValue | Sequence[ParamValue]] | Sequence[tuple[str, ParamValue]]
)
"""A query: a mapping (a sequence value repeats the name) or ``(name, value)`` pairs."""

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
# Characters a path may hold as they are; anything else is percent-encoded.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
# Decoded as plain JSON, numbers with a fraction as exact Decimals.
_ANY_JSON: OneOf[Any] = OneOf(Any)


def request_call(
    base_url: str,
    method: str,
    path: str,
    *,
    params: Params | None,
    json: Mapping[str, Any] | None,
    into: type[T] | None,
    retry: RetryPolicy | None,
) -> Call[Any]:
    """The :class:`Call` for ``client.request``, or :class:`InvalidRequestError`."""
    verb = method.upper() if isinstance(method, str) else ""
    if verb not in METHODS:
        msg = f"method must be one of {', '.join(sorted(METHODS))}, got {short_repr(method)}"
        raise InvalidRequestError(msg)
    if retry is None:
        retry = Retry.SAFE if verb == "GET" else Retry.UNSAFE
    elif not isinstance(retry, RetryPolicy):
        msg = f"retry must be a policy such as Retry.SAFE or Retry.UNSAFE, got {short_repr(retry)}"
        raise InvalidRequestError(msg)
    if json is not None and not isinstance(json, Mapping):
        msg = f"json must be a mapping (a JSON object), got {short_repr(json)}"
        raise InvalidRequestError(msg)
    encoded = _path(base_url, path)
    target: type[Any] | OneOf[Any] = _ANY_JSON if into is None else into
    arguments = {"method": verb, "path": encoded} | ({"json": json} if json is not None else {})
    return Call(
        "request",
        verb,
        encoded,
        retry,
        target,
        arguments=arguments,
        params=_query(params),
        json=None if json is None else _exact_body(json),
    )


def _path(base_url: str, path: object) -> str:
    """``path`` percent-encoded, checked to stay under ``base_url``."""
    if not isinstance(path, str) or not path:
        msg = f"path must be a non-empty string such as '/api/v1/vm/available', got {path!r}"
        raise InvalidRequestError(msg)
    if path.startswith(base_url + "/"):
        path = path[len(base_url) :]
    if not path.startswith("/") or path.startswith("//") or "://" in path:
        msg = (
            f"path must be a path under the base URL ({base_url}), such as "
            f"'/api/v1/vm/available', got {short_repr(path)}: the API key is sent nowhere else"
        )
        raise InvalidRequestError(msg)
    if "?" in path or "#" in path:
        msg = f"put the query in params=, not in the path: {short_repr(path)}"
        raise InvalidRequestError(msg)
    encoded = quote(path, safe=_PATH_SAFE)
    if any(segment in {".", ".."} for segment in unquote(encoded).split("/")):
        msg = f"path must not climb out of the base URL with '.' or '..': {short_repr(path)}"
        raise InvalidRequestError(msg)
    return encoded


def _query(params: Params | None) -> list[tuple[str, str]] | None:
    if params is None:
        return None
    pairs: list[tuple[str, object]] = []
    if isinstance(params, Mapping):
        for name, value in params.items():
            values = value if isinstance(value, list | tuple) else [value]
            pairs += [(name, v) for v in values]
    elif isinstance(params, Sequence) and not isinstance(params, str | bytes):
        pairs = [_pair(pair) for pair in params]
    else:
        msg = f"params must be a mapping or (name, value) pairs, got {short_repr(params)}"
        raise InvalidRequestError(msg)
    return [(_text("parameter name", n), _text(f"parameter {n!r}", v)) for n, v in pairs]


def _pair(pair: object) -> tuple[str, object]:
    if isinstance(pair, tuple) and len(pair) == 2:
        return pair[0], pair[1]
    msg = f"params pairs must be (name, value) tuples, got {short_repr(pair)}"
    raise InvalidRequestError(msg)


def _text(what: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        msg = f"{what} must be a str, int or Decimal, got {short_repr(value)}"
        raise InvalidRequestError(msg)
    return str(value)


# A Decimal further than this from 1 (in powers of ten) is not written: int() of 1E+999999
# would take minutes, and no amount of money is that large or that small.
_DECIMAL_EXPONENT = 30


def _exact_body(body: Mapping[str, Any]) -> Mapping[str, Any]:
    try:
        exact: Mapping[str, Any] = _exact(body)
    except RecursionError:
        msg = "json is nested too deeply to send"
        raise InvalidRequestError(msg) from None
    return exact


def _exact(value: Any) -> Any:
    """``value`` with each ``Decimal`` as the int or float JSON writes with exactly its value.

    Only this escape hatch takes Decimals in a body (the endpoint methods build their own):
    one that JSON's doubles cannot carry exactly is refused, never rounded.
    """
    if isinstance(value, Mapping):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_exact(v) for v in value]
    if not isinstance(value, Decimal):
        return value
    if value.is_finite() and abs(value.adjusted()) <= _DECIMAL_EXPONENT:
        if value == value.to_integral_value():
            return int(value)
        number = float(value)
        if Decimal(repr(number)) == value:
            return number
    msg = f"json: Decimal {short_repr(value)} has no exact JSON number"
    raise InvalidRequestError(msg)
