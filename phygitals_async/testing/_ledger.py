"""The local sandbox's ledger: what it actually executed, in total and per user."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal

import attrs

__all__ = ["Ledger"]


@attrs.define
class Ledger:
    """What the sandbox actually executed, so tests can prove exactly-once effects.

    ``sold`` maps each sold item id to the amount paid; ``amount_paid`` is their exact sum.
    ``sellers`` maps each sold item id to the user it was bought for, and ``sold_at`` to
    the sandbox time of the sale; :meth:`paid_to` answers for one user.
    ``requests`` counts requests per route; ``max_in_flight`` is the most seen at once.
    """

    purchases: int = 0
    items_pulled: int = 0
    sold: dict[str, Decimal] = attrs.field(factory=dict)
    sellers: dict[str, str] = attrs.field(factory=dict)
    sold_at: dict[str, datetime] = attrs.field(factory=dict)
    sellback_executions: int = 0
    orders_created: int = 0
    quotes_created: int = 0
    requests: Counter[str] = attrs.field(factory=Counter)
    in_flight: Counter[str] = attrs.field(factory=Counter)
    max_in_flight: Counter[str] = attrs.field(factory=Counter)

    @property
    def amount_paid(self) -> Decimal:
        """The exact total paid out for sellbacks."""
        return sum(self.sold.values(), Decimal(0))

    def sold_for(self, user_id: str) -> dict[str, Decimal]:
        """The items sold back for ``user_id``, each with the amount paid."""
        return {
            item_id: amount
            for item_id, amount in self.sold.items()
            if self.sellers.get(item_id) == user_id
        }

    def paid_to(self, user_id: str) -> Decimal:
        """The exact total paid for ``user_id``'s items.

        Example: ``assert sandbox.ledger.paid_to("u1") == sale.amount``.
        """
        return sum(self.sold_for(user_id).values(), Decimal(0))
