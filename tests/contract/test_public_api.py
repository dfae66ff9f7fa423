"""The public surface: names are a contract, exported flat, sorted, documented."""

from __future__ import annotations

import inspect
from decimal import Decimal
from types import ModuleType

import attrs
import pytest

import phygitals_async
import phygitals_async.testing

CONTRACT = [
    "AsyncPhygitals",
    "Phygitals",
    "Pack",
    "Purchase",
    "PurchaseResult",
    "PurchasePending",
    "PurchasePoll",
    "Item",
    "Inventory",
    "Sellback",
    "BulkSellbackReport",
    "Card",
    "Pull",
    "Address",
    "ShippingQuote",
    "ShippingRate",
    "ShipmentCreated",
    "ShippingOrder",
    "PhygitalsError",
    "ConfigurationError",
    "APIConnectionError",
    "APITimeoutError",
    "OutcomeUnknownError",
    "ResponseValidationError",
    "PollTimeoutError",
    "APIStatusError",
    "BadRequestError",
    "PackNotFoundError",
    "OutOfStockError",
    "InvalidAmountError",
    "ItemNotFoundError",
    "ItemExpiredError",
    "TransactionFailedError",
    "BuybackInProgressError",
    "QuoteExpiredError",
    "ItemAlreadyShippedError",
    "InvalidAddressError",
    "NoShippableItemsError",
    "AuthenticationError",
    "NotFoundError",
    "UserNotFoundError",
    "CardNotFoundError",
    "OrderNotFoundError",
    "UnprocessableError",
    "CountryNotSupportedError",
    "RateLimitError",
    "ServerError",
]


@pytest.mark.parametrize("module", [phygitals_async, phygitals_async.testing])
def test_all_is_sorted_complete_and_importable(module: ModuleType) -> None:
    """__all__ is sorted, lists every public name the module defines, and each imports.

    Its own submodules aside, no other public name: not even a module it imports (pytest's
    assertion rewriting adds ``@py_builtins`` and the like, which no import can name).
    """
    names = list(module.__all__)
    assert names == sorted(names)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith(("_", "@"))
        and not (inspect.ismodule(value) and value.__name__.startswith(f"{module.__name__}."))
    }
    assert set(names) - {"__version__"} == public
    for name in names:
        assert hasattr(module, name), name


def test_exported_classes_report_the_public_module() -> None:
    """Tracebacks name `phygitals_async.X`, the import path, not a private module."""
    for name in phygitals_async.__all__:
        value = getattr(phygitals_async, name)
        if inspect.isclass(value):
            assert value.__module__ == "phygitals_async", name
            assert getattr(phygitals_async, value.__qualname__) is value


def test_design_names_are_exported() -> None:
    """Every name the design promises users can be imported from the package."""
    assert set(CONTRACT) <= set(phygitals_async.__all__)


@pytest.mark.parametrize("name", [n for n in phygitals_async.__all__ if not n.startswith("_")])
def test_public_names_have_docstrings(name: str) -> None:
    """Each public class and function says what it is."""
    value = getattr(phygitals_async, name)
    if inspect.isclass(value) or inspect.isfunction(value):
        assert inspect.getdoc(value), name


def test_models_use_the_api_field_names() -> None:
    """Models carry the API's own field names, as the design lists them."""
    fields = {
        cls.__name__: {f.name for f in attrs.fields(cls)}
        for cls in (
            phygitals_async.Purchase,
            phygitals_async.PurchaseResult,
            phygitals_async.Inventory,
            phygitals_async.Item,
            phygitals_async.ShippingQuote,
            phygitals_async.ShippingOrder,
            phygitals_async.Sellback,
            phygitals_async.PurchasePending,
        )
    }
    assert {"session_id", "nfts"} <= fields["Purchase"]
    assert {"public_id", "tx_hash"} <= fields["PurchaseResult"]
    assert "items" in fields["Inventory"]
    assert {"buyback_price", "buyback_expires_at", "content"} <= fields["Item"]
    assert "quotes" in fields["ShippingQuote"]
    assert {"status", "tracking_number"} <= fields["ShippingOrder"]
    assert {"item_id", "amount"} <= fields["Sellback"]
    assert phygitals_async.PurchasePending().status == "pending"


def test_models_are_frozen() -> None:
    """Models cannot be changed after decoding."""
    sale = phygitals_async.Sellback("i", Decimal(1))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        sale.amount = Decimal(2)  # type: ignore[misc]
