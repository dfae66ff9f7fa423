"""The ``phygitals`` command line.

Exit codes: 0 ok, 1 API error, 2 usage error, 3 some items of a bulk sellback failed,
130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import sys
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ._client import AsyncPhygitals
from ._demo import run_demo
from ._errors import ConfigurationError, PhygitalsError
from ._models import Address, BulkSellbackReport, PurchasePending
from ._output import ProgressBar, items_table, money, print_json, table, when

__all__ = ["main"]

EXIT_OK, EXIT_API, EXIT_USAGE, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

_EPILOG = """\
examples:
  phygitals demo                                   the whole flow against a local sandbox
  phygitals --sandbox-local packs                  any command against a local sandbox
  phygitals inventory user_abc123 --json           exact JSON (amounts as strings)
  phygitals sellback --user u1 --all --journal run.db --concurrency 16
  phygitals sandbox --port 8787                    serve a local sandbox for your app

configuration: --api-key or $PHYGITALS_API_KEY; keys starting with 'sandbox-' use the sandbox.
exit codes: 0 ok, 1 API error, 2 usage error, 3 partial failure in bulk, 130 interrupted.
"""

Command = Callable[[AsyncPhygitals, argparse.Namespace], Awaitable[int]]


def _duration(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text.strip())
    if not match:
        msg = f"expected a duration such as 30m, 24h or 7d, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: float(match.group(1))})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phygitals",
        description="The Phygitals partner API from the command line.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--api-key", help="partner key (default: $PHYGITALS_API_KEY)")
    parser.add_argument("--base-url", help="override the API URL chosen from the key")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per call")
    parser.add_argument(
        "--sandbox-local", action="store_true", help="run against an in-process local sandbox"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable JSON output")
    parser.add_argument("--debug", action="store_true", help="log requests; show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str, example: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = add("packs", "list the packs on sale", "phygitals packs --platform mainnet")
    p.add_argument("--platform", default="mainnet")
    p = add("pulls", "the most recent pulls", "phygitals pulls --pack BSG6Dy... --limit 5")
    p.add_argument("--pack", action="append", dest="packs", metavar="PACK_ID")
    p.add_argument("--limit", type=int, default=20)
    p = add(
        "buy", "buy pulls of a pack for a user", "phygitals buy PACK_ID --user u1 --amount 2 --wait"
    )
    p.add_argument("pack_id")
    p.add_argument("--user", required=True)
    p.add_argument("--amount", type=int, required=True)
    p.add_argument("--wait", action="store_true", help="poll until the pull is fulfilled")
    p = add(
        "status", "a purchase's status", "phygitals status 550e8400-e29b-41d4-a716-446655440000"
    )
    p.add_argument("session_id")
    p = add("inventory", "a user's items", "phygitals inventory user_abc123")
    p.add_argument("user_id")
    p = add("card", "card details and fair-market value", "phygitals card 'v1|110586049456|0'")
    p.add_argument("item_id")
    p = add(
        "sellback",
        "sell items back (given ids, or all of a user's items)",
        "phygitals sellback --user u1 --all --expiring-within 24h --journal run.db",
    )
    p.add_argument("item_ids", nargs="*", metavar="ITEM_ID")
    p.add_argument("--user", help="the items' owner (needed for --all and reconciliation)")
    p.add_argument("--all", action="store_true", help="every item in the user's inventory")
    p.add_argument(
        "--expiring-within",
        type=_duration,
        metavar="DURATION",
        help="with --all: only items whose window closes within e.g. 24h",
    )
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--journal", help="SQLite file recording outcomes; rerun to resume")
    ship = add("ship", "shipping: quote, request, order", "phygitals ship order order_123")
    ship_sub = ship.add_subparsers(dest="ship_command", required=True, metavar="ACTION")
    q = ship_sub.add_parser(
        "quote",
        help="rates for shipping items to an address",
        epilog="example:\n  phygitals ship quote ITEM_ID --name 'Jane Doe' --line1 '123 Main St' "
        "--city Austin --state TX --postal-code 78701 --country US",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    q.add_argument("item_ids", nargs="+", metavar="ITEM_ID")
    for field in ("name", "line1", "city", "country"):
        q.add_argument(f"--{field}", required=True)
    for field in ("line2", "state", "postal-code", "phone", "email"):
        q.add_argument(f"--{field}")
    r = ship_sub.add_parser(
        "request",
        help="create an order from a rate id",
        epilog="example:\n  phygitals ship request quote_01HF..._rate_priority",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("quote_id")
    o = ship_sub.add_parser(
        "order",
        help="an order's status and tracking",
        epilog="example:\n  phygitals ship order order_123 --wait-until shipped",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    o.add_argument("order_id")
    o.add_argument(
        "--wait-until",
        action="append",
        metavar="STATUS",
        help="poll until the order reaches this status (repeatable)",
    )
    p = add("sandbox", "serve a local sandbox until Ctrl+C", "phygitals sandbox --port 8787")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8787)
    p.add_argument("--seed", type=int, default=0)
    p = add(
        "demo",
        "the whole flow against an in-process local sandbox (no key needed)",
        "phygitals demo",
    )
    p.add_argument("--seed", type=int, default=0)
    return parser


# -- commands -------------------------------------------------------------------------------


async def _packs(client: AsyncPhygitals, args: argparse.Namespace) -> int:
    packs = await client.list_packs(args.platform)
    if args.json:
        print_json(packs)
    else:
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
    return EXIT_OK


async def _pulls(client: AsyncPhygitals, args: argparse.Namespace) -> int:
    pulls = await client.recent_pulls(args.packs, args.limit)
    if args.json:
        print_json(pulls)
    else:
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
    return EXIT_OK


async def _buy(client: AsyncPhygitals, args: argparse.Namespace) -> int:
    purchase = await client.buy(args.pack_id, amount=args.amount, user_id=args.user)
    if args.wait:
        result = await client.wait_for_purchase(purchase.session_id, timeout=args.timeout)
        if args.json:
            print_json(result)
            return EXIT_OK
        print(f"session {result.session_id} fulfilled, public id {result.public_id}")
        items = result.nfts
    else:
        if args.json:
            print_json(purchase)
            return EXIT_OK
        print(f"session {purchase.session_id}")
        items = purchase.nfts
    items_table(items)
    return EXIT_OK


async def _status(client: AsyncPhygitals, args: argparse.Namespace) -> int:
    status = await client.purchase_status(args.session_id)
    if args.json:
        print_json(status)
    elif isinstance(status, PurchasePending):
        print("pending")
    else:
        print(f"fulfilled for {status.user_id}, public id {status.public_id}")
        items_table(status.nfts)
    return EXIT_OK


async def _inventory(client: AsyncPhygitals, args: argparse.Namespace) -> int:
    inventory = await client.inventory(args.user_id)
    if args.json:
        print_json(inventory)
    else:
        items_table(inventory.items, expiry=True)
    return EXIT_OK


async def _card(client: AsyncPhygitals, args: argparse.Namespace) -> int:
    card = await client.card(args.item_id)
    if args.json:
        print_json(card)
    else:
        print(f"{card.name}\n  id   {card.id}\n  fmv  {money(card.fmv)}")
        for attribute in card.metadata.attributes:
            print(f"  {attribute.trait_type}: {attribute.value}")
    return EXIT_OK


async def _sellback(client: AsyncPhygitals, args: argparse.Namespace) -> int:
    if bool(args.item_ids) == bool(args.all):
        msg = "give ITEM_IDs, or --user U --all"
        raise ConfigurationError(msg)
    targets: Any = args.item_ids
    if args.all:
        if not args.user:
            msg = "--all needs --user"
            raise ConfigurationError(msg)
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
    )
    if args.json:
        print_json(_report_json(report))
    else:
        _print_report(report)
    return EXIT_OK if report.ok else EXIT_PARTIAL


def _report_json(report: BulkSellbackReport) -> dict[str, Any]:
    return {
        "succeeded": report.succeeded,
        "failed": report.failed,
        "unknown": report.unknown,
        "total_amount": report.total_amount,
        "resumed": report.resumed,
        "elapsed": round(report.elapsed, 3),
    }


def _print_report(report: BulkSellbackReport) -> None:
    rows = [
        (s.item_id, "sold" + (" (reconciled)" if s.reconciled else ""), money(s.amount))
        for s in report.succeeded
    ]
    rows += [(f.item_id, f"failed: {type(f.error).__name__}", "-") for f in report.failed]
    rows += [(f.item_id, "UNKNOWN: check before retrying", "-") for f in report.unknown]
    table(["item", "outcome", "amount"], rows)
    print(
        f"\nsold {len(report.succeeded)}, failed {len(report.failed)}, "
        f"unknown {len(report.unknown)}; credited {money(report.total_amount)}"
        + (f"; {report.resumed} from the journal" if report.resumed else "")
    )


async def _ship(client: AsyncPhygitals, args: argparse.Namespace) -> int:
    if args.ship_command == "quote":
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
        if args.json:
            print_json(quote)
            return EXIT_OK
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
        return EXIT_OK
    if args.ship_command == "request":
        created = await client.ship_request(args.quote_id)
        if args.json:
            print_json(created)
        else:
            print(f"order {created.order_id} created")
        return EXIT_OK
    if args.wait_until:
        order = await client.wait_for_shipment(args.order_id, until=args.wait_until)
    else:
        order = await client.ship_order(args.order_id)
    if args.json:
        print_json(order)
    else:
        print(
            f"order {order.order_id}: {order.status}, {order.carrier} {order.service}, "
            f"{money(order.amount)}"
        )
        print(f"  tracking {order.tracking_number or '-'} {order.tracking_url or ''}".rstrip())
        table(["item", "card"], [(i.item_id, i.name) for i in order.items])
    return EXIT_OK


async def _demo(client: AsyncPhygitals, _args: argparse.Namespace) -> int:
    await run_demo(client)
    return EXIT_OK


_COMMANDS: dict[str, Command] = {
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


@contextlib.asynccontextmanager
async def _client(args: argparse.Namespace) -> AsyncIterator[AsyncPhygitals]:
    if args.sandbox_local or args.command == "demo":
        from .testing import LocalSandbox  # noqa: PLC0415  only the sandbox commands need it

        async with (
            LocalSandbox(seed=getattr(args, "seed", 0)) as sandbox,
            sandbox.client(timeout=args.timeout) as client,
        ):
            yield client
    else:
        async with AsyncPhygitals(
            api_key=args.api_key, base_url=args.base_url, timeout=args.timeout
        ) as client:
            yield client


async def _serve(args: argparse.Namespace) -> int:
    from .testing import LocalSandbox  # noqa: PLC0415  only this command needs the server

    async with LocalSandbox(host=args.host, port=args.port, seed=args.seed) as sandbox:
        print(f"local sandbox on {sandbox.root_url} (also under /_); any 'sandbox-' key works")
        print(f"  export PHYGITALS_API_KEY=sandbox-local PHYGITALS_BASE_URL={sandbox.url}")
        sys.stdout.flush()
        await asyncio.Event().wait()
    return EXIT_OK


async def _run(args: argparse.Namespace) -> int:
    if args.command == "sandbox":
        return await _serve(args)
    async with _client(args) as client:
        return await _COMMANDS[args.command](client, args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.debug:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ValueError as exc:  # ConfigurationError, InvalidRequestError, a bad Address
        _report(exc, args.debug)
        return EXIT_USAGE
    except PhygitalsError as exc:
        _report(exc, args.debug)
        return EXIT_API


def _report(exc: BaseException, debug: bool) -> None:
    if debug:
        traceback.print_exception(exc)
    print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
