"""The one exception tree of phygitals_async.

Every failure the SDK reports is a :class:`PhygitalsError`. API errors are chosen from the
HTTP status and the API's documented ``error`` string, matched exactly::

    PhygitalsError
    ├── ClientClosedError (RuntimeError)     the client was used after close()
    ├── LoopThreadError (RuntimeError)       a blocking call from the client's own loop thread
    ├── PollCancelledError (CancelledError)  a blocking poll handle was cancelled
    ├── ConfigurationError (ValueError)      bad key / base URL, raised before any request
    │   └── InvalidRequestError              bad arguments, raised before any request
    ├── APIConnectionError                   no usable response
    │   ├── APITimeoutError (TimeoutError)   the call's deadline passed
    │   └── OutcomeUnknownError              a non-retryable POST may have reached the server
    ├── ResponseValidationError              a 2xx body that does not decode
    ├── PollTimeoutError (TimeoutError)      polling gave up; carries the last status
    ├── JournalError                         a bulk sellback journal cannot be used (a
    │   │                                    directory, unreadable, unwritable); nothing sent
    │   ├── JournalNotFoundError             no such journal to resume or read (also an
    │   │                                    InvalidRequestError)
    │   ├── JournalCorruptedError            not a journal: not SQLite, damaged, tables missing
    │   ├── JournalVersionError              written with a schema version this SDK does not know
    │   ├── JournalMismatchError             the job belongs to another user or environment
    │   ├── JournalBusyError                 another run holds the journal (names the holder)
    │   ├── JournalCompletedError            a completed job given items it never had
    │   └── JournalUnavailableError          the journal's database cannot be reached (or
    │                                        went away mid-job: nothing more is sent)
    └── APIStatusError                       .status_code .message .body .method .url
                                             .headers .request_id
        ├── BadRequestError          400
        │   ├── PackNotFoundError            "VM not found"
        │   ├── OutOfStockError              "Claw machine is out of stock"
        │   ├── InvalidAmountError           "Amount must be greater than 0",
        │   │                                "Amount must be less than or equal to N" (.limit)
        │   ├── ItemNotFoundError            "Item not found"
        │   ├── ItemExpiredError             "Item has expired"
        │   ├── TransactionFailedError       "Transaction failed"
        │   ├── BuybackInProgressError       "Item already has an active buyback session"
        │   ├── QuoteExpiredError            "Quote expired"
        │   ├── ItemAlreadyShippedError      "Item already shipped"
        │   ├── InvalidAddressError          "Invalid destination address" (.details, .suggested)
        │   └── NoShippableItemsError        "No shippable items in request"
        ├── AuthenticationError      401     "Invalid API key"
        ├── NotFoundError            404
        │   ├── UserNotFoundError            "User not found"
        │   ├── CardNotFoundError            "Card not found"
        │   └── OrderNotFoundError           "Order not found"
        ├── UnprocessableError       422
        │   └── CountryNotSupportedError     "Country not supported"
        ├── RateLimitError           429     (.retry_after, seconds)
        └── ServerError              5xx     (.retry_after, seconds)

An unknown ``error`` string falls back to the class for its status; any other status is a
plain :class:`APIStatusError`.

Every class pickles and deep-copies to an equal exception (same class, ``args`` and
attributes), so errors cross process pools and task queues; see :meth:`PhygitalsError.__reduce__`.
"""

from __future__ import annotations

import concurrent.futures
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BuybackInProgressError",
    "CardNotFoundError",
    "ClientClosedError",
    "ConfigurationError",
    "CountryNotSupportedError",
    "InvalidAddressError",
    "InvalidAmountError",
    "InvalidRequestError",
    "ItemAlreadyShippedError",
    "ItemExpiredError",
    "ItemNotFoundError",
    "JournalBusyError",
    "JournalCompletedError",
    "JournalCorruptedError",
    "JournalError",
    "JournalMismatchError",
    "JournalNotFoundError",
    "JournalUnavailableError",
    "JournalVersionError",
    "LoopThreadError",
    "NoShippableItemsError",
    "NotFoundError",
    "OrderNotFoundError",
    "OutOfStockError",
    "OutcomeUnknownError",
    "PackNotFoundError",
    "PhygitalsError",
    "PollCancelledError",
    "PollTimeoutError",
    "QuoteExpiredError",
    "RateLimitError",
    "ResponseValidationError",
    "ServerError",
    "TransactionFailedError",
    "UnprocessableError",
    "UserNotFoundError",
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


class APIStatusError(PhygitalsError):
    """The API answered with a non-success status.

    Attributes:
        status_code: the HTTP status.
        message: the API's ``error`` string, or the response text when it is not JSON.
        body: the decoded JSON body, or the raw text when it is not JSON.
        method: the HTTP method.
        url: the request URL.
        headers: the response headers (read-only, case-insensitive).
        request_id: the ``X-Request-Id`` response header, or ``None``.

    A class chosen by the status alone names it in ``api_status``; a class chosen by the
    API's exact ``error`` string also names that string in ``api_message``. Those two class
    attributes are the one place each documented string is written: the lookup below is built
    from them and the docs are tested against them.
    """

    api_status: ClassVar[int | None] = None
    api_message: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: object,
        method: str,
        url: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(f"{status_code} {message}" if message else str(status_code))
        self.message = message
        self.status_code = status_code
        self.body = body
        self.method = method
        self.url = url
        # A plain dict (header names as received): it pickles and copies like every other
        # attribute; ``headers`` is the read-only view users get.
        self._headers: dict[str, str] = dict(headers) if headers is not None else {}

    @property
    def headers(self) -> Mapping[str, str]:
        """The response headers as a read-only mapping; names match in any case."""
        return CIMultiDictProxy(CIMultiDict(self._headers))

    @property
    def request_id(self) -> str | None:
        """The ``X-Request-Id`` response header, to quote to support; ``None`` when absent."""
        for name, value in self._headers.items():
            if name.lower() == "x-request-id":
                return value
        return None


class BadRequestError(APIStatusError):
    """400: the API rejected the request."""

    api_status: ClassVar[int | None] = 400


class PackNotFoundError(BadRequestError):
    """400 "VM not found": the pack id is unknown."""

    api_message: ClassVar[str | None] = "VM not found"


class OutOfStockError(BadRequestError):
    """400 "Claw machine is out of stock": the pack is disabled, sold out or has no listings."""

    api_message: ClassVar[str | None] = "Claw machine is out of stock"


class InvalidAmountError(BadRequestError):
    """400 "Amount must be …": ``limit`` is the pack's ``max_per_mint`` when the API said it."""

    api_message: ClassVar[str | None] = "Amount must be greater than 0"
    api_limit_message = "Amount must be less than or equal to {limit}"

    @property
    def limit(self) -> int | None:
        """The upper bound from "Amount must be less than or equal to N", else ``None``."""
        match = _AMOUNT_LIMIT.fullmatch(self.message)
        return int(match.group(1)) if match else None


class ItemNotFoundError(BadRequestError):
    """400 "Item not found": unknown, already sold, locked in a shipment, or not owned."""

    api_message: ClassVar[str | None] = "Item not found"


class ItemExpiredError(BadRequestError):
    """400 "Item has expired": the sellback window has closed."""

    api_message: ClassVar[str | None] = "Item has expired"


class TransactionFailedError(BadRequestError):
    """400 "Transaction failed": the purchase or sellback failed (or the session is unknown)."""

    api_message: ClassVar[str | None] = "Transaction failed"


class BuybackInProgressError(BadRequestError):
    """400 "Item already has an active buyback session"."""

    api_message: ClassVar[str | None] = "Item already has an active buyback session"


class QuoteExpiredError(BadRequestError):
    """400 "Quote expired": the quote is unknown, expired, or its rate is not in the session."""

    api_message: ClassVar[str | None] = "Quote expired"


class ItemAlreadyShippedError(BadRequestError):
    """400 "Item already shipped": an item of the quote is locked into another order."""

    api_message: ClassVar[str | None] = "Item already shipped"


class InvalidAddressError(BadRequestError):
    """400 "Invalid destination address"; ``details`` explains, ``suggested`` may correct it."""

    api_message: ClassVar[str | None] = "Invalid destination address"

    @property
    def details(self) -> str | None:
        """The API's human-readable explanation, when given."""
        value = self.body.get("details") if isinstance(self.body, dict) else None
        return value if isinstance(value, str) else None

    @property
    def suggested(self) -> dict[str, Any] | None:
        """A normalized address the API proposes instead, when it has one."""
        value = self.body.get("suggested") if isinstance(self.body, dict) else None
        return value if isinstance(value, dict) else None


class NoShippableItemsError(BadRequestError):
    """400 "No shippable items in request"."""

    api_message: ClassVar[str | None] = "No shippable items in request"


class AuthenticationError(APIStatusError):
    """401 "Invalid API key": the key is missing, empty or unknown."""

    api_status: ClassVar[int | None] = 401

    api_message: ClassVar[str | None] = "Invalid API key"


class NotFoundError(APIStatusError):
    """404: the resource does not exist (or the route did not match)."""

    api_status: ClassVar[int | None] = 404


class UserNotFoundError(NotFoundError):
    """404 "User not found": the user has no inventory with this partner."""

    api_message: ClassVar[str | None] = "User not found"


class CardNotFoundError(NotFoundError):
    """404 "Card not found"."""

    api_message: ClassVar[str | None] = "Card not found"


class OrderNotFoundError(NotFoundError):
    """404 "Order not found": unknown, or belongs to another partner."""

    api_message: ClassVar[str | None] = "Order not found"


class UnprocessableError(APIStatusError):
    """422: the request was understood but cannot be served."""

    api_status: ClassVar[int | None] = 422


class CountryNotSupportedError(UnprocessableError):
    """422 "Country not supported"."""

    api_message: ClassVar[str | None] = "Country not supported"


class _RetryAfterError(APIStatusError):
    """A status error the server may answer with ``Retry-After``: 429 and 5xx.

    ``retry_after`` is that header in seconds, or ``None``. The two public classes below
    differ only in their status and docstring, so the extra keyword is written once here.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: object,
        method: str,
        url: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message, status_code=status_code, body=body, method=method, url=url, headers=headers
        )
        self.retry_after = retry_after


class RateLimitError(_RetryAfterError):
    """429: e.g. "A buyback request for this item is already being processed".

    ``retry_after`` is the server's ``Retry-After`` in seconds, or ``None``.
    """

    api_status: ClassVar[int | None] = 429


class ServerError(_RetryAfterError):
    """5xx: the API failed, e.g. "An unexpected error occurred".

    ``retry_after`` is the server's ``Retry-After`` in seconds (sent with 503), or ``None``.
    """


_AMOUNT_LIMIT = re.compile(
    re.escape(InvalidAmountError.api_limit_message).replace(re.escape("{limit}"), r"(\d+)")
)


def _documented() -> list[type[APIStatusError]]:
    """Every class of this module that names an ``api_status`` or ``api_message`` itself."""
    found: list[type[APIStatusError]] = []
    pending = [APIStatusError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "api_status" in vars(cls) or "api_message" in vars(cls):
            found.append(cls)
    return found


_BY_STATUS: dict[int, type[APIStatusError]] = {
    cls.api_status: cls
    for cls in _documented()
    if "api_status" in vars(cls) and cls.api_status is not None
}

_BY_MESSAGE: dict[tuple[int, str], type[APIStatusError]] = {
    (cls.api_status, cls.api_message): cls
    for cls in _documented()
    if cls.api_status is not None and cls.api_message is not None
}


def error_class_for(status: int, message: str) -> type[APIStatusError]:
    """The most precise class for an error response; exact messages first, then the status."""
    exact = _BY_MESSAGE.get((status, message))
    if exact is not None:
        return exact
    if status == 400 and _AMOUNT_LIMIT.fullmatch(message):
        return InvalidAmountError
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIStatusError)
