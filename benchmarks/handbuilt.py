"""The floor for typed results: ``json.loads`` and the SDK's attrs models built by hand.

No checks beyond what building the models needs: what an application would write if it
skipped the converter and trusted the server. Money stays exact (``parse_float=Decimal``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from phygitals_async import (
    Attribute,
    Content,
    Inventory,
    Item,
    ItemType,
    Links,
    Metadata,
    Pack,
    RarityTier,
)

_DECODER = json.JSONDecoder(parse_float=Decimal)
_ITEM_TYPES = {member.value: member for member in ItemType}


def _money(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value)


def _time(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _item(d: dict[str, Any]) -> Item:
    content, kind = d["content"], d.get("type")
    metadata, links = content["metadata"], content.get("links")
    return Item(
        id=d["id"],
        buyback_price=_money(d["buyback_price"]),
        content=Content(
            metadata=Metadata(
                name=metadata["name"],
                image=metadata.get("image"),
                back_image=metadata.get("back_image"),
                attributes=tuple(
                    Attribute(a["trait_type"], a["value"]) for a in metadata.get("attributes", ())
                ),
            ),
            links=None if links is None else Links(links.get("image"), links.get("back_image")),
        ),
        mint_address=d.get("mint_address"),
        type=kind if kind is None else _ITEM_TYPES.get(kind, kind),
        collection_address=d.get("collection_address"),
        token_standard=d.get("token_standard"),
        claw_id=d.get("claw_id"),
        claw_slug=d.get("claw_slug"),
        purchased_at=_time(d.get("purchased_at")),
        buyback_expires_at=_time(d.get("buyback_expires_at")),
    )


def inventory(raw: bytes) -> Inventory:
    """A ``GET /inventory`` body as the SDK's :class:`Inventory`."""
    data = _DECODER.decode(raw.decode())
    return Inventory(user_id=data["user_id"], items=tuple(_item(d) for d in data["items"]))


def _pack(d: dict[str, Any]) -> Pack:
    ev = d.get("ev")
    min_ev, max_ev = d.get("min_ev"), d.get("max_ev")
    return Pack(
        id=d["id"],
        name=d["name"],
        platform=d["platform"],
        enable=d["enable"],
        in_stock=d["in_stock"],
        mint_price=_money(d["mint_price"]),
        max_per_mint=d["max_per_mint"],
        buyback_percent=_money(d["buyback_percent"]),
        slug=d.get("slug"),
        description=d.get("description"),
        categories=tuple(d.get("categories", ())),
        ev=None if ev is None else _money(ev),
        min_ev=None if min_ev is None else _money(min_ev),
        max_ev=None if max_ev is None else _money(max_ev),
        ev_updated_at=_time(d.get("ev_updated_at")),
        claw_image_url=d.get("claw_image_url"),
        rarity_distribution=tuple(
            RarityTier(
                t["id"],
                t["name"],
                t["color"],
                _money(t["lower"]),
                _money(t["upper"]),
                _money(t["weight"]),
            )
            for t in d.get("rarity_distribution", ())
        ),
    )


def packs(raw: bytes) -> list[Pack]:
    """A ``GET /vm/available`` body as the SDK's list of :class:`Pack`."""
    return [_pack(d) for d in _DECODER.decode(raw.decode())]
