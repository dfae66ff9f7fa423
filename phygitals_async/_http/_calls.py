"""What one API operation is, as data: its retry policy, its request and its decode target.

Retry classes (see the README's "Retries and money safety"), each a :class:`RetryPolicy`
value on :class:`Retry`, which is the one place they are defined::

    SAFE      GETs and buy/status      connection errors, timeouts, 429, 5xx, unreadable 2xx
    BUYBACK   vm/buyback               429, connection errors before the request was sent
    UNSAFE    buy/init, ship/*         connection errors before the request was sent

A new endpoint is one :class:`Call` (``Call.get``/``Call.post``) in its client method; a
new retry rule is one field of :class:`RetryPolicy` or one value on :class:`Retry`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, Generic, TypeVar

import attrs

from .. import _errors
from .._limits import short_repr

__all__ = ["Call", "OneOf", "Retry", "RetryPolicy", "encode_body"]

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")


@attrs.frozen
class RetryPolicy:
    """Which failures a call may be resent after; a ``Retry-After`` sets the wait if allowed.

    Attributes:
        statuses: error statuses resent besides 5xx (e.g. 429).
        server_errors: every 5xx is resent.
        before_sent: connection errors before the request went out are resent.
        after_sent: connection errors and timeouts after it went out are resent; otherwise
            they raise :class:`OutcomeUnknownError`.
        unreadable_2xx: a 2xx body that does not decode is fetched again.
        retry_after: a ``Retry-After`` header sets the wait before the next attempt.
    """

    statuses: frozenset[int] = frozenset()
    server_errors: bool = False
    before_sent: bool = True
    after_sent: bool = False
    unreadable_2xx: bool = False
    retry_after: bool = True

    def retries_status(self, status: int) -> bool:
        """Whether an error answer with this status may be resent."""
        return status in self.statuses or (self.server_errors and status >= 500)


class Retry:
    """The retry policies of the SDK's calls (the README's "Retries and money safety").

    ``SAFE``: connection errors, timeouts, 429, 5xx and unreadable answers are resent (reads
    and ``buy/status``). ``BUYBACK``: 429 and failures before the request left. ``UNSAFE``:
    only failures before the request left; once it may have reached the server, an
    ambiguous failure is :class:`OutcomeUnknownError`. Pass one as
    ``client.request(..., retry=Retry.SAFE)``.
    """

    SAFE: Final = RetryPolicy(
        statuses=frozenset({429}), server_errors=True, after_sent=True, unreadable_2xx=True
    )
    BUYBACK: Final = RetryPolicy(statuses=frozenset({429}))
    UNSAFE: Final = RetryPolicy()


# Shared by every call that records no arguments, instead of a new dict per call.
_NO_ARGUMENTS: Mapping[str, Any] = MappingProxyType({})


@attrs.frozen
class OneOf(Generic[T]):
    """A decode target that is one of two models: the union ``type[T]`` cannot spell.

    ``OneOf.either(PurchaseResult, PurchasePending)`` is a ``OneOf[PurchaseResult |
    PurchasePending]``, so the call that decodes into it returns exactly that union.
    """

    form: Any

    @staticmethod
    def either(first: type[A], second: type[B]) -> OneOf[A | B]:
        """The target that decodes into ``first`` or ``second`` (the converter tells which)."""
        return OneOf(first | second)


@attrs.frozen
class Call(Generic[T]):
    """One API operation as the seam sees it: a 2xx body decodes into ``into``.

    ``path`` is already percent-encoded. ``arguments`` is what an
    :class:`OutcomeUnknownError` reports the call was made with.
    """

    operation: str
    method: str
    path: str
    retry: RetryPolicy
    into: type[T] | OneOf[T]
    arguments: Mapping[str, Any] = attrs.field(default=_NO_ARGUMENTS, kw_only=True)
    params: Sequence[tuple[str, str]] | None = attrs.field(default=None, kw_only=True)
    json: Mapping[str, Any] | None = attrs.field(default=None, kw_only=True)

    @property
    def form(self) -> Any:
        """The runtime type the converter decodes into."""
        return self.into.form if isinstance(self.into, OneOf) else self.into

    @classmethod
    def get(
        cls,
        operation: str,
        path: str,
        retry: RetryPolicy,
        into: type[T] | OneOf[T],
        *,
        params: Sequence[tuple[str, str]] | None = None,
    ) -> Call[T]:
        """A GET of ``path`` (with the query ``params``)."""
        return cls(operation, "GET", path, retry, into, params=params)

    @classmethod
    def post(
        cls,
        operation: str,
        path: str,
        retry: RetryPolicy,
        into: type[T] | OneOf[T],
        *,
        json: Mapping[str, Any],
        arguments: Mapping[str, Any] | None = None,
    ) -> Call[T]:
        """A POST of the JSON body ``json``.

        ``arguments`` (default: the body) is what an :class:`OutcomeUnknownError` reports
        the call was made with.
        """
        reported = json if arguments is None else arguments
        return cls(operation, "POST", path, retry, into, arguments=reported, json=json)


# One encoder for every body: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(allow_nan=False, ensure_ascii=False)


def encode_body(call: Call[Any]) -> bytes | None:
    """The request body as standard JSON in UTF-8, or :class:`InvalidRequestError`.

    NaN and Infinity, values JSON cannot hold, and strings that are not valid Unicode (a
    lone surrogate) are refused here, before any byte is sent.
    """
    if call.json is None:
        return None
    try:
        return _ENCODER.encode(call.json).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        reason = short_repr(str(exc))
    # Raised outside the except block: the message says it all.
    msg = f"{call.operation}: the request body is not standard JSON ({reason})"
    raise _errors.InvalidRequestError(msg)
