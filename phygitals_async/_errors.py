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

The classes are written in two modules: ``_errors_sdk`` (the root and the errors the SDK
raises itself) and ``_errors_api`` (:class:`APIStatusError` and the API's answers). This one
is the tree as the rest of the package imports it, and the lookup from an answer to its
class (:func:`error_class_for`).
"""

from __future__ import annotations

# Every class of the tree, from the two modules it is written in (each lists its own).
from ._errors_api import *  # noqa: F403
from ._errors_api import AMOUNT_LIMIT, APIStatusError, InvalidAmountError, ServerError
from ._errors_sdk import *  # noqa: F403
from ._errors_sdk import _rebuild

# Pickles of errors name ``phygitals_async._errors._rebuild``, where every earlier version
# defined it: an error pickled here stays readable by a worker of an older version.
_rebuild.__module__ = __name__


def _documented() -> list[type[APIStatusError]]:
    """Every status error class that names an ``api_status`` or ``api_message`` itself."""
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
    if status == 400 and AMOUNT_LIMIT.fullmatch(message):
        return InvalidAmountError
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIStatusError)
