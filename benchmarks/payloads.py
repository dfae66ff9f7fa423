"""The documented payloads the benchmark server answers with, built by the local sandbox."""

from __future__ import annotations

import json
from typing import Any

from phygitals_async.testing import SandboxState
from phygitals_async.testing._app import _default

TOPPS = "BSG6DyEihFFtfvxtL9mKYsvTwiZXB1rq5gARMTJC2xAM"


def dumps(data: Any) -> bytes:
    return json.dumps(data, default=_default).encode()


def inventory(count: int, seed: int = 1) -> bytes:
    """A ``GET /inventory`` body with ``count`` items, as the sandbox writes it."""
    state = SandboxState(seed=seed)
    for start in range(0, count, 10):
        state.buy({"id": TOPPS, "amount": min(10, count - start), "user_id": "bench"})
    return dumps(state.inventory("bench"))


def packs() -> bytes:
    """The ``GET /vm/available`` body (five packs with rarity tiers)."""
    return dumps(SandboxState().list_packs("mainnet"))


SELLBACK = dumps({"success": True, "amount": 8.5})
