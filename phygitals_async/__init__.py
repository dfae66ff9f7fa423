"""phygitals_async: the async-first Python SDK for the Phygitals partner API.

Quickstart::

    from phygitals_async import AsyncPhygitals

    async with AsyncPhygitals(api_key="sandbox-...") as client:
        packs = await client.list_packs()
        purchase = await client.buy(packs[0].id, amount=1, user_id="u1")
        result = await client.wait_for_purchase(purchase.session_id)

The blocking twin, for scripts, Django views and notebooks::

    from phygitals_async import Phygitals

    with Phygitals(api_key="sandbox-...") as client:
        inventory = client.inventory("u1")

Everything public is importable from here; the modules behind it are private.
"""

import attrs as _attrs

from ._client import PRODUCTION_URL, SANDBOX_URL, AsyncPhygitals
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BuybackInProgressError,
    CardNotFoundError,
    ClientClosedError,
    ConfigurationError,
    CountryNotSupportedError,
    InvalidAddressError,
    InvalidAmountError,
    InvalidRequestError,
    ItemAlreadyShippedError,
    ItemExpiredError,
    ItemNotFoundError,
    JournalBusyError,
    JournalCompletedError,
    JournalCorruptedError,
    JournalError,
    JournalMismatchError,
    JournalNotFoundError,
    JournalUnavailableError,
    JournalVersionError,
    LoopThreadError,
    NoShippableItemsError,
    NotFoundError,
    OrderNotFoundError,
    OutcomeUnknownError,
    OutOfStockError,
    PackNotFoundError,
    PhygitalsError,
    PollCancelledError,
    PollTimeoutError,
    QuoteExpiredError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    TransactionFailedError,
    UnprocessableError,
    UserNotFoundError,
)
from ._http import APIResponse, Retry, RetryPolicy
from ._journal import (
    Journal,
    JournalEntry,
    JournalItem,
    JournalJob,
    JournalSettlement,
    JournalState,
    PostgresJournal,
)
from ._models import (
    Address,
    Attribute,
    BulkSellbackReport,
    Card,
    Content,
    FailedSellback,
    Inventory,
    Item,
    ItemType,
    Links,
    Metadata,
    OrderItem,
    OrderStatus,
    Pack,
    Pull,
    Purchase,
    PurchasePending,
    PurchaseResult,
    RarityTier,
    RunTotals,
    Sellback,
    ShipmentCreated,
    ShippingOrder,
    ShippingQuote,
    ShippingRate,
    UnconfirmedSellback,
)
from ._polling import Poll, PurchasePoll
from ._portal_handles import SyncPoll
from ._sync import Phygitals
from ._version import __version__

__all__ = [
    "APIConnectionError",
    "APIResponse",
    "APIStatusError",
    "APITimeoutError",
    "Address",
    "AsyncPhygitals",
    "Attribute",
    "AuthenticationError",
    "BadRequestError",
    "BulkSellbackReport",
    "BuybackInProgressError",
    "Card",
    "CardNotFoundError",
    "ClientClosedError",
    "ConfigurationError",
    "Content",
    "CountryNotSupportedError",
    "FailedSellback",
    "InvalidAddressError",
    "InvalidAmountError",
    "InvalidRequestError",
    "Inventory",
    "Item",
    "ItemAlreadyShippedError",
    "ItemExpiredError",
    "ItemNotFoundError",
    "ItemType",
    "Journal",
    "JournalBusyError",
    "JournalCompletedError",
    "JournalCorruptedError",
    "JournalEntry",
    "JournalError",
    "JournalItem",
    "JournalJob",
    "JournalMismatchError",
    "JournalNotFoundError",
    "JournalSettlement",
    "JournalState",
    "JournalUnavailableError",
    "JournalVersionError",
    "Links",
    "LoopThreadError",
    "Metadata",
    "NoShippableItemsError",
    "NotFoundError",
    "OrderItem",
    "OrderNotFoundError",
    "OrderStatus",
    "OutOfStockError",
    "OutcomeUnknownError",
    "PRODUCTION_URL",
    "Pack",
    "PackNotFoundError",
    "Phygitals",
    "PhygitalsError",
    "Poll",
    "PollCancelledError",
    "PollTimeoutError",
    "PostgresJournal",
    "Pull",
    "Purchase",
    "PurchasePending",
    "PurchasePoll",
    "PurchaseResult",
    "QuoteExpiredError",
    "RarityTier",
    "RateLimitError",
    "ResponseValidationError",
    "Retry",
    "RetryPolicy",
    "RunTotals",
    "SANDBOX_URL",
    "Sellback",
    "ServerError",
    "ShipmentCreated",
    "ShippingOrder",
    "ShippingQuote",
    "ShippingRate",
    "SyncPoll",
    "TransactionFailedError",
    "UnconfirmedSellback",
    "UnprocessableError",
    "UserNotFoundError",
    "__version__",
]


def _claim_public_names() -> None:
    # Tracebacks and reprs say `phygitals_async.PackNotFoundError`, where users import it
    # from, not the private module that defines it (as httpx does).
    # Models' string annotations are resolved first, in the module that wrote them.
    for name in __all__:
        value = globals()[name]
        if isinstance(value, type) and value.__module__.startswith("phygitals_async._"):
            if _attrs.has(value):
                _attrs.resolve_types(value)
            value.__module__ = __name__


_claim_public_names()
