"""``phygitals demo``: the whole partner flow against an in-process local sandbox."""

from __future__ import annotations

import sys
from typing import TextIO

from ._client import AsyncPhygitals
from ._models import Address
from ._output import items_table, money, table

__all__ = ["run_demo"]

DEMO_USER = "demo-user"


async def run_demo(client: AsyncPhygitals, out: TextIO | None = None) -> None:
    """List packs, buy 3, wait for the pull, sell two back, ship one, show the order."""
    stream = out or sys.stdout

    def step(title: str) -> None:
        stream.write(f"\n== {title}\n")

    step("Packs on sale")
    packs = await client.list_packs()
    table(
        ["pack", "price", "max", "buyback", "on sale"],
        [
            (
                p.name,
                money(p.mint_price),
                p.max_per_mint,
                f"{p.buyback_percent:.0%}",
                "yes" if p.purchasable else "no",
            )
            for p in packs
        ],
        stream,
    )
    pack = next(p for p in packs if p.purchasable and "Digital" not in p.categories)

    step(f"Buying 3 pulls of {pack.name} for {DEMO_USER}")
    purchase = await client.buy(pack.id, amount=3, user_id=DEMO_USER)
    stream.write(f"session {purchase.session_id}\n")
    result = await client.wait_for_purchase(purchase.session_id, timeout=30)
    stream.write(f"fulfilled: public id {result.public_id}, tx {result.tx_hash[:24]}...\n")
    items_table(result.nfts, stream)

    step(f"Inventory of {DEMO_USER}")
    inventory = await client.inventory(DEMO_USER)
    items_table(inventory.items, stream, expiry=True)

    step("Selling two back (bulk sellback)")
    to_sell = sorted(inventory.items, key=lambda i: i.buyback_price)[:2]
    report = await client.sell_back_many(to_sell, user_id=DEMO_USER, concurrency=2)
    table(
        ["item", "outcome", "amount"],
        [(s.item_id, "sold", money(s.amount)) for s in report.succeeded]
        + [(f.item_id, type(f.error).__name__, "-") for f in (*report.failed, *report.unknown)],
        stream,
    )
    stream.write(f"credited {money(report.total_amount)}\n")

    keep = next(i for i in inventory.items if i not in to_sell)
    step(f"Shipping {keep.name}")
    quote = await client.ship_quote(
        [keep],
        destination=Address(
            name="Jane Doe",
            line1="123 Main St",
            city="Austin",
            state="TX",
            postal_code="78701",
            country="US",
        ),
    )
    table(
        ["rate", "carrier", "service", "days", "amount"],
        [
            (
                r.id.rpartition("_rate_")[2],
                r.carrier,
                r.service,
                f"{r.estimated_days_min}-{r.estimated_days_max}",
                money(r.amount),
            )
            for r in quote.quotes
        ],
        stream,
    )
    rate = quote.cheapest
    created = await client.ship_request(rate)
    order = await client.ship_order(created.order_id)
    stream.write(
        f"order {order.order_id}: {order.status} via {order.carrier} {order.service}, "
        f"{money(order.amount)} billed to the partner\n"
    )

    step("Done")
    remaining = await client.inventory(DEMO_USER)
    stream.write(
        f"{DEMO_USER} still holds {len(remaining.items)} item(s); "
        f"sold {len(report.succeeded)}, shipping 1.\n"
    )
