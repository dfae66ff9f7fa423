"""What each ``phygitals`` command does: its SDK calls, its answer printed, its exit code.

Every command prints its answer one of two ways: exact JSON with ``--json``, else a table or
a few lines for people. :func:`_answer` makes that choice once; each command names its call
and, beside it, the ``_print_*`` function a person reads the answer through. The parser and
``main`` are in ``cli``, which looks commands up in :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from .._client import AsyncPhygitals
from .._errors import ConfigurationError
from .._journal import (
    NO_OWNER,
    Holder,
    Journal,
    JournalState,
    JournalSummary,
    PostgresJournal,
    SqliteJournal,
    entries_of,
    is_postgres_url,
    open_journal,
    summarize,
)
from .._models import (
    Address,
    BulkSellbackReport,
    Card,
    Pack,
    Pull,
    Purchase,
    PurchasePending,
    PurchaseResult,
    ShippingOrder,
    ShippingQuote,
    UnconfirmedSellback,
)
from ._common import EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, CommandError, watch
from ._demo import run_demo
from ._output import ProgressBar, items_table, money, print_json, table, to_jsonable, when

__all__ = ["COMMANDS", "ORDER_MAX_INTERVAL", "PURCHASE_MAX_INTERVAL", "Command", "journal_show"]

T = TypeVar("T")

Command = Callable[[AsyncPhygitals, argparse.Namespace], Awaitable[int]]

# The longest pause (seconds) between the status checks of `buy --wait` and of `ship order
# --wait-until`, unless --interval asks for more; the parser's help quotes them.
PURCHASE_MAX_INTERVAL = 10.0
ORDER_MAX_INTERVAL = 300.0


def _answer(args: argparse.Namespace, value: T, print_for_people: Callable[[T], None]) -> int:
    """Print ``value`` as exact JSON with ``--json``, else as ``print_for_people`` does."""
    if args.json:
        print_json(value)
    else:
        print_for_people(value)
    return EXIT_OK


async def _packs(client: AsyncPhygitals, args: argparse.Namespace) -> int:
    return _answer(args, await client.list_packs(args.platform), _print_packs)


def _print_packs(packs: list[Pack]) -> None:
    table(
        ["id", "pack", "price", "max", "ev", "on sale"],
        [
            (
                p.id,
                p.name,
                money(p.mint_price),
                p.max_per_mint,
                money(p.ev),
                "yes" if p.purchasable else "no",
            )
            for p in packs
        ],
    )


async def _pulls(client: AsyncPhygitals, args: argparse.Namespace) -> int:
    return _answer(args, await client.recent_pulls(args.packs, args.limit), _print_pulls)


def _print_pulls(pulls: list[Pull]) -> None:
    table(
        ["when", "card", "pack", "value", "buyback"],
        [
            (
                when(p.created_at),
                p.metadata.name,
                p.claw_slug or p.claw_id,
                money(p.value),
                money(p.buyback_price),
            )
            for p in pulls
        ],
    )


async def _buy(client: AsyncPhygitals, args: argparse.Namespace) -> int:
    purchase = await client.buy(args.pack_id, amount=args.amount, user_id=args.user)
    if not args.wait:
        return _answer(args, purchase, _print_purchase)
    poll = client.poll_purchase(
        purchase.session_id,
        interval=args.interval,
        max_interval=max(args.interval, PURCHASE_MAX_INTERVAL),
        timeout=args.timeout,
    )
    result = await watch(poll, f"purchase {purchase.session_id} to be fulfilled", args)
    return _answer(args, result, _print_fulfilled)


def _print_purchase(purchase: Purchase) -> None:
    print(f"session {purchase.session_id}")
    items_table(purchase.nfts)


def _print_fulfilled(result: PurchaseResult) -> None:
    print(f"session {result.session_id} fulfilled, public id {result.public_id}")
    items_table(result.nfts)


async def _status(client: AsyncPhygitals, args: argparse.Namespace) -> int:
    return _answer(args, await client.purchase_status(args.session_id), _print_status)


def _print_status(status: PurchaseResult | PurchasePending) -> None:
    if isinstance(status, PurchasePending):
        print("pending")
        return
    print(f"fulfilled for {status.user_id}, public id {status.public_id}")
    items_table(status.nfts)


async def _inventory(client: AsyncPhygitals, args: argparse.Namespace) -> int:
    inventory = await client.inventory(args.user_id)
    return _answer(args, inventory, lambda shown: items_table(shown.items, expiry=True))


async def _card(client: AsyncPhygitals, args: argparse.Namespace) -> int:
    return _answer(args, await client.card(args.item_id), _print_card)


def _print_card(card: Card) -> None:
    print(f"{card.name}\n  id   {card.id}\n  fmv  {money(card.fmv)}")
    for attribute in card.metadata.attributes:
        print(f"  {attribute.trait_type}: {attribute.value}")


async def _sellback(client: AsyncPhygitals, args: argparse.Namespace) -> int:
    if args.item_ids and args.all:
        msg = "give ITEM_IDs or --all, not both"
        raise ConfigurationError(msg)
    if not (args.item_ids or args.all or args.journal):
        msg = "give ITEM_IDs, --user U --all, or --journal F to resume a job"
        raise ConfigurationError(msg)
    targets: Any = args.item_ids or None  # none: resume the journal's job alone
    if args.all:
        if not args.user:
            msg = "--all needs --user"
            raise ConfigurationError(msg)
        if args.journal and not is_postgres_url(args.journal):
            # Refused before the inventory is read: a busy, foreign or broken journal.
            await SqliteJournal(args.journal).check_ready(
                user_id=args.user, base_url=client.base_url
            )
        inventory = await client.inventory(args.user)
        items = list(inventory.items)
        if args.expiring_within is not None:
            cutoff = datetime.now(UTC) + args.expiring_within
            items = [i for i in items if i.buyback_expires_at and i.buyback_expires_at <= cutoff]
        targets = items
    report = await client.sell_back_many(
        targets,
        concurrency=args.concurrency,
        journal=args.journal,
        on_progress=None if args.json else ProgressBar("selling"),
        user_id=args.user,
        extend=args.extend,
        stop=getattr(args, "stop", None),
    )
    # Not _answer: --json prints the report's lists and totals, not the report object.
    if args.json:
        print_json(_report_json(report))
    else:
        position: dict[str, int] = {}
        for item_id in args.item_ids or [i.id for i in targets or ()]:
            position.setdefault(item_id, len(position))
        _print_report(report, position, journaled=bool(args.journal))
    stop = getattr(args, "stop", None)
    if stop is not None and stop.is_set():
        return EXIT_INTERRUPTED  # drained: what was sent is committed; a rerun resumes
    return EXIT_OK if report.ok else EXIT_PARTIAL


def _report_json(report: BulkSellbackReport) -> dict[str, Any]:
    return {
        "succeeded": report.succeeded,
        "unconfirmed": report.unconfirmed,
        "failed": report.failed,
        "unknown": report.unknown,
        "total_amount": report.total_amount,
        "unconfirmed_amount": report.unconfirmed_amount,
        "resumed": report.resumed,
        "remaining": report.remaining,
        "this_run": report.this_run,
        "summary": report.summary(),
        "elapsed": round(report.elapsed, 3),
    }


def _print_report(
    report: BulkSellbackReport, position: Mapping[str, int], *, journaled: bool = False
) -> None:
    """The outcome of each item, in the order the items were given (others after them)."""
    rows = [(s.item_id, "sold", money(s.amount)) for s in report.succeeded]
    rows += [
        (u.item_id, "sold, amount unconfirmed (quoted)", money(u.quoted_amount))
        if u.quoted_amount is not None
        else (u.item_id, "sold, amount unconfirmed (no quote known)", "-")
        for u in report.unconfirmed
    ]
    rows += [(f.item_id, f"failed: {type(f.error).__name__}", "-") for f in report.failed]
    rows += [(f.item_id, _unknown(f.error, journaled=journaled), "-") for f in report.unknown]
    rows.sort(key=lambda row: position.get(row[0], len(position)))
    table(["item", "outcome", "amount"], rows)
    print(
        f"\nsold {len(report.succeeded)}, failed {len(report.failed)}, "
        f"unknown {len(report.unknown)}, unconfirmed {len(report.unconfirmed)}; "
        f"credited {money(report.total_amount)}"
        + _unconfirmed_quotes(report.unconfirmed)
        + (f"; {report.resumed} settled by earlier runs" if report.resumed else "")
        + (f"; {report.remaining} left for the next run" if report.remaining else "")
    )
    if report.resumed:
        run = report.this_run
        print(
            f"this run: sold {run.sold}, failed {run.failed}, unknown {run.unknown},"
            f" unconfirmed {run.unconfirmed}; credited {money(run.total_amount)}"
        )


def _unknown(error: Exception, *, journaled: bool) -> str:
    """An unknown outcome, with what settles it where the owner was missing.

    Only a journal remembers that the item was sent: without one, a rerun would send it
    again and read "item not found" as a plain failure.
    """
    if NO_OWNER not in str(error):
        return "UNKNOWN: check before retrying"
    if journaled:
        return "UNKNOWN: no owner to check; rerun with --user and the same --journal"
    return "UNKNOWN: no owner to check; see the owner's inventory before retrying"


async def journal_show(args: argparse.Namespace) -> int:
    """``phygitals journal show``: a bulk sellback job read from its journal; no client."""
    journal = open_journal(args.journal)
    try:
        job = await journal.open_for_reading()
        summary = await summarize(journal, job)
        # A shared job says who holds what (a dead worker shows as an ended lease).
        holders = await journal.holders() if isinstance(journal, PostgresJournal) else None
        if args.json:
            await _print_journal_json(journal, summary, holders)
        else:
            # A URL may carry a password: name the job by where it is, never by its URL.
            name = str(journal) if isinstance(journal, PostgresJournal) else args.journal
            _print_journal(name, summary)
            if holders:
                _print_holders(holders)
    finally:
        await journal.close()
    return EXIT_OK


def _print_journal(name: str, summary: JournalSummary) -> None:
    job = summary.job
    print(
        f"journal {name}: schema version {job.schema_version}, user {job.user_id or '-'},"
        f" {job.base_url}\ncreated {when(job.created_at)}, {job.runs} run(s)\n"
    )
    amounts = {
        JournalState.SOLD: money(summary.confirmed_amount),
        JournalState.UNCONFIRMED: _quoted(summary),
    }
    rows = [(state.value, summary.counts[state], amounts.get(state, "")) for state in JournalState]
    table(["state", "items", "amount"], [*rows, ("total", summary.total, "")])


def _print_holders(holders: list[Holder]) -> None:
    print("\nworkers")
    rows = [
        (
            h.worker,
            h.items,
            "-" if h.lease_until is None else when(h.lease_until),
            "-" if h.heartbeat_at is None else when(h.heartbeat_at),
            "lease ended" if h.expired else "",
        )
        for h in holders
    ]
    table(["worker", "items held", "lease until", "last heartbeat", ""], rows)


def _unconfirmed_quotes(unconfirmed: Sequence[UnconfirmedSellback]) -> str:
    """What the unconfirmed sales were quoted at, never a missing quote shown as $0.00."""
    quoted = [u.quoted_amount for u in unconfirmed if u.quoted_amount is not None]
    if not unconfirmed:
        return ""
    if not quoted:
        return "; unconfirmed sales: no quote known"
    text = f"; unconfirmed sales quoted at {money(sum(quoted, Decimal(0)))}"
    unquoted = len(unconfirmed) - len(quoted)
    return text + (f" ({unquoted} without a quote)" if unquoted else "")


def _quoted(summary: JournalSummary) -> str:
    """The quoted sum of unconfirmed sales, never a missing quote shown as $0.00."""
    count, unquoted = summary.counts[JournalState.UNCONFIRMED], summary.unquoted
    if not count:
        return ""
    if unquoted == count:
        return "no quote known"
    text = money(summary.unconfirmed_amount) + " quoted"
    return text + (f" ({unquoted} without a quote)" if unquoted else "")


async def _print_journal_json(
    journal: Journal, summary: JournalSummary, holders: list[Holder] | None = None
) -> None:
    # Items are written as they stream from the journal: a 100,000-item job stays small.
    head = {
        **to_jsonable(summary.job),
        "counts": {state.value: count for state, count in summary.counts.items()},
        "total": summary.total,
        "confirmed_amount": str(summary.confirmed_amount),
        "unconfirmed_amount": str(summary.unconfirmed_amount),
        "unconfirmed_without_quote": summary.unquoted,
    }
    if holders is not None:
        head["holders"] = [to_jsonable(h) for h in holders]
    out = sys.stdout
    out.write(json.dumps(head, indent=2)[:-2] + ',\n  "items": [')
    separator = "\n    "
    async with entries_of(journal) as entries:
        async for entry in entries:
            out.write(separator + json.dumps(to_jsonable(entry)))
            separator = ",\n    "
    out.write("\n  ]\n}\n")


async def _ship(client: AsyncPhygitals, args: argparse.Namespace) -> int:
    return await _SHIP_ACTIONS[args.ship_command](client, args)


async def _ship_quote(client: AsyncPhygitals, args: argparse.Namespace) -> int:
    destination = Address(
        name=args.name,
        line1=args.line1,
        city=args.city,
        country=args.country,
        line2=args.line2,
        state=args.state,
        postal_code=args.postal_code,
        phone=args.phone,
        email=args.email,
    )
    quote = await client.ship_quote(args.item_ids, destination=destination)
    return _answer(args, quote, _print_quote)


def _print_quote(quote: ShippingQuote) -> None:
    print(f"quote {quote.session_id}, valid until {when(quote.expires_at)}")
    table(
        ["rate id", "carrier", "service", "days", "insured", "amount"],
        [
            (
                r.id,
                r.carrier,
                r.service,
                f"{r.estimated_days_min}-{r.estimated_days_max}",
                "yes" if r.insured else "no",
                money(r.amount),
            )
            for r in quote.quotes
        ],
    )


async def _ship_request(client: AsyncPhygitals, args: argparse.Namespace) -> int:
    created = await client.ship_request(args.quote_id)
    return _answer(args, created, lambda shown: print(f"order {shown.order_id} created"))


async def _ship_order(client: AsyncPhygitals, args: argparse.Namespace) -> int:
    if args.wait_until:
        poll = client.poll_shipment(
            args.order_id,
            until=args.wait_until,
            interval=args.interval,
            max_interval=max(args.interval, ORDER_MAX_INTERVAL),
            timeout=args.timeout,
        )
        wanted = " or ".join(args.wait_until)
        order = await watch(poll, f"order {args.order_id} to be {wanted}", args)
    else:
        order = await client.ship_order(args.order_id)
    _answer(args, order, _print_order)
    if args.wait_until and str(order.status) not in args.wait_until:
        # The wait ended because the order can go no further (cancelled, failed): a script
        # running `... --wait-until shipped && notify` must not take that for shipped.
        msg = f"order {order.order_id} ended {order.status}, not {' or '.join(args.wait_until)}"
        raise CommandError(msg)
    return EXIT_OK


def _print_order(order: ShippingOrder) -> None:
    print(
        f"order {order.order_id}: {order.status}, {order.carrier} {order.service}, "
        f"{money(order.amount)}"
    )
    print(f"  tracking {order.tracking_number or '-'} {order.tracking_url or ''}".rstrip())
    table(["item", "card"], [(i.item_id, i.name) for i in order.items])


_SHIP_ACTIONS: dict[str, Command] = {
    "quote": _ship_quote,
    "request": _ship_request,
    "order": _ship_order,
}


async def _demo(client: AsyncPhygitals, args: argparse.Namespace) -> int:
    await run_demo(client, json_lines=args.json, wait_timeout=args.timeout)
    return EXIT_OK


# The commands that run with a client, by name; `cli` starts the client (real or a local
# sandbox) and handles the rest (sandbox, journal, completion) itself.
COMMANDS: dict[str, Command] = {
    "packs": _packs,
    "pulls": _pulls,
    "buy": _buy,
    "status": _status,
    "inventory": _inventory,
    "card": _card,
    "sellback": _sellback,
    "ship": _ship,
    "demo": _demo,
}
