"""The local sandbox's seeded pack catalogue and the pools its synthetic cards come from."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = ["PACKS", "PLAYERS", "SETS"]


def _tier(
    tier_id: int, name: str, color: str, lower: int, upper: int, weight: int
) -> dict[str, Any]:
    return {
        "id": tier_id,
        "name": name,
        "color": color,
        "lower": Decimal(lower),
        "upper": Decimal(upper),
        "weight": Decimal(weight),
    }


_SPORTS_TIERS = [
    _tier(0, "Common", "#22C55E", 60, 100, 80),
    _tier(1, "Rare", "#3B82F6", 100, 250, 15),
    _tier(2, "Epic", "#A855F7", 250, 500, 4),
    _tier(3, "Mythic", "#F59E0B", 500, 15000, 1),
]

_TCG_TIERS = [
    _tier(0, "Common", "#22C55E", 30, 50, 85),
    _tier(1, "Rare", "#3B82F6", 50, 150, 12),
    _tier(3, "Mythic", "#F59E0B", 150, 2500, 3),
]

_DIGITAL_TIERS = [
    _tier(0, "Common", "#22C55E", 5, 12, 90),
    _tier(1, "Rare", "#3B82F6", 12, 40, 10),
]


def _pack(  # noqa: PLR0913  one catalogue row
    pack_id: str,
    slug: str,
    name: str,
    *,
    mint_price: int,
    max_per_mint: int,
    tiers: list[dict[str, Any]],
    categories: list[str],
    source: str = "ebay",
    pool: str = "ebay",
    enable: bool = True,
    in_stock: bool = True,
) -> dict[str, Any]:
    weights = sum(t["weight"] for t in tiers)
    ev = sum((t["lower"] + t["upper"]) / 2 * t["weight"] for t in tiers) / weights
    return {
        "id": pack_id,
        "slug": slug,
        "platform": "mainnet",
        "name": name,
        "enable": enable,
        "description": f"{name}: graded cards, vaulted and shippable on request.",
        "mint_price": Decimal(mint_price),
        "max_per_mint": max_per_mint,
        "in_stock": in_stock,
        "categories": categories,
        "ev": ev.quantize(Decimal("0.01")),
        "min_ev": min(t["lower"] for t in tiers),
        "max_ev": max(t["upper"] for t in tiers),
        "buyback_percent": Decimal("0.85"),
        "claw_image_url": f"https://cdn.phygitals.com/packs/{slug}.png",
        "rarity_distribution": tiers,
        # Not part of the API's pack shape: where this pack's items come from.
        "_source": source,
        "_pool": pool,
    }


PACKS: list[dict[str, Any]] = [
    _pack(
        "BSG6DyEihFFtfvxtL9mKYsvTwiZXB1rq5gARMTJC2xAM",
        "topps-chrome-2024",
        "Topps Chrome 2024",
        mint_price=100,
        max_per_mint=10,
        tiers=_SPORTS_TIERS,
        categories=["Baseball", "Basketball"],
    ),
    _pack(
        "PKMNvintageHoloB4se5etC1ass1cK7mZq2Rw9xYtUuVvW",
        "pokemon-vintage",
        "Pokemon Vintage Holo",
        mint_price=50,
        max_per_mint=5,
        tiers=_TCG_TIERS,
        categories=["Pokemon"],
        pool="tcg",
    ),
    _pack(
        "D1g1ta1LegendsEnftPackQw3rTy8uIoP4sDfGhJkLzXc",
        "digital-legends",
        "Digital Legends",
        mint_price=10,
        max_per_mint=10,
        tiers=_DIGITAL_TIERS,
        categories=["Digital"],
        source="enft",
        pool="enft",
    ),
    _pack(
        "Ret1redPackDisab1edXx9Yy8Zz7Ww6Vv5Uu4Tt3Ss2Rr",
        "retired-2019",
        "Retired 2019 Flagship",
        mint_price=80,
        max_per_mint=10,
        tiers=_SPORTS_TIERS,
        categories=["Football"],
        enable=False,
    ),
    _pack(
        "So1dOutPackEmptyShe1fAa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8",
        "prizm-basketball-2023",
        "Prizm Basketball 2023",
        mint_price=150,
        max_per_mint=3,
        tiers=_SPORTS_TIERS,
        categories=["Basketball"],
        in_stock=False,
    ),
]

PLAYERS = {
    "ebay": [
        "Juan Soto",
        "Mike Trout",
        "Shohei Ohtani",
        "Victor Wembanyama",
        "Caitlin Clark",
        "Paul Skenes",
        "Elly De La Cruz",
        "Luka Doncic",
    ],
    "tcg": ["Charizard", "Pikachu", "Blastoise", "Mewtwo", "Gengar", "Umbreon"],
    "enft": ["Genesis Dragon", "Neon Samurai", "Void Walker", "Crystal Golem"],
}

SETS = {
    "ebay": ["Base", "Refractor", "Gold /50", "RC Auto /25", "Prizm Silver"],
    "tcg": ["Holo", "1st Edition", "Shadowless", "Reverse Holo"],
    "enft": ["Animated", "Foil", "Legendary"],
}
