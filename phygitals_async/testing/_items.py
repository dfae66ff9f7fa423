"""One item of the local sandbox, and the API's way of writing times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

__all__ = ["SELLBACK_WINDOW", "SandboxItem", "iso"]

SELLBACK_WINDOW = timedelta(days=7)


@attrs.define
class SandboxItem:
    """One pulled item: what the API shows of it, its owner and whether it is still owned."""

    id: str
    pack: dict[str, Any]
    fmv: Decimal
    buyback_price: Decimal
    metadata: dict[str, Any]
    purchased_at: datetime
    user_id: str | None
    state: str = "owned"  # owned | sold | shipping

    @property
    def expires_at(self) -> datetime:
        """The end of its sellback window."""
        return self.purchased_at + SELLBACK_WINDOW

    @property
    def shippable(self) -> bool:
        """Whether it is a physical card (digital-only items cannot ship)."""
        return str(self.pack["_source"]) != "enft"

    def as_nft(self, *, links: str) -> dict[str, Any]:
        """The item as the API shows it; ``links``: ``full``, ``back`` or ``none``."""
        enft = self.pack["_source"] == "enft"
        data: dict[str, Any] = {
            "id": self.id,
            "buyback_price": self.buyback_price,
            "mint_address": self.id if enft else None,
            "type": self.pack["_source"],
            "content": {"metadata": self.metadata},
        }
        if enft:
            data["collection_address"] = "CoLLecti0nDigitalLegendsXXXXXXXXXXXXXXXXXXXX"
            data["token_standard"] = "pNFT"  # noqa: S105  a token standard, not a secret
        if links == "full":
            data["content"]["links"] = {
                "image": self.metadata["image"],
                "back_image": self.metadata["back_image"],
            }
        elif links == "back":
            data["content"]["links"] = {"back_image": self.metadata["back_image"]}
        return data


def iso(when: datetime) -> str:
    """An ISO 8601 UTC time with milliseconds and ``Z``, as the API writes them."""
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
