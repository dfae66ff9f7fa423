"""Bulk sellback: bounded concurrency, an outcome for every item, an optional journal."""

from __future__ import annotations

from decimal import Decimal

import attrs

from ._models import FailedSellback, Sellback

__all__ = ["BuybackAnswer", "SellbackOutcome"]

SellbackOutcome = Sellback | FailedSellback


@attrs.frozen
class BuybackAnswer:
    """The body of a successful ``POST /vm/buyback``."""

    success: bool
    amount: Decimal
