"""The root of the error tree and the errors the SDK raises itself, with no error answer.

Bad arguments and configuration, a closed client, a lost or missing response, a poll that
gave up, an unusable journal: everything but :class:`APIStatusError`'s answers (see
``_errors_api``). The whole tree and its contract are in ``_errors``.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "ClientClosedError",
    "ConfigurationError",
    "InvalidRequestError",
    "JournalBusyError",
    "JournalCompletedError",
    "JournalCorruptedError",
    "JournalError",
    "JournalMismatchError",
    "JournalNotFoundError",
    "JournalUnavailableError",
    "JournalVersionError",
    "LoopThreadError",
    "OutcomeUnknownError",
    "PhygitalsError",
    "PollCancelledError",
    "PollTimeoutError",
    "ResponseValidationError",
]


class PhygitalsError(Exception):
    """Root of every error raised by phygitals_async.

    Errors pickle and ``copy.deepcopy`` to an equal error, so an error raised in a
    ``ProcessPoolExecutor`` or Celery worker reaches the caller with its class and attributes.
    Two errors are equal when their class, ``args`` and attributes are.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        # The default rebuilds with cls(*args), which keyword-only constructors reject: the
        # pool then reports BrokenProcessPool instead of the error. Rebuilding without
        # calling __init__ also keeps attributes added later (and __notes__) as they were.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, PhygitalsError)  # noqa: S101  narrowed by the line above
        return self.args == other.args and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        # Consistent with __eq__ and never failing, whatever the attributes hold.
        return hash((type(self), str(self)))


def _rebuild(
    cls: type[PhygitalsError], args: tuple[object, ...], state: dict[str, Any]
) -> PhygitalsError:
    """Unpickle an error: a bare instance with its ``args`` and attributes restored."""
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class ClientClosedError(PhygitalsError, RuntimeError):
    """The client was closed; create a new one."""


class LoopThreadError(PhygitalsError, RuntimeError):
    """A blocking ``Phygitals`` method was called from the client's own event loop thread.

    That happens inside a callback the client runs (``on_progress``), where waiting for the
    loop would deadlock; nothing was done. Use :class:`AsyncPhygitals` in async code.
    """


class PollCancelledError(PhygitalsError, concurrent.futures.CancelledError):
    """The blocking poll handle was cancelled (``handle.cancel()``, from any thread).

    Every thread waiting in ``handle.result()`` gets it, as a cancelled
    :class:`concurrent.futures.Future` would raise :class:`~concurrent.futures.CancelledError`.
    """


class ConfigurationError(PhygitalsError, ValueError):
    """The client is misconfigured (missing key, key and base URL from different environments)."""


class InvalidRequestError(ConfigurationError):
    """An argument is invalid; raised before any request is sent.

    It is a :class:`ConfigurationError` because the documented contract groups "bad key /
    base URL / arguments" under that one class: code that catches ``ConfigurationError`` to
    mean "this call could never have worked, nothing was sent" keeps catching bad arguments.
    """


class APIConnectionError(PhygitalsError):
    """No usable response arrived (connection refused or dropped, TLS failure, timeout)."""


class APITimeoutError(APIConnectionError, TimeoutError):
    """The call's overall deadline (``timeout``, seconds) passed before it completed."""


class OutcomeUnknownError(APIConnectionError):
    """A money-moving POST may have reached the server, but no answer came back.

    It is never resent automatically. Reconcile before retrying: a purchase shows up in the
    user's inventory, a sold item disappears from it, a shipment is visible in its order.

    Attributes:
        operation: the SDK method, e.g. ``"buy"``.
        arguments: the arguments it was called with, e.g. ``{"pack_id": ..., "amount": 2}``.
    """

    def __init__(self, message: str, *, operation: str, arguments: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.operation = operation
        self.arguments: dict[str, Any] = dict(arguments)


class ResponseValidationError(PhygitalsError):
    """A successful (2xx) response whose body does not match the documented shape.

    The decoding error is chained as ``__cause__``; ``body`` holds the raw text.
    """

    def __init__(self, message: str, *, body: str, method: str, url: str) -> None:
        super().__init__(message)
        self.body = body
        self.method = method
        self.url = url


class PollTimeoutError(PhygitalsError, TimeoutError):
    """Polling reached its deadline; ``last_status`` is the last answer seen (or ``None``)."""

    def __init__(self, message: str, *, last_status: object) -> None:
        super().__init__(message)
        self.last_status = last_status


class JournalError(PhygitalsError):
    """A bulk sellback journal cannot be used: nothing was sent and the file is untouched.

    Raised as is for a path that is a directory, cannot be read or cannot be written; the
    subclasses name the other reasons.
    """


class JournalNotFoundError(JournalError, InvalidRequestError):
    """The journal to resume or read does not exist: a typo, not an empty job.

    Also an :class:`InvalidRequestError`, which this case used to be, so code that caught
    that still catches it.
    """


class JournalCorruptedError(JournalError):
    """The file is not a journal: not an SQLite database, damaged, or missing its tables."""


class JournalVersionError(JournalError):
    """The journal was written with a schema version this version of the SDK does not know."""


class JournalMismatchError(JournalError):
    """The journal's job belongs to another user or another environment (API base URL)."""


class JournalBusyError(JournalError):
    """Another run holds the journal (a second run of one job is refused before sending).

    The message names the holder: its process id, host and since when. The hold is an OS
    lock that ends with the holding process, ``kill -9`` included, so a stale hold never
    blocks a rerun.
    """


class JournalCompletedError(JournalError):
    """The journal holds a completed job, and the items given are not all part of it.

    One journal is one job: use a new journal for a new job (a dated name for a nightly
    run), or pass ``extend=True`` to add the items to this job on purpose.
    """


class JournalUnavailableError(JournalError):
    """The journal's database cannot be reached, refused the login, or went away mid-job.

    Before a job starts nothing has been sent; mid-job, no further sellback is begun and
    every request already sent stays recorded as begun, so the next run settles it.
    """
