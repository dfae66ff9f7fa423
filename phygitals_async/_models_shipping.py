"""The models of shipping: a destination, its quoted rates, the order and its life cycle."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from ._errors_sdk import InvalidRequestError
from ._models_base import _Model

__all__ = [
    "Address",
    "OrderItem",
    "OrderStatus",
    "ShipmentCreated",
    "ShippingOrder",
    "ShippingQuote",
    "ShippingRate",
    "is_country_code",
]


class OrderStatus(enum.StrEnum):
    """A shipping order's life cycle. Values the API adds later decode as plain strings."""

    QUEUED = "queued"
    PROCESSING = "processing"
    LABEL_CREATED = "label_created"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    FAILED = "failed"


_COUNTRY = re.compile(r"[A-Za-z]{2}")


def is_country_code(value: object) -> bool:
    """Whether ``value`` is a two-letter country code such as ``"US"``."""
    return isinstance(value, str) and _COUNTRY.fullmatch(value) is not None


@attrs.frozen
class Address(_Model):
    """A shipping destination. ``country`` is a two-letter code such as ``"US"``.

    Example::

        Address(name="Jane Doe", line1="123 Main St", city="Austin", state="TX",
                postal_code="78701", country="US")
    """

    name: str
    line1: str
    city: str
    country: str = attrs.field()
    line2: str | None = None
    state: str | None = None
    postal_code: str | None = None
    phone: str | None = None
    email: str | None = None

    @country.validator
    def _check_country(self, _: attrs.Attribute[str], value: str) -> None:
        if not is_country_code(value):
            msg = f"country must be a two-letter code such as 'US', got {value!r}"
            raise InvalidRequestError(msg)  # a ValueError too, as it always was

    def to_dict(self) -> dict[str, Any]:
        """The JSON object sent to the API; unset optional fields are left out."""
        return {k: v for k, v in super().to_dict().items() if v is not None}


@attrs.frozen
class ShippingRate(_Model):
    """One shipping option; pass its ``id`` to ``ship_request``. ``amount`` is USD."""

    id: str
    carrier: str
    service: str
    amount: Decimal
    estimated_days_min: int
    estimated_days_max: int
    insured: bool


@attrs.frozen
class ShippingQuote(_Model):
    """Rates for shipping some items to an address, valid until ``expires_at``."""

    session_id: str
    expires_at: datetime
    quotes: tuple[ShippingRate, ...]

    @property
    def cheapest(self) -> ShippingRate:
        """The rate with the lowest amount."""
        return min(self.quotes, key=lambda rate: rate.amount)


@attrs.frozen
class ShipmentCreated(_Model):
    """The answer to ``ship_request``: the new order's id."""

    order_id: str
    status: str


@attrs.frozen
class OrderItem(_Model):
    """An item inside a shipping order."""

    item_id: str
    name: str
    image: str | None = None
    back_image: str | None = None


@attrs.frozen
class ShippingOrder(_Model):
    """A shipping order and its tracking state. ``amount`` is USD, billed to the partner.

    ``destination`` echoes exactly what was sent to ``ship_quote``.
    """

    order_id: str
    status: OrderStatus | str
    carrier: str
    service: str
    amount: Decimal
    currency: str
    destination: Mapping[str, Any]
    items: tuple[OrderItem, ...]
    created_at: datetime
    tracking_number: str | None = None
    tracking_url: str | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    error_message: str | None = None
