"""The peer stack: pydantic v2 models of the same shapes (used with httpx and alone)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, TypeAdapter


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class PAttribute(_Model):
    """A card trait."""

    trait_type: str
    value: str | int | float | bool | None


class PMetadata(_Model):
    """Card display metadata."""

    name: str
    image: str | None = None
    back_image: str | None = None
    attributes: tuple[PAttribute, ...] = ()


class PLinks(_Model):
    """CDN links."""

    image: str | None = None
    back_image: str | None = None


class PContent(_Model):
    """An item's content."""

    metadata: PMetadata
    links: PLinks | None = None


class PItem(_Model):
    """An inventory item."""

    id: str
    buyback_price: Decimal
    content: PContent
    mint_address: str | None = None
    type: str | None = None
    collection_address: str | None = None
    token_standard: str | None = None
    claw_id: str | None = None
    claw_slug: str | None = None
    purchased_at: datetime | None = None
    buyback_expires_at: datetime | None = None


class PInventory(_Model):
    """A user's inventory."""

    user_id: str
    items: tuple[PItem, ...]


class PTier(_Model):
    """A rarity tier."""

    id: int
    name: str
    color: str
    lower: Decimal
    upper: Decimal
    weight: Decimal


class PPack(_Model):
    """A pack."""

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
    rarity_distribution: tuple[PTier, ...] = ()


PACKS = TypeAdapter(list[PPack])
