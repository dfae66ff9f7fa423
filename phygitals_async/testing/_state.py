"""The local sandbox's in-memory state and rules, free of HTTP.

Each operation returns a JSON-ready value or raises :class:`Reject` with the documented
status and ``error`` string. Rules follow the hosted sandbox (API-REFERENCE §13); where the
documentation is silent the choice is written beside the code.
"""

from __future__ import annotations

import base64
import math
import random
import uuid
from collections import Counter
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import attrs

from ._catalogue import PACKS, PLAYERS, SETS
from ._clock import SandboxClock
from ._items import SandboxItem, iso
from ._ledger import Ledger

__all__ = ["Ledger", "ProductionBehaviours", "Reject", "SandboxClock", "SandboxState"]

CENT = Decimal("0.01")
QUOTE_LIFETIME = timedelta(minutes=15)
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class Reject(Exception):  # noqa: N818  a rule's answer, not an error of the sandbox
    """A documented error answer: ``status`` and the JSON ``body``."""

    def __init__(self, status: int, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.status = status
        self.body: dict[str, Any] = {"error": error, **extra}
        self.headers: dict[str, str] = {}


@attrs.define
class ProductionBehaviours:
    """Behaviours of production that the hosted sandbox never shows; all off by default.

    Attributes:
        pending_polls: buy/status answers ``{"status": "pending"}`` this many times per session.
        fail_purchases: buy/status answers 400 "Transaction failed" (after any pending polls).
        concurrent_sellback_429: a sellback of an item already being sold answers 429.
        sellback_processing_time: seconds one sellback takes, so concurrent ones can overlap.
        retry_after: the ``Retry-After`` seconds sent with that 429, when set.
        fail_sellbacks: item ids whose sellback answers 400 "Transaction failed".
        active_buyback_sessions: item ids that answer "Item already has an active buyback
            session".
    """

    pending_polls: int = 0
    fail_purchases: bool = False
    concurrent_sellback_429: bool = False
    sellback_processing_time: float = 0.0
    retry_after: float | None = None
    fail_sellbacks: set[str] = attrs.field(factory=set)
    active_buyback_sessions: set[str] = attrs.field(factory=set)


class SandboxState:
    """Packs, users' items, purchase sessions, quotes and orders, all in memory."""

    def __init__(self, *, seed: int = 0, clock: SandboxClock | None = None) -> None:
        self.seed = seed
        self.clock: SandboxClock = clock or SandboxClock()
        self.production: ProductionBehaviours = ProductionBehaviours()
        self.reset()

    def reset(self) -> None:
        """Forget every user, item, session, quote, order and the ledger: fresh, same seed.

        The clock and the production behaviours are left as they are.
        """
        self.rng: random.Random = random.Random(self.seed)  # noqa: S311  deterministic test data, not secrets
        self.ledger: Ledger = Ledger()
        self.packs: dict[Any, dict[str, Any]] = {p["id"]: p for p in PACKS}
        self.items: dict[str, SandboxItem] = {}
        self.users: dict[str, list[str]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.polls: Counter[str] = Counter()
        self.pulls: list[str] = []
        self.quotes: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.selling: set[str] = set()
        self._seed_recent_pulls()

    # -- helpers -----------------------------------------------------------------------

    def _token(self, alphabet: str, length: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    def _b64(self, size: int) -> str:
        raw = self.rng.getrandbits(size * 8).to_bytes(size, "big")
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _pull(self, pack: dict[str, Any], user_id: str | None, when: datetime) -> SandboxItem:
        tiers = pack["rarity_distribution"]
        tier = self.rng.choices(tiers, weights=[float(t["weight"]) for t in tiers])[0]
        span = float(tier["upper"] - tier["lower"])
        fmv = (tier["lower"] + Decimal(str(self.rng.uniform(0, span)))).quantize(CENT)
        price = (fmv * pack["buyback_percent"]).quantize(CENT, rounding=ROUND_HALF_UP)
        if pack["_source"] == "enft":
            item_id = self._token(_BASE58, 44)
        else:
            item_id = f"v1|{self.rng.randrange(10**11, 10**12)}|0"
        player = self.rng.choice(PLAYERS[pack["_pool"]])
        variant = self.rng.choice(SETS[pack["_pool"]])
        year = str(self.rng.randrange(1999, 2026))
        slug = f"{player}-{variant}".lower().replace(" ", "-").replace("/", "")
        grade = self.rng.choice(["9", "9.5", "10"])
        item = SandboxItem(
            id=item_id,
            pack=pack,
            fmv=fmv,
            buyback_price=price,
            metadata={
                "name": f"{year} {player} {variant}",
                "image": f"https://cdn.phygitals.com/cards/{slug}.png",
                "back_image": (
                    f"https://cdn.phygitals.com/cards/{slug}-back.png"
                    if self.rng.random() < 0.7
                    else None
                ),
                "attributes": [
                    {"trait_type": "Year", "value": year},
                    {"trait_type": "Grader", "value": "PSA"},
                    {"trait_type": "Grade", "value": grade},
                    {"trait_type": "Category", "value": pack["categories"][0]},
                ],
            },
            purchased_at=when,
            user_id=user_id,
        )
        self.items[item.id] = item
        self.pulls.append(item.id)
        return item

    def grant(self, user_id: str, count: int) -> list[str]:
        """Give ``user_id`` ``count`` new items, bought now, outside any purchase or ledger."""
        pack = next(p for p in self.packs.values() if p["enable"] and p["in_stock"])
        now = self.clock.now()
        items = [self._pull(pack, user_id, now).id for _ in range(count)]
        self.users.setdefault(user_id, []).extend(items)
        return items

    def _seed_recent_pulls(self) -> None:
        start = self.clock.now() - timedelta(hours=3)
        for n in range(12):
            pack = self.packs[PACKS[n % 2]["id"]]
            item = self._pull(pack, None, start + timedelta(minutes=7 * n))
            # Synthetic pulls keep only the buyback price; the FMV is derived back from it.
            item.fmv = (item.buyback_price / Decimal("0.85")).quantize(CENT)
            item.state = "sold"

    def _owned(self, item_id: object) -> SandboxItem | None:
        item = self.items.get(item_id) if isinstance(item_id, str) else None
        if item is None or item.user_id is None or item.state != "owned":
            return None
        return item

    # -- packs ---------------------------------------------------------------------------

    def list_packs(self, platform: str) -> list[dict[str, Any]]:
        """Every pack of the platform, with the API's fields only."""
        return [
            {k: v for k, v in p.items() if not k.startswith("_")}
            | {"ev_updated_at": iso(self.clock.now().replace(minute=0, second=0, microsecond=0))}
            for p in self.packs.values()
            if p["platform"] == platform
        ]

    def recent_pulls(self, claw_ids: list[str], limit_text: str | None) -> list[dict[str, Any]]:
        """Newest first; unknown packs and bad limits never error."""
        try:
            limit = int(limit_text) if limit_text is not None else 20
        except ValueError:
            limit = 20
        limit = min(100, max(1, limit))
        out: list[dict[str, Any]] = []
        for item_id in reversed(self.pulls):
            item = self.items[item_id]
            if claw_ids and item.pack["id"] not in claw_ids:
                continue
            out.append(
                {
                    "id": item.id,
                    "claw_id": item.pack["id"],
                    "claw_slug": item.pack["slug"],
                    "value": item.fmv,
                    "buyback_price": item.buyback_price,
                    "created_at": iso(item.purchased_at),
                    "metadata": item.metadata,
                }
            )
            if len(out) == limit:
                break
        return out

    # -- purchase ------------------------------------------------------------------------

    def buy(self, body: dict[str, Any]) -> dict[str, Any]:
        """Pull items synchronously, as the sandbox does."""
        user_id = body.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            raise Reject(400, "user_id is required")
        pack = self.packs.get(body.get("id")) if isinstance(body.get("id"), str) else None
        if pack is None:
            raise Reject(400, "VM not found")
        if not (pack["enable"] and pack["in_stock"] and pack["rarity_distribution"]):
            raise Reject(400, "Claw machine is out of stock")
        amount = body.get("amount")
        if (
            isinstance(amount, bool)
            or not isinstance(amount, int | float)
            or (isinstance(amount, float) and math.isnan(amount))
            or amount < 1
        ):
            raise Reject(400, "Amount must be greater than 0")
        if amount > pack["max_per_mint"]:
            raise Reject(400, f"Amount must be less than or equal to {pack['max_per_mint']}")
        if amount != int(amount):
            raise Reject(400, "Amount must be greater than 0")
        now = self.clock.now()
        items = [self._pull(pack, user_id, now) for _ in range(int(amount))]
        session_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        self.users.setdefault(user_id, []).extend(i.id for i in items)
        # Fulfilled at once, as the sandbox does, unless production-only polls were asked for.
        later = self.production.pending_polls > 0 or self.production.fail_purchases
        self.sessions[session_id] = {
            "user_id": user_id,
            "pack_id": pack["id"],
            "status": "pending" if later else "fulfilled",
            "created_at": now,
            "items": [i.id for i in items],
            "public_id": "_" + self._token("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 4),
            "tx_hash": "sandbox_" + self._b64(32),
        }
        self.ledger.purchases += 1
        self.ledger.items_pulled += len(items)
        return {"session_id": session_id, "nfts": [i.as_nft(links="none") for i in items]}

    def purchase_status(self, body: dict[str, Any]) -> dict[str, Any]:
        """The fulfilled result; production-only pending and failure on request."""
        session_id = body.get("session_id")
        session = self.sessions.get(session_id) if isinstance(session_id, str) else None
        if session is None:
            raise Reject(400, "Transaction failed")
        assert isinstance(session_id, str)  # noqa: S101  narrowed by the lookup above
        self.polls[session_id] += 1
        if self.polls[session_id] <= self.production.pending_polls:
            return {"status": "pending"}
        if self.production.fail_purchases:
            session["status"] = "failed"
            raise Reject(400, "Transaction failed")
        session["status"] = "fulfilled"
        return {
            "result": {
                "session_id": session_id,
                "user_id": session["user_id"],
                "public_id": session["public_id"],
                "nfts": [self.items[i].as_nft(links="back") for i in session["items"]],
                "tx_hash": session["tx_hash"],
            }
        }

    # -- inventory, cards ----------------------------------------------------------------

    def inventory(self, user_id: str) -> dict[str, Any]:
        """Owned items only: sold and shipping items have left the inventory."""
        if user_id not in self.users:
            raise Reject(404, "User not found")
        items = []
        for item_id in self.users[user_id]:
            item = self.items[item_id]
            if item.state != "owned":
                continue
            data = item.as_nft(links="full")
            data |= {
                "claw_id": item.pack["id"],
                "claw_slug": item.pack["slug"],
                "purchased_at": iso(item.purchased_at),
                "buyback_expires_at": iso(item.expires_at),
            }
            items.append(data)
        return {"user_id": user_id, "items": items}

    def card(self, item_id: str) -> dict[str, Any]:
        """Any item ever pulled, sold or not."""
        item = self.items.get(item_id)
        if item is None:
            raise Reject(404, "Card not found")
        meta = item.metadata
        return {
            "id": item.id,
            "name": meta["name"],
            "image": meta["image"],
            "back_image": meta["back_image"],
            "fmv": item.fmv,
            "metadata": meta,
        }

    # -- sellback ------------------------------------------------------------------------

    def check_sellback(self, body: dict[str, Any]) -> SandboxItem:
        """Every rule that can refuse a sellback, in the documented order."""
        item = self._owned(body.get("item_id"))
        if item is None:
            raise Reject(400, "Item not found")
        if self.clock.now() >= item.expires_at:
            raise Reject(400, "Item has expired")
        if item.id in self.production.active_buyback_sessions:
            raise Reject(400, "Item already has an active buyback session")
        if item.id in self.production.fail_sellbacks:
            raise Reject(400, "Transaction failed")
        if item.id in self.selling and self.production.concurrent_sellback_429:
            reject = Reject(429, "A buyback request for this item is already being processed")
            if self.production.retry_after is not None:
                reject.headers["Retry-After"] = f"{self.production.retry_after:g}"
            raise reject
        return item

    def complete_sellback(self, item: SandboxItem) -> dict[str, Any]:
        """Pay the frozen buyback price, exactly once."""
        self.ledger.sellback_executions += 1
        if item.state != "owned":
            # Without the 429 rule, the second of two concurrent sellbacks finds it gone.
            raise Reject(400, "Item not found")
        item.state = "sold"
        self.ledger.sold[item.id] = item.buyback_price
        self.ledger.sellers[item.id] = str(item.user_id)  # owned items always have one
        self.ledger.sold_at[item.id] = self.clock.now()
        return {"success": True, "amount": item.buyback_price}

    # -- shipping ------------------------------------------------------------------------

    def ship_quote(self, body: dict[str, Any]) -> dict[str, Any]:
        """Rates for shippable owned items; quotes live 15 minutes."""
        item_ids = body.get("item_ids")
        if (
            not isinstance(item_ids, list)
            or not item_ids
            or not all(isinstance(i, str) for i in item_ids)
        ):
            raise Reject(400, "item_ids is required")
        destination = body.get("destination")
        if not isinstance(destination, dict):
            raise Reject(
                400, "Invalid destination address", details="destination must be an object"
            )
        country = destination.get("country")
        if not isinstance(country, str) or len(country) != 2:
            raise Reject(422, "Country not supported")
        self._check_address(destination)
        items = [self._owned(i) for i in item_ids]
        if any(i is None for i in items):
            raise Reject(400, "Item not found")
        shippable = [i for i in items if i is not None and i.shippable]
        if not shippable:
            raise Reject(400, "No shippable items in request")
        session_id = "quote_" + self._token(_CROCKFORD, 26)
        count = len(shippable)
        rates = {
            "standard": ("USPS", "Ground Advantage", Decimal("5.50"), Decimal("1.00"), 2, 5, False),
            "priority": ("USPS", "Priority Mail", Decimal("9.75"), Decimal("1.50"), 1, 3, True),
            "express": ("FedEx", "2Day", Decimal("24.00"), Decimal("2.00"), 1, 2, True),
        }
        expires = self.clock.now() + QUOTE_LIFETIME
        self.quotes[session_id] = {
            "items": [i.id for i in shippable],
            "destination": destination,
            "expires_at": expires,
            "rates": rates,
        }
        self.ledger.quotes_created += 1
        return {
            "session_id": session_id,
            "expires_at": iso(expires),
            "quotes": [
                {
                    "id": f"{session_id}_rate_{key}",
                    "carrier": carrier,
                    "service": service,
                    "amount": base + extra * (count - 1),
                    "estimated_days_min": low,
                    "estimated_days_max": high,
                    "insured": insured,
                }
                for key, (carrier, service, base, extra, low, high, insured) in rates.items()
            ],
        }

    @staticmethod
    def _check_address(destination: dict[str, Any]) -> None:
        # The docs leave address validation unstated; the local sandbox checks presence of
        # the fields a label needs and suggests an upper-case state code.
        for key in ("name", "line1", "city"):
            value = destination.get(key)
            if not isinstance(value, str) or not value.strip():
                raise Reject(
                    400, "Invalid destination address", details=f"Missing required field: {key}"
                )
        state = destination.get("state")
        if isinstance(state, str) and len(state) == 2 and state != state.upper():
            raise Reject(
                400,
                "Invalid destination address",
                details=f"Unknown state {state!r}",
                suggested=destination | {"state": state.upper()},
            )

    def ship_request(self, body: dict[str, Any]) -> dict[str, Any]:
        """Lock the quote's items into a new order that stays ``queued``."""
        quote_id = body.get("quote_id")
        if not isinstance(quote_id, str) or "_rate_" not in quote_id:
            raise Reject(400, "quote_id is required")
        session_id, _, key = quote_id.rpartition("_rate_")
        quote = self.quotes.get(session_id)
        if quote is None or self.clock.now() >= quote["expires_at"] or key not in quote["rates"]:
            raise Reject(400, "Quote expired")
        items = [self.items[i] for i in quote["items"]]
        if any(i.state == "shipping" for i in items):
            raise Reject(400, "Item already shipped")
        if any(i.state != "owned" for i in items):
            # Sold since the quote: the quote no longer describes what can ship.
            raise Reject(400, "Quote expired")
        carrier, service, base, extra, *_ = quote["rates"][key]
        order_id = "order_" + self._b64(12)
        for item in items:
            item.state = "shipping"
        self.orders[order_id] = {
            "order_id": order_id,
            "status": "queued",
            "carrier": carrier,
            "service": service,
            "tracking_number": None,
            "tracking_url": None,
            "amount": base + extra * (len(items) - 1),
            "currency": "USD",
            "destination": quote["destination"],
            "items": [
                {
                    "item_id": i.id,
                    "name": i.metadata["name"],
                    "image": i.metadata["image"],
                    "back_image": i.metadata["back_image"],
                }
                for i in items
            ],
            "created_at": iso(self.clock.now()),
            "shipped_at": None,
            "delivered_at": None,
            "error_message": None,
        }
        self.ledger.orders_created += 1
        return {"order_id": order_id, "status": "success"}

    def advance_order(
        self, order_id: str, status: str, *, error_message: str | None = None
    ) -> None:
        """Move an order along as production would (the hosted sandbox never does).

        ``label_created`` and later add tracking; ``shipped`` and ``delivered`` stamp times.
        """
        order = self.orders[order_id]
        order["status"] = status
        now = iso(self.clock.now())
        if status in {"label_created", "shipped", "delivered"} and not order["tracking_number"]:
            number = "9400" + "".join(self.rng.choice("0123456789") for _ in range(18))
            order["tracking_number"] = number
            order["tracking_url"] = f"https://tools.usps.com/go/TrackConfirmAction?tLabels={number}"
        if status in {"shipped", "delivered"} and order["shipped_at"] is None:
            order["shipped_at"] = now
        if status == "delivered":
            order["delivered_at"] = now
        if status in {"cancelled", "failed"}:
            order["error_message"] = error_message or f"Order {status}"

    def ship_order(self, order_id: str) -> dict[str, Any]:
        """An order as created; the sandbox never moves it past ``queued``."""
        order = self.orders.get(order_id)
        if order is None:
            raise Reject(404, "Order not found")
        return order
