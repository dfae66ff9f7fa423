"""The HTTP seam's types, pinned: checked by ``mypy --strict``, never run.

A call's decode target fixes what the seam returns, so an endpoint that decodes into the
wrong model fails the type check (the ``type: ignore`` lines below must stay needed:
``warn_unused_ignores`` turns a seam that stops checking into an error here).
"""

from __future__ import annotations

from typing import assert_type

from phygitals_async import Inventory, Pack, Pull, PurchasePending, PurchaseResult
from phygitals_async._http import Call, OneOf, Retry, Transport


async def decode_targets(seam: Transport) -> None:
    packs = Call("list_packs", "GET", "/p", Retry.SAFE, list[Pack])
    assert_type(await seam.request(packs), list[Pack])
    inventory = Call("inventory", "GET", "/i", Retry.SAFE, Inventory)
    assert_type(await seam.request(inventory, timeout=1.0), Inventory)
    status = Call(
        "purchase_status", "POST", "/s", Retry.SAFE, OneOf.either(PurchaseResult, PurchasePending)
    )
    assert_type(await seam.request(status), PurchaseResult | PurchasePending)


async def wrong_targets(seam: Transport) -> list[Pack]:
    pulls = Call("list_packs", "GET", "/p", Retry.SAFE, list[Pull])
    return await seam.request(pulls)  # type: ignore[arg-type]


async def options_are_keyword_only(seam: Transport) -> None:
    call = Call("inventory", "GET", "/i", Retry.SAFE, Inventory)
    await seam.request(call, 5.0)  # type: ignore[call-arg]
    Call("inventory", "GET", "/i", Retry.SAFE, Inventory, {"user_id": "u1"})  # type: ignore[call-arg]
