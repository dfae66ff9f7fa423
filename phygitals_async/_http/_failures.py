"""Attempts that got no answer: the error each one means, and the wait before the next.

An attempt that failed in the HTTP library comes back from the seam as an
:class:`AttemptError`; :func:`connection_failure` says which SDK error it is for the call's
retry class, and :func:`retry_delay` how long to wait before trying again, if at all.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import attrs

from .. import _errors
from .._config import Settings
from ._answers import Retryable
from ._calls import Call
from ._pool import ConnectorClosedError
from ._secrets import sanitized

__all__ = ["AttemptError", "attempt_error", "connection_failure", "library_error", "retry_delay"]


@attrs.frozen
class AttemptError:
    """An attempt ended without a response; ``sent`` says whether the request went out.

    ``cause`` is the library's exception as sanitized text (see :mod:`._secrets`).
    """

    cause: BaseException
    sent: bool
    timed_out: bool


def attempt_error(exc: BaseException, secret: str) -> AttemptError:
    """What the HTTP library raised, as an :class:`AttemptError` without ``secret``.

    Anything raised before the connection was made (refused, DNS, TLS, proxy, a timeout
    while connecting, a pool closed first) left nothing; anything after may have.
    """
    cause = sanitized(exc, secret)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return AttemptError(cause, sent=False, timed_out=True)
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return AttemptError(cause, sent=True, timed_out=True)
    if isinstance(exc, aiohttp.ClientConnectorError | ConnectorClosedError):
        return AttemptError(cause, sent=False, timed_out=False)
    return AttemptError(cause, sent=True, timed_out=False)


def connection_failure(
    call: Call[Any],
    failed: AttemptError,
    budget: float,
    deadline: float,
    settings: Settings,
    *,
    closed: bool,
) -> _errors.PhygitalsError:
    """The error an attempt without an answer is, for ``call``'s retry class.

    ``closed``: the client was closed meanwhile, which is then the reason reported.
    """
    reason = str(failed.cause)
    if failed.sent and not call.retry.after_sent:
        lost = "this client was closed while it was in flight" if closed else "no answer arrived"
        return _errors.OutcomeUnknownError(
            f"{call.operation} may have reached the server but {lost} "
            f"({reason}); it was not resent. Check the outcome before trying again.",
            operation=call.operation,
            arguments=call.arguments,
        )
    if failed.timed_out and settings.clock() >= deadline:
        return _errors.APITimeoutError(f"{call.operation} did not complete within {budget:g} s")
    if failed.timed_out:
        return _errors.APITimeoutError(f"{call.operation} timed out ({reason})")
    return _errors.APIConnectionError(f"{call.operation} failed to connect ({reason})")


def retry_delay(
    settings: Settings, outcome: Retryable, attempt: int, deadline: float
) -> float | None:
    """Seconds to wait before the next attempt, or ``None`` to raise the error now."""
    longest = settings.max_retry_wait
    if outcome.retry_after is None:
        # "Equal jitter": at least half the exponential step, so retries never bunch at zero.
        step = min(settings.retry_backoff_max, settings.retry_backoff * 2.0**attempt)
        delay = min(step / 2 + step / 2 * settings.jitter(), longest)
    elif outcome.retry_after > longest:
        # Longer than this client may wait at once: the caller decides, with the error's
        # .retry_after in hand.
        return None
    else:
        delay = outcome.retry_after
    if delay >= deadline - settings.clock():
        # Not enough time left to wait and try again: the real reason beats a timeout.
        return None
    return delay


def library_error(cause: BaseException) -> str:
    """The HTTP library's exception class name, from its sanitized stand-in's text."""
    return str(cause).split(":", 1)[0].rsplit(".", 1)[-1] or type(cause).__name__
