"""``phygitals demo``: the whole partner flow against an in-process local sandbox.

People get a heading and a table per step. With ``json_lines=True`` each step is instead
one JSON object on its own line (JSON Lines), written when the step is done, so a program
can follow the demo as it runs: ``{"step": "packs", "title": ..., ...}``, with the steps
``packs``, ``buy``, ``inventory``, ``sellback``, ``ship`` and ``done`` in that order.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import TextIO

from .._client import AsyncPhygitals
from .._models import Address, BulkSellbackReport, Inventory, Item, Pack
from ._output import items_table, money, print_json_line, table

__all__ = ["DEMO_STEPS", "run_demo"]

DEMO_USER = "demo-user"
DEMO_STEPS = ("packs", "buy", "inventory", "sellback", "ship", "done")


class _Out:
    """Writes for people or for programs; each method is a no-op in the other mode."""

    def __init__(self, stream: TextIO, json_lines: bool) -> None:
        self.stream = stream
        self.json_lines = json_lines

    def heading(self, title: str) -> None:
        if not self.json_lines:
            self.stream.write(f"\n== {title}\n")

    def text(self, line: str) -> None:
        if not self.json_lines:
            self.stream.write(line + "\n")

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        if not self.json_lines:
            table(headers, rows, self.stream)

    def items(self, items: Iterable[Item], *, expiry: bool = False) -> None:
        if not self.json_lines:
            items_table(items, self.stream, expiry=expiry)

    def record(self, step: str, title: str, **data: object) -> None:
        if self.json_lines:
            print_json_line({"step": step, "title": title, **data}, self.stream)


async def run_demo(
    client: AsyncPhygitals,
    out: TextIO | None = None,
    *,
    json_lines: bool = False,
    wait_timeout: float = 60.0,
) -> None:
    """List packs, buy 3, wait for the pull, sell two back, ship one, show the order.

    ``wait_timeout`` is the most seconds to wait for the pull.
    """
    show = _Out(out or sys.stdout, json_lines)
    pack = await _packs(client, show)
    await _buy(client, show, pack, wait_timeout)
    inventory = await _inventory(client, show)
    to_sell, report = await _sellback(client, show, inventory)
    await _ship(client, show, next(i for i in inventory.items if i not in to_sell))
    await _done(client, show, report)


async def _packs(client: AsyncPhygitals, show: _Out) -> Pack:
    title = "Packs on sale"
    show.heading(title)
    packs = await client.list_packs()
    show.table(
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
    )
    show.record("packs", title, packs=packs)
    return next(p for p in packs if p.purchasable and "Digital" not in p.categories)


async def _buy(client: AsyncPhygitals, show: _Out, pack: Pack, wait_timeout: float) -> None:
    title = f"Buying 3 pulls of {pack.name} for {DEMO_USER}"
    show.heading(title)
    purchase = await client.buy(pack.id, amount=3, user_id=DEMO_USER)
    show.text(f"session {purchase.session_id}")
    result = await client.wait_for_purchase(purchase.session_id, timeout=wait_timeout)
    show.text(f"fulfilled: public id {result.public_id}, tx {result.tx_hash[:24]}...")
    show.items(result.nfts)
    show.record("buy", title, purchase=purchase, result=result)


async def _inventory(client: AsyncPhygitals, show: _Out) -> Inventory:
    title = f"Inventory of {DEMO_USER}"
    show.heading(title)
    inventory = await client.inventory(DEMO_USER)
    show.items(inventory.items, expiry=True)
    show.record("inventory", title, inventory=inventory)
    return inventory


async def _sellback(
    client: AsyncPhygitals, show: _Out, inventory: Inventory
) -> tuple[list[Item], BulkSellbackReport]:
    title = "Selling two back (bulk sellback)"
    show.heading(title)
    to_sell = sorted(inventory.items, key=lambda i: i.buyback_price)[:2]
    report = await client.sell_back_many(to_sell, user_id=DEMO_USER, concurrency=2)
    show.table(
        ["item", "outcome", "amount"],
        [(s.item_id, "sold", money(s.amount)) for s in report.succeeded]
        + [(f.item_id, type(f.error).__name__, "-") for f in (*report.failed, *report.unknown)],
    )
    show.text(f"credited {money(report.total_amount)}")
    show.record(
        "sellback",
        title,
        succeeded=report.succeeded,
        failed=report.failed,
        unknown=report.unknown,
        total_amount=report.total_amount,
    )
    return to_sell, report


async def _ship(client: AsyncPhygitals, show: _Out, keep: Item) -> None:
    title = f"Shipping {keep.name}"
    show.heading(title)
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
    show.table(
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
    )
    rate = quote.cheapest
    created = await client.ship_request(rate)
    order = await client.ship_order(created.order_id)
    show.text(
        f"order {order.order_id}: {order.status} via {order.carrier} {order.service}, "
        f"{money(order.amount)} billed to the partner"
    )
    show.record("ship", title, quote=quote, order=order)


async def _done(client: AsyncPhygitals, show: _Out, report: BulkSellbackReport) -> None:
    title = "Done"
    show.heading(title)
    remaining = await client.inventory(DEMO_USER)
    show.text(
        f"{DEMO_USER} still holds {len(remaining.items)} item(s); "
        f"sold {len(report.succeeded)}, shipping 1."
    )
    show.record(
        "done",
        title,
        user_id=DEMO_USER,
        items_held=len(remaining.items),
        sold=len(report.succeeded),
        shipping=1,
    )
