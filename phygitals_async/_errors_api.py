"""The API's error answers: :class:`APIStatusError` and its classes, by status and message.

Each class names the status it stands for in ``api_status`` and, when the API's exact
``error`` string chooses it, that string in ``api_message``: the lookup from an answer to
its class (``_errors.error_class_for``) is built from them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from multidict import CIMultiDict, CIMultiDictProxy

from ._errors_sdk import PhygitalsError

__all__ = [
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "BuybackInProgressError",
    "CardNotFoundError",
    "CountryNotSupportedError",
    "InvalidAddressError",
    "InvalidAmountError",
    "ItemAlreadyShippedError",
    "ItemExpiredError",
    "ItemNotFoundError",
    "NoShippableItemsError",
    "NotFoundError",
    "OrderNotFoundError",
    "OutOfStockError",
    "PackNotFoundError",
    "QuoteExpiredError",
    "RateLimitError",
    "ServerError",
    "TransactionFailedError",
    "UnprocessableError",
    "UserNotFoundError",
]


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
    attributes are the one place each documented string is written: the lookup from an answer
    to its class is built from them and the docs are tested against them.
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
        match = AMOUNT_LIMIT.fullmatch(self.message)
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


AMOUNT_LIMIT = re.compile(
    re.escape(InvalidAmountError.api_limit_message).replace(re.escape("{limit}"), r"(\d+)")
)
