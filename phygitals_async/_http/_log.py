"""Diagnostics by log: the ``PHYGITALS_LOG`` switch and the lines the HTTP seam writes.

Everything goes to the ``phygitals_async`` logger:

- WARNING: each retry (``list_packs: retry 1 of 2 after 0.5 s: ServerError: ...``) and each
  money-moving request whose outcome is unknown;
- INFO: one line per logical call, when it ends (``inventory GET /api/v1/inventory/u1 ->
  200 in 12.3 ms, 1 attempt, request id req_1``);
- DEBUG: each attempt's request and response, headers and bodies, a body cut at
  :data:`BODY_LIMIT` bytes with the cut said. Bodies are the bytes as sent and received,
  so amounts read exactly; the API key and the values of credential headers are replaced
  by ``[redacted]`` everywhere.

``PHYGITALS_LOG=info|debug`` is read when a client is created (:func:`configure`). When the
application has configured logging (the root logger has a handler) it only sets the
level of ``phygitals_async``; otherwise it also attaches one stderr handler, once. With
the logger not enabled for INFO a call pays one ``isEnabledFor`` check and builds nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator, Mapping

from .._tracing import log
from ._answers import Retryable
from ._secrets import REDACTED

__all__ = [
    "BODY_LIMIT",
    "LEVELS",
    "LOG_ENV",
    "CallLog",
    "attempt",
    "configure",
    "forced",
    "retry_line",
]

LOG_ENV = "PHYGITALS_LOG"
LEVELS: Mapping[str, int] = {"info": logging.INFO, "debug": logging.DEBUG}
# Bodies longer than this (bytes) are cut in DEBUG lines.
BODY_LIMIT = 2048
# Header values that are credentials, whatever their value (names compared lower-case).
_CREDENTIAL_HEADERS = frozenset(
    {"x-api-key", "authorization", "proxy-authorization", "cookie", "set-cookie"}
)
_HANDLER_MARK = "_phygitals_log_handler"


# Set while the command line's --debug holds the level: clients created then leave it.
_forced = False


def configure(value: str | None = None) -> None:
    """Apply ``value`` (default ``$PHYGITALS_LOG``): ``info``, ``debug``, or unset.

    An unknown value is a :class:`RuntimeWarning` naming the accepted ones; logging is
    then left as it was.
    """
    if value is None:
        if _forced:
            return
        value = os.environ.get(LOG_ENV)
    if not value or not value.strip():
        return
    level = LEVELS.get(value.strip().lower())
    if level is None:
        accepted = " or ".join(LEVELS)
        msg = f"{LOG_ENV}={value!r} is not understood (use {accepted}); logging is unchanged"
        warnings.warn(msg, RuntimeWarning, stacklevel=3)
        return
    log.setLevel(level)
    ours = [h for h in log.handlers if getattr(h, _HANDLER_MARK, False)]
    if logging.getLogger().handlers or len(ours) < len(log.handlers):
        # The application configured logging (the root's or this logger's handlers, maybe
        # after an earlier client added ours): the level only, and ours goes.
        for handler in ours:
            log.removeHandler(handler)
        return
    if ours:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
    setattr(handler, _HANDLER_MARK, True)
    log.addHandler(handler)


@contextlib.contextmanager
def forced(value: str) -> Iterator[None]:
    """``PHYGITALS_LOG=value`` for the block, whatever the environment says; then as before.

    The command line's ``--debug``: ``main()`` may run in-process (tests, embedding), so
    the logger is left as it was found.
    """
    global _forced  # noqa: PLW0603  one process-wide switch, as logging's own state is
    level, handlers, was = log.level, list(log.handlers), _forced
    configure(value)
    _forced = True
    try:
        yield
    finally:
        _forced = was
        log.setLevel(level)
        for handler in log.handlers:
            if handler not in handlers:
                log.removeHandler(handler)


class CallLog:
    """What the INFO line of one logical call says; made only when INFO is enabled."""

    __slots__ = ("attempts", "request_id", "started", "status")

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.attempts = 0
        self.status: int | None = None
        self.request_id: str | None = None

    def answered(self, status: int, headers: Mapping[str, str]) -> None:
        """Record one attempt's response."""
        self.status = status
        self.request_id = headers.get("X-Request-Id")

    def finish(
        self, operation: str, method: str, path: str, error: BaseException | None, secret: str
    ) -> None:
        """Write the call's one INFO line (``error`` is what it raised, if anything)."""
        elapsed = (time.perf_counter() - self.started) * 1000
        outcome = "" if self.status is None else str(self.status)
        if error is not None:
            outcome = f"{outcome} {type(error).__name__}".strip()
        attempts = f"{self.attempts} attempt{'' if self.attempts == 1 else 's'}"
        line = (
            f"{operation} {method} {path} -> {outcome} in {elapsed:.1f} ms, {attempts}, "
            f"request id {self.request_id or '-'}"
        )
        log.info("%s", _scrubbed(line, secret))


def _scrubbed(text: str, secret: str) -> str:
    return text.replace(secret, REDACTED) if secret and secret in text else text


def _headers(headers: Mapping[str, str], secret: str) -> str:
    shown = (
        f"{name}: {REDACTED if name.lower() in _CREDENTIAL_HEADERS else value}"
        for name, value in headers.items()
    )
    return _scrubbed("; ".join(shown), secret)


def _body(raw: bytes | None, secret: str) -> str:
    if not raw:
        return "(empty)"
    if secret:
        # Scrubbed before the cut: a key across the cut would otherwise leave its start.
        raw = raw.replace(secret.encode(), REDACTED.encode())
    text = raw[:BODY_LIMIT].decode("utf-8", "replace")
    if len(raw) > BODY_LIMIT:
        text += f" [cut: {len(raw) - BODY_LIMIT} more of {len(raw)} bytes not shown]"
    return text


def retry_line(
    operation: str, step: tuple[int, int, float], outcome: Retryable, secret: str
) -> None:
    """One WARNING per retry: ``retry n of m after X s: reason`` (``step`` is n, m, X)."""
    attempt, retries, delay = step
    log.warning(
        "%s: retry %d of %d after %.3g s%s: %s",
        operation,
        attempt,
        retries,
        delay,
        " (the server's Retry-After)" if outcome.retry_after is not None else "",
        _scrubbed(f"{type(outcome.error).__name__}: {outcome.error}", secret),
    )


def attempt(
    note: CallLog,
    what: tuple[str, str, float],
    request: tuple[Mapping[str, str], Mapping[str, str] | None, bytes | None],
    answer: tuple[int, Mapping[str, str], bytes] | str,
    secret: str,
) -> None:
    """Count one attempt of a logged call and, at DEBUG, write it in full.

    ``what`` is the method, the path and when the attempt started (``perf_counter``);
    ``request`` the session's headers, the request's own and its body; ``answer`` the
    status, headers and body, or the failure's text.
    """
    note.attempts += 1
    if not isinstance(answer, str):
        note.answered(answer[0], answer[1])
    if log.isEnabledFor(logging.DEBUG):
        headers = {**request[0], **(request[1] or {})}
        _attempt_line(what, (headers, request[2]), answer, secret)


def _attempt_line(
    what: tuple[str, str, float],
    request: tuple[Mapping[str, str], bytes | None],
    answer: tuple[int, Mapping[str, str], bytes] | str,
    secret: str,
) -> None:
    """Write one DEBUG record for one attempt: the request, then the response or failure."""
    method, path, started = what
    elapsed = (time.perf_counter() - started) * 1000
    response = None if isinstance(answer, str) else answer
    head = f"{method} {path} -> "
    head += f"{response[0]}" if response is not None else f"failed ({answer})"
    lines = [
        f"{head} in {elapsed:.1f} ms",
        f"  request headers: {_headers(request[0], secret)}",
        f"  request body: {_body(request[1], secret)}",
    ]
    if response is not None:
        lines.append(f"  response headers: {_headers(response[1], secret)}")
        lines.append(f"  response body: {_body(response[2], secret)}")
    log.debug("%s", _scrubbed("\n".join(lines), secret))
