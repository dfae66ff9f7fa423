"""Seeing and driving a running sandbox: its state as JSON, its recent requests, controls.

:class:`SandboxControl` is what the dashboard page and the control API under
``/_sandbox/api/`` call, free of HTTP; :class:`LocalSandbox` offers the same controls as
methods. Every value it returns is JSON-ready (money as exact decimal strings, times in
the API's ISO form).
"""

from __future__ import annotations

import collections
import copy
import random
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from ._faults import Fault, FaultPlan
from ._items import iso
from ._specs import SpecError
from ._state import SandboxState

__all__ = ["MAX_SEED", "RequestLog", "RequestRecord", "SandboxControl", "redact_key"]

MAX_SEED = 1000  # items one "Seed items" may grant: a user's inventory stays readable
MAX_USER_ID = 200
_KEPT_REQUESTS = 200
_SHOWN_ROWS = 100


def redact_key(key: str) -> str:
    """A key's tier, never the key: ``sandbox-…``, else at most its first 4 characters."""
    if not key:
        return "(none)"
    if key.startswith("sandbox-") and len(key) > len("sandbox-"):
        return "sandbox-…"
    return key[: min(4, len(key) // 2)] + "…"


@attrs.frozen
class RequestRecord:
    """One partner API request the sandbox answered (or dropped: ``status`` is ``None``)."""

    at: datetime
    method: str
    path: str
    status: int | None
    latency: float  # seconds
    request_id: str
    key: str  # already redacted

    def to_json(self) -> dict[str, Any]:
        """JSON-ready, latency in milliseconds."""
        return {
            "time": iso(self.at),
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "latency_ms": round(self.latency * 1000, 1),
            "request_id": self.request_id,
            "key": self.key,
        }


class RequestLog:
    """The latest requests, oldest dropped first; never holds a full API key."""

    def __init__(self, size: int = _KEPT_REQUESTS) -> None:
        self._records: collections.deque[RequestRecord] = collections.deque(maxlen=size)
        self.total: int = 0

    def add(self, record: RequestRecord) -> None:
        """Keep ``record`` (counted in ``total`` even once dropped)."""
        self._records.append(record)
        self.total += 1

    def latest(self, limit: int = _SHOWN_ROWS) -> list[RequestRecord]:
        """Up to ``limit`` records, newest first."""
        return list(reversed(self._records))[:limit]

    def clear(self) -> None:
        """Forget every record."""
        self._records.clear()
        self.total = 0


def _money(amount: Decimal) -> str:
    return str(amount)


def _fault_json(index: int, fault: Fault) -> dict[str, Any]:
    return {
        "index": index,
        "route": fault.route or "*",
        "fault": fault.kind.value,
        "times": fault.count,
        "probability": fault.probability,
        "seconds": fault.seconds or None,
        "status": fault.status_code if fault.kind.value in {"status", "html_error"} else None,
        "fired": fault.fired,
    }


class SandboxControl:
    """The controls and views of one sandbox, shared by the dashboard, the API and tests.

    ``initial_faults`` and the state's production behaviours as they are now are what
    :meth:`reset` returns to, with a fresh state from the same seed.
    """

    def __init__(
        self, state: SandboxState, faults: FaultPlan, *, initial_faults: Sequence[Fault] = ()
    ) -> None:
        self.state = state
        self.faults = faults
        self.requests: RequestLog = RequestLog()
        self._initial_faults = [attrs.evolve(f, fired=0) for f in initial_faults]
        self._production = copy.deepcopy(state.production)
        for fault in self._initial_faults:
            faults.add(attrs.evolve(fault))

    # -- controls --------------------------------------------------------------------

    def advance(self, seconds: float) -> str:
        """Move the sandbox clock forward by ``seconds``; returns the new time."""
        self.state.clock.advance(seconds)
        return iso(self.state.clock.now())

    def seed_items(self, user_id: object, count: object) -> list[str]:
        """Give ``user_id`` ``count`` new items (1 to 1000); returns their ids."""
        if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > MAX_USER_ID:
            msg = f"user must be a non-empty text of at most {MAX_USER_ID} characters"
            raise SpecError(msg)
        if isinstance(count, str) and count.strip().isdigit():
            count = int(count)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_SEED:
            msg = f"count must be a whole number from 1 to {MAX_SEED}, not {count!r}"
            raise SpecError(msg)
        return self.state.grant(user_id, count)

    def add_fault(self, fault: Fault) -> dict[str, Any]:
        """Activate ``fault``; returns it as the state shows it."""
        self.faults.add(fault)
        return _fault_json(len(self.faults.rules) - 1, fault)

    def clear_faults(self) -> None:
        """Remove every active fault rule."""
        self.faults.clear()

    def reset(self) -> None:
        """A fresh sandbox with the same seed, clock and start-up options; no requests."""
        self.state.reset()
        self.state.clock.reset()
        self.state.production = copy.deepcopy(self._production)
        self.faults.reset(random.Random(self.state.seed + 1))  # noqa: S311  repeatable faults
        for fault in self._initial_faults:
            self.faults.add(attrs.evolve(fault))
        self.requests.clear()

    # -- views -----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything the dashboard shows, newest first where there is an order."""
        ledger = self.state.ledger
        return {
            "clock": iso(self.state.clock.now()),
            "seed": self.state.seed,
            "users": [self._user_row(user_id) for user_id in sorted(self.state.users)],
            "purchases": self._purchases(),
            "sellbacks": {
                "items": [
                    {
                        "item_id": item_id,
                        "user_id": ledger.sellers.get(item_id),
                        "amount": _money(amount),
                        "time": iso(ledger.sold_at[item_id]) if item_id in ledger.sold_at else None,
                    }
                    for item_id, amount in reversed(ledger.sold.items())
                ][:_SHOWN_ROWS],
                "count": len(ledger.sold),
                "total_paid": _money(ledger.amount_paid),
            },
            "shipments": [
                {key: order[key] for key in ("order_id", "status", "carrier", "tracking_number")}
                for order in reversed(self.state.orders.values())
            ][:_SHOWN_ROWS],
            "faults": [_fault_json(i, f) for i, f in enumerate(self.faults.rules)],
            "requests": self.request_rows(),
            "requests_total": self.requests.total,
        }

    def request_rows(self, limit: int = _SHOWN_ROWS) -> list[dict[str, Any]]:
        """The latest requests, newest first, as JSON."""
        return [record.to_json() for record in self.requests.latest(limit)]

    def _owned(self, user_id: str) -> list[Any]:
        items = (self.state.items[i] for i in self.state.users.get(user_id, ()))
        return [item for item in items if item.state == "owned"]

    def _user_row(self, user_id: str) -> dict[str, Any]:
        owned = self._owned(user_id)
        return {
            "user_id": user_id,
            "items": len(owned),
            "buyback_total": _money(sum((i.buyback_price for i in owned), Decimal(0))),
            "paid": _money(self.state.ledger.paid_to(user_id)),
        }

    def user(self, user_id: str) -> dict[str, Any] | None:
        """One user's owned items and what the ledger paid for their items; ``None`` if unknown."""
        if user_id not in self.state.users:
            return None
        ledger = self.state.ledger
        return {
            **self._user_row(user_id),
            "owned": [
                {
                    "item_id": item.id,
                    "name": item.metadata["name"],
                    "buyback_price": _money(item.buyback_price),
                    "buyback_expires_at": iso(item.expires_at),
                }
                for item in self._owned(user_id)
            ],
            "sold": {item_id: _money(a) for item_id, a in ledger.sold_for(user_id).items()},
        }

    def _purchases(self) -> list[dict[str, Any]]:
        rows = []
        for session_id, session in reversed(self.state.sessions.items()):
            pack = self.state.packs.get(session.get("pack_id"))
            rows.append(
                {
                    "session_id": session_id,
                    "user_id": session["user_id"],
                    "pack": pack["name"] if pack else None,
                    "amount": len(session["items"]),
                    "status": session.get("status", "fulfilled"),
                    "time": iso(session["created_at"]) if "created_at" in session else None,
                }
            )
            if len(rows) == _SHOWN_ROWS:
                break
        return rows
