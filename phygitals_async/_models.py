"""Typed, immutable models of the partner API's responses.

Attribute names are the API's own field names. Money is :class:`decimal.Decimal` (exact, as
written in the JSON), times are timezone-aware :class:`datetime.datetime`. Enumerations the
API may extend (:class:`ItemType`, :class:`OrderStatus`) decode unknown values to the plain
string instead of failing.

Every model is importable from here; the shipping models are written in
``_models_shipping``, and the base they all share (JSON in and out) in ``_models_base``.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import attrs

from ._models_base import _Model
from ._models_shipping import (
    Address,
    OrderItem,
    OrderStatus,
    ShipmentCreated,
    ShippingOrder,
    ShippingQuote,
    ShippingRate,
)

__all__ = [
    "Address",
    "Attribute",
    "BulkSellbackReport",
    "Card",
    "Content",
    "FailedSellback",
    "Inventory",
    "Item",
    "ItemType",
    "Links",
    "Metadata",
    "OrderItem",
    "OrderStatus",
    "Pack",
    "Pull",
    "Purchase",
    "PurchasePending",
    "PurchaseResult",
    "RarityTier",
    "RunTotals",
    "Sellback",
    "ShipmentCreated",
    "ShippingOrder",
    "ShippingQuote",
    "ShippingRate",
    "UnconfirmedSellback",
]

AttributeValue = str | int | float | bool | Decimal | None


class ItemType(enum.StrEnum):
    """Where an item comes from. Values the API adds later decode as plain strings."""

    ENFT = "enft"
    EBAY = "ebay"
    FANATICS = "fanatics"
    ALT = "alt"
    EXTERNAL = "external"


@attrs.frozen
class RarityTier(_Model):
    """One rarity tier of a pack: its value range (USD) and relative weight."""

    id: int
    name: str
    color: str
    lower: Decimal
    upper: Decimal
    weight: Decimal


@attrs.frozen
class Pack(_Model):
    """A purchasable pack (the API calls it a claw machine or VM)."""

    id: str
    name: str
    platform: str
    enable: bool
    in_stock: bool
    mint_price: Decimal
    max_per_mint: int
    buyback_percent: Decimal
    slug: str | None = None
    description: str | None = None
    categories: tuple[str, ...] = ()
    ev: Decimal | None = None
    min_ev: Decimal | None = None
    max_ev: Decimal | None = None
    ev_updated_at: datetime | None = None
    claw_image_url: str | None = None
    rarity_distribution: tuple[RarityTier, ...] = ()

    @property
    def purchasable(self) -> bool:
        """Whether ``buy`` can succeed now: the pack is enabled and in stock."""
        return self.enable and self.in_stock


@attrs.frozen
class Attribute(_Model):
    """One trait of a card, e.g. ``Attribute("Year", "2024")``."""

    trait_type: str
    value: AttributeValue


@attrs.frozen
class Metadata(_Model):
    """A card's display metadata; ``image`` is the canonical image URL."""

    name: str
    image: str | None = None
    back_image: str | None = None
    attributes: tuple[Attribute, ...] = ()


@attrs.frozen
class Links(_Model):
    """Direct CDN links; a fallback for :attr:`Metadata.image`."""

    image: str | None = None
    back_image: str | None = None


@attrs.frozen
class Content(_Model):
    """An item's content: metadata, and links where the API provides them."""

    metadata: Metadata
    links: Links | None = None


class _Owned(_Model):
    # One slot outside the model's fields: where the SDK read the item, not the API's data.
    __slots__ = ("_owner",)


@attrs.frozen
class Item(_Owned):
    """A pulled item: what a purchase returns and what an inventory lists.

    ``id`` is the ``item_id`` for ``sell_back``, ``card`` and ``ship_quote``.

    :attr:`owner` is the user whose inventory (or purchase) the SDK read the item from;
    it is not part of the API's data, so it is left out of ``to_dict()``, ``repr`` and
    ``==``; it survives pickling and copying, not ``attrs.evolve``.
    """

    id: str
    buyback_price: Decimal
    content: Content
    mint_address: str | None = None
    type: ItemType | str | None = None
    collection_address: str | None = None
    token_standard: str | None = None
    claw_id: str | None = None
    claw_slug: str | None = None
    purchased_at: datetime | None = None
    buyback_expires_at: datetime | None = None

    @property
    def name(self) -> str:
        """The card's display name."""
        return self.content.metadata.name

    @property
    def owner(self) -> str | None:
        """The user the SDK read this item for (``inventory(user_id)``, ``buy(user_id=)``).

        ``None`` for an item built or decoded any other way. A bulk sellback given such
        items knows their owner without ``user_id=``.
        """
        return getattr(self, "_owner", None)

    def __getstate__(self) -> dict[str, Any]:
        state = {field.name: getattr(self, field.name) for field in attrs.fields(type(self))}
        state["_owner"] = self.owner
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)


def owned(items: tuple[Item, ...], owner: str) -> None:
    """Mark ``items`` as read for ``owner`` (see :attr:`Item.owner`)."""
    for item in items:
        object.__setattr__(item, "_owner", owner)


@attrs.frozen
class Purchase(_Model):
    """The answer to ``buy``: the session to poll, and the pulled items when already known."""

    session_id: str
    nfts: tuple[Item, ...] = ()


@attrs.frozen
class PurchaseResult(_Model):
    """A fulfilled purchase (the API's ``{"result": …}`` wrapper is flattened)."""

    session_id: str
    user_id: str
    public_id: str
    nfts: tuple[Item, ...]
    tx_hash: str


@attrs.frozen
class PurchasePending(_Model):
    """The purchase is not fulfilled yet; poll again."""

    status: Literal["pending"] = "pending"


@attrs.frozen
class Inventory(_Model):
    """A user's items that are neither sold back nor in a shipment."""

    user_id: str
    items: tuple[Item, ...]


@attrs.frozen
class Sellback(_Model):
    """A completed sellback: the API answered that ``amount`` (USD) was credited for ``item_id``."""

    item_id: str
    amount: Decimal


@attrs.frozen
class BuybackAnswer(_Model):
    """The body of a successful ``POST /vm/buyback``; ``sell_back`` returns a Sellback.

    ``success`` is always true in a sale's answer: a 200 saying false confirms no sale, so
    it is a body that does not match (:class:`ResponseValidationError`), not an amount.
    """

    success: Literal[True]
    amount: Decimal


@attrs.frozen
class Card(_Model):
    """Card details with its fair-market value (``fmv``, USD)."""

    id: str
    name: str
    fmv: Decimal
    metadata: Metadata
    image: str | None = None
    back_image: str | None = None


@attrs.frozen
class Pull(_Model):
    """One entry of the recent-pulls feed."""

    id: str
    claw_id: str
    value: Decimal
    buyback_price: Decimal
    created_at: datetime
    metadata: Metadata
    claw_slug: str | None = None


def _same_error(a: object, b: object) -> bool:
    # Exceptions compare by identity; an outcome read back from JSON or a journal is equal
    # when it is the same class with the same message and attributes.
    return (
        type(a) is type(b)
        and isinstance(a, BaseException)
        and isinstance(b, BaseException)
        and a.args == b.args
        and vars(a) == vars(b)
    )


@attrs.frozen
class UnconfirmedSellback(_Model):
    """An item a bulk sellback sold whose amount never arrived (a lost answer, a crash).

    The sale is established without guessing: a second buyback of the item was refused
    and the item has left its owner's inventory. ``quoted_amount`` is the buyback price
    known when the item was begun (``None`` when it was given as a bare id and the
    owner's inventory did not list it); the amount actually credited may differ in
    production, where the price is re-read at sale time.
    """

    item_id: str
    quoted_amount: Decimal | None


@attrs.frozen
class FailedSellback(_Model):
    """An item the bulk sellback did not sell, with the typed error that says why.

    When ``error`` is an :class:`OutcomeUnknownError` the sale may or may not have
    happened: such items are listed in :attr:`BulkSellbackReport.unknown`, never guessed.
    Two failures are equal when their errors have the same class, message and attributes.
    """

    item_id: str
    error: Exception = attrs.field(eq=attrs.cmp_using(eq=_same_error), hash=False)


@attrs.frozen
class RunTotals(_Model):
    """What one run of a bulk sellback job settled (the report's lists cover the whole job).

    Attributes:
        sold: confirmed sales this run.
        unconfirmed: sales this run established without their amount.
        failed: items this run could not sell.
        unknown: items whose outcome this run could not establish.
        total_amount: the exact sum of this run's confirmed amounts.
        unconfirmed_amount: the exact sum of the quoted prices of this run's unconfirmed sales.
    """

    sold: int = 0
    unconfirmed: int = 0
    failed: int = 0
    unknown: int = 0
    total_amount: Decimal = Decimal(0)
    unconfirmed_amount: Decimal = Decimal(0)

    @property
    def settled(self) -> int:
        """How many items this run settled."""
        return self.sold + self.unconfirmed + self.failed + self.unknown


@attrs.frozen(repr=False)
class BulkSellbackReport(_Model):
    """Every item of a bulk sellback job, each in exactly one tuple, in job order.

    With a journal the report covers the whole job across all its runs; :attr:`this_run`
    says what this run settled, and :meth:`summary` says both in one line.

    Attributes:
        succeeded: confirmed sales, each with the amount the API answered.
        failed: items not sold; ``.error`` is the typed error.
        unknown: items whose outcome could not be established (an
            :class:`OutcomeUnknownError`); a rerun with the journal checks them again.
        unconfirmed: items sold whose amount never arrived (:class:`UnconfirmedSellback`).
        elapsed: seconds this run took.
        resumed: how many items were already settled by earlier runs of the job.
        this_run: counts and totals of what this run settled (:class:`RunTotals`).
        remaining: items of the job left unsettled: the run was stopped early, or other
            workers of a shared journal still hold them. A rerun settles them.
    """

    succeeded: tuple[Sellback, ...]
    failed: tuple[FailedSellback, ...]
    unknown: tuple[FailedSellback, ...] = ()
    unconfirmed: tuple[UnconfirmedSellback, ...] = ()
    elapsed: float = 0.0
    resumed: int = 0
    this_run: RunTotals = RunTotals()
    remaining: int = 0

    @property
    def total(self) -> int:
        """How many distinct items the job covered."""
        return len(self.succeeded) + len(self.failed) + len(self.unknown) + len(self.unconfirmed)

    @property
    def total_amount(self) -> Decimal:
        """The exact sum of the confirmed amounts (``succeeded`` only)."""
        return sum((sale.amount for sale in self.succeeded), Decimal(0))

    @property
    def unconfirmed_amount(self) -> Decimal:
        """The exact sum of the quoted prices of ``unconfirmed`` sales (unknown ones count 0)."""
        return sum(
            (s.quoted_amount for s in self.unconfirmed if s.quoted_amount is not None), Decimal(0)
        )

    @property
    def ok(self) -> bool:
        """Whether every item was sold (confirmed or not) and none is left."""
        return not self.failed and not self.unknown and not self.remaining

    def summary(self) -> str:
        """One line for a log or cron mail: this run, then the whole job.

        Example: ``this run: sold 37 ($1234.56), unconfirmed 0, failed 1, unknown 0;
        job: 438 items, sold 437 ($38721.75), unconfirmed 0, failed 1, unknown 0``.
        """
        run = self.this_run
        line = (
            f"this run: sold {run.sold} (${run.total_amount}), unconfirmed {run.unconfirmed},"
            f" failed {run.failed}, unknown {run.unknown}; job: {self.total + self.remaining}"
            f" items, sold {len(self.succeeded)} (${self.total_amount}), unconfirmed"
            f" {len(self.unconfirmed)}, failed {len(self.failed)}, unknown {len(self.unknown)}"
        )
        return line + (f", {self.remaining} left" if self.remaining else "")

    def __repr__(self) -> str:
        # Counts and totals: a report of a big job would print every item otherwise.
        return (
            f"BulkSellbackReport(sold={len(self.succeeded)}, unconfirmed={len(self.unconfirmed)},"
            f" failed={len(self.failed)}, unknown={len(self.unknown)},"
            f" remaining={self.remaining}, total_amount={self.total_amount!r},"
            f" resumed={self.resumed}, this_run={self.this_run!r})"
        )
