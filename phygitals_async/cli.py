"""The ``phygitals`` command line: its parser, one function per command, and ``main``.

Every global option (``--json``, ``--timeout``, ``--api-key``...) is accepted before or after
the command, with the same meaning. Errors are one line on stderr (``--debug`` adds the
traceback); the exit codes are listed in ``_cli_common``, beside the code that chooses them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ._cli_common import (
    DEFAULT_TIMEOUT,
    EXIT_API,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_PIPE,
    EXIT_USAGE,
    CommandError,
    Formatter,
    discard_stdout,
    global_options,
    report,
    report_line,
    seconds,
    watch,
)
from ._client import AsyncPhygitals
from ._completion import SHELLS, completion_script
from ._demo import run_demo
from ._errors import ConfigurationError
from ._journal import Journal, JournalState, entries_of
from ._journal_postgres import PostgresJournal
from ._journal_summary import JournalSummary, journal_from, summarize
from ._models import Address, BulkSellbackReport, OrderStatus, PurchasePending
from ._output import (
    ProgressBar,
    items_table,
    money,
    print_json,
    table,
    to_jsonable,
    when,
)

__all__ = ["main"]

_EPILOG = """\
examples:
  phygitals demo                                   the whole flow against a local sandbox
  phygitals packs --sandbox-local                  any command against a local sandbox
  phygitals inventory user_abc123 --json           exact JSON (amounts as strings)
  phygitals sellback --user u1 --all --journal run.db --concurrency 16
  phygitals journal show run.db --json             a bulk sellback job, every item
  phygitals journal show 'postgresql://db/sb?job=eos'   a job shared by a fleet of workers
  phygitals ship order order_123 --wait-until shipped --timeout 3600
  phygitals sandbox --port 8787                    serve a local sandbox for your app
  phygitals completion bash                        tab completion script (also zsh, fish)

Global options are accepted before or after the command.
configuration: --api-key or $PHYGITALS_API_KEY; keys starting with 'sandbox-' use the sandbox.
exit codes: 0 ok, 1 failed (API error, no connection, --timeout reached), 2 usage error,
  3 partial failure in bulk, 130 interrupted, 141 output closed early (e.g. piped into head).
"""

Command = Callable[[AsyncPhygitals, argparse.Namespace], Awaitable[int]]


def _duration(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text.strip())
    if not match:
        msg = f"expected a duration such as 30m, 24h or 7d, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: float(match.group(1))})


def _parser() -> argparse.ArgumentParser:  # noqa: PLR0915  the whole command line, in one place
    parser = argparse.ArgumentParser(
        prog="phygitals",
        description="The Phygitals partner API from the command line.",
        epilog=_EPILOG,
        formatter_class=Formatter,
        parents=[global_options(top_level=True)],
    )
    shared = global_options(top_level=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        subparsers: Any, name: str, help_text: str, example: str
    ) -> argparse.ArgumentParser:
        created: argparse.ArgumentParser = subparsers.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=f"example:\n  {example}",
            formatter_class=Formatter,
            parents=[shared],
        )
        return created

    def add(name: str, help_text: str, example: str) -> argparse.ArgumentParser:
        return command(sub, name, help_text, example)

    p = add("packs", "list the packs on sale", "phygitals packs --platform mainnet")
    p.add_argument(
        "--platform", default="mainnet", help="the chain the packs sell on (default: mainnet)"
    )
    p = add("pulls", "the most recent pulls", "phygitals pulls --pack BSG6Dy... --limit 5")
    p.add_argument(
        "--pack",
        action="append",
        dest="packs",
        metavar="PACK_ID",
        help="only pulls of this pack; repeat for several (default: every pack)",
    )
    p.add_argument("--limit", type=int, default=20, help="how many pulls, 1 to 100 (default: 20)")
    p = add(
        "buy", "buy pulls of a pack for a user", "phygitals buy PACK_ID --user u1 --amount 2 --wait"
    )
    p.add_argument("pack_id", metavar="PACK_ID", help="the pack to buy, as listed by 'packs'")
    p.add_argument("--user", required=True, help="your user who receives the pulls (required)")
    p.add_argument(
        "--amount", type=int, required=True, help="how many pulls, 1 to the pack's max (required)"
    )
    p.add_argument(
        "--wait",
        action="store_true",
        help="poll until the pull is fulfilled, at most --timeout seconds (default: off)",
    )
    p.add_argument(
        "--interval",
        type=seconds,
        default=1.0,
        metavar="SECONDS",
        help="with --wait: first pause between status checks, growing to 10 (default: 1)",
    )
    p = add(
        "status", "a purchase's status", "phygitals status 550e8400-e29b-41d4-a716-446655440000"
    )
    p.add_argument("session_id", metavar="SESSION_ID", help="the session id 'buy' printed")
    p = add("inventory", "a user's items", "phygitals inventory user_abc123")
    p.add_argument("user_id", metavar="USER_ID", help="the user whose items to list")
    p = add("card", "card details and fair-market value", "phygitals card 'v1|110586049456|0'")
    p.add_argument("item_id", metavar="ITEM_ID", help="the item's id, as in the inventory")
    p = add(
        "sellback",
        "sell items back (given ids, all of a user's items, or a journal's job to resume)",
        "phygitals sellback --user u1 --all --expiring-within 24h --journal run.db",
    )
    p.add_argument(
        "item_ids",
        nargs="*",
        metavar="ITEM_ID",
        help="the items to sell (or --user U --all, or only --journal F to resume)",
    )
    p.add_argument(
        "--user", help="the items' owner, needed for --all and reconciliation (default: none)"
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="every item in the user's inventory (default: off)",
    )
    p.add_argument(
        "--expiring-within",
        type=_duration,
        metavar="DURATION",
        help="with --all: only items whose window closes within e.g. 24h (default: all)",
    )
    p.add_argument(
        "--concurrency", type=int, default=8, help="sales in flight at once (default: 8)"
    )
    p.add_argument(
        "--journal",
        metavar="FILE",
        help="SQLite file (or postgresql://...?job=NAME, shared by many workers) recording the"
        " job; rerun with it to resume the job, alone to resume only the job's items"
        " (default: none)",
    )
    journal = add("journal", "read a bulk sellback journal", "phygitals journal show run.db")
    journal_sub = journal.add_subparsers(dest="journal_command", required=True, metavar="ACTION")
    p = command(
        journal_sub,
        "show",
        "a job's items counted by state, with totals (--json: every item too)",
        "phygitals journal show run.db --json",
    )
    p.add_argument(
        "journal", metavar="JOURNAL", help="the journal file, or postgresql://...?job=NAME"
    )
    ship = add("ship", "shipping: quote, request, order", "phygitals ship order order_123")
    ship_sub = ship.add_subparsers(dest="ship_command", required=True, metavar="ACTION")
    q = command(
        ship_sub,
        "quote",
        "rates for shipping items to an address",
        "phygitals ship quote ITEM_ID --name 'Jane Doe' --line1 '123 Main St' "
        "--city Austin --state TX --postal-code 78701 --country US",
    )
    q.add_argument("item_ids", nargs="+", metavar="ITEM_ID", help="the items to ship")
    required = {
        "name": "recipient's full name",
        "line1": "street address",
        "city": "city",
        "country": "ISO 3166-1 alpha-2 country code, e.g. US",
    }
    for field, text in required.items():
        q.add_argument(f"--{field}", required=True, help=f"{text} (required)")
    optional = {
        "line2": "apartment, suite, unit",
        "state": "state or region, e.g. TX",
        "postal-code": "postal or ZIP code",
        "phone": "recipient's phone number",
        "email": "recipient's email",
    }
    for field, text in optional.items():
        q.add_argument(f"--{field}", help=f"{text} (default: none)")
    r = command(
        ship_sub,
        "request",
        "create an order from a rate id",
        "phygitals ship request quote_01HF..._rate_priority",
    )
    r.add_argument("quote_id", metavar="RATE_ID", help="a rate id from 'ship quote'")
    o = command(
        ship_sub,
        "order",
        "an order's status and tracking",
        "phygitals ship order order_123 --wait-until shipped --timeout 3600",
    )
    o.add_argument("order_id", metavar="ORDER_ID", help="the order id 'ship request' printed")
    o.add_argument(
        "--wait-until",
        action="append",
        metavar="STATUS",
        choices=[str(s) for s in OrderStatus],
        help="poll until the order reaches this status (repeatable), cancelled or failed, "
        "at most --timeout seconds; one of %(choices)s (default: no wait)",
    )
    o.add_argument(
        "--interval",
        type=seconds,
        default=30.0,
        metavar="SECONDS",
        help="with --wait-until: first pause between status checks, growing to 300 (default: 30)",
    )
    p = add("sandbox", "serve a local sandbox until Ctrl+C", "phygitals sandbox --port 8787")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument(
        "--port",
        type=int,
        default=8787,
        help="port to listen on; 0 picks a free one (default: 8787)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="makes ids and pulls repeatable (default: 0)"
    )
    p.add_argument(
        "--admin",
        action="store_true",
        help="also serve the ledger at GET /_sandbox/ledger, for tests in another process "
        "(default: off)",
    )
    p = add(
        "demo",
        "the whole flow against an in-process local sandbox (no key needed)",
        "phygitals demo --json",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="makes ids and pulls repeatable (default: 0)"
    )
    p = add(
        "completion",
        "print a shell completion script",
        "phygitals completion bash > ~/.local/share/bash-completion/completions/phygitals",
    )
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")
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
        poll = client.poll_purchase(
            purchase.session_id,
            interval=args.interval,
            max_interval=max(args.interval, 10.0),
            timeout=args.timeout,
        )
        result = await watch(poll, f"purchase {purchase.session_id} to be fulfilled", args)
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
        "unconfirmed": report.unconfirmed,
        "failed": report.failed,
        "unknown": report.unknown,
        "total_amount": report.total_amount,
        "unconfirmed_amount": report.unconfirmed_amount,
        "resumed": report.resumed,
        "elapsed": round(report.elapsed, 3),
    }


def _print_report(report: BulkSellbackReport) -> None:
    rows = [(s.item_id, "sold", money(s.amount)) for s in report.succeeded]
    rows += [
        (u.item_id, "sold, amount unconfirmed (quoted)", money(u.quoted_amount))
        for u in report.unconfirmed
    ]
    rows += [(f.item_id, f"failed: {type(f.error).__name__}", "-") for f in report.failed]
    rows += [(f.item_id, "UNKNOWN: check before retrying", "-") for f in report.unknown]
    table(["item", "outcome", "amount"], rows)
    print(
        f"\nsold {len(report.succeeded)}, failed {len(report.failed)}, "
        f"unknown {len(report.unknown)}, unconfirmed {len(report.unconfirmed)}; "
        f"credited {money(report.total_amount)}"
        + (
            f"; unconfirmed sales quoted at {money(report.unconfirmed_amount)}"
            if report.unconfirmed
            else ""
        )
        + (f"; {report.resumed} settled by earlier runs" if report.resumed else "")
    )


async def _journal_show(args: argparse.Namespace) -> int:
    journal = journal_from(args.journal)
    try:
        job = await journal.open_for_reading()
        summary = await summarize(journal, job)
        if args.json:
            await _print_journal_json(journal, summary)
        else:
            # A URL may carry a password: name the job by where it is, never by its URL.
            name = str(journal) if isinstance(journal, PostgresJournal) else args.journal
            _print_journal(name, summary)
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
        JournalState.UNCONFIRMED: money(summary.unconfirmed_amount) + " quoted",
    }
    rows = [(state.value, summary.counts[state], amounts.get(state, "")) for state in JournalState]
    table(["state", "items", "amount"], [*rows, ("total", summary.total, "")])


async def _print_journal_json(journal: Journal, summary: JournalSummary) -> None:
    # Items are written as they stream from the journal: a 100,000-item job stays small.
    head = {
        **to_jsonable(summary.job),
        "counts": {state.value: count for state, count in summary.counts.items()},
        "total": summary.total,
        "confirmed_amount": str(summary.confirmed_amount),
        "unconfirmed_amount": str(summary.unconfirmed_amount),
    }
    out = sys.stdout
    out.write(json.dumps(head, indent=2)[:-2] + ',\n  "items": [')
    separator = "\n    "
    async with entries_of(journal) as entries:
        async for entry in entries:
            out.write(separator + json.dumps(to_jsonable(entry)))
            separator = ",\n    "
    out.write("\n  ]\n}\n")


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
        poll = client.poll_shipment(
            args.order_id,
            until=args.wait_until,
            interval=args.interval,
            max_interval=max(args.interval, 300.0),
            timeout=args.timeout,
        )
        wanted = " or ".join(args.wait_until)
        order = await watch(poll, f"order {args.order_id} to be {wanted}", args)
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
    if args.wait_until and str(order.status) not in args.wait_until:
        # The wait ended because the order can go no further (cancelled, failed): a script
        # running `... --wait-until shipped && notify` must not take that for shipped.
        msg = f"order {order.order_id} ended {order.status}, not {' or '.join(args.wait_until)}"
        raise CommandError(msg)
    return EXIT_OK


async def _demo(client: AsyncPhygitals, args: argparse.Namespace) -> int:
    await run_demo(client, json_lines=args.json, wait_timeout=args.timeout)
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


async def _serve(args: argparse.Namespace, serve_for: float | None) -> int:
    from .testing._serve import serve  # noqa: PLC0415  only this command needs the server

    await serve(
        host=args.host,
        port=args.port,
        seed=args.seed,
        admin=args.admin,
        json_lines=args.json,
        serve_for=serve_for,
    )
    return EXIT_OK


def _completion(args: argparse.Namespace) -> int:
    script = completion_script(_parser(), args.shell)
    if args.json:
        print_json({"shell": args.shell, "script": script})
    else:
        sys.stdout.write(script)
    return EXIT_OK


async def _run(args: argparse.Namespace) -> int:
    if args.command == "sandbox":
        return await _serve(args, args.timeout)
    if args.command == "journal":
        return await _journal_show(args)
    if args.command == "completion":
        return _completion(args)
    if args.timeout is None:
        args.timeout = DEFAULT_TIMEOUT
    async with _client(args) as client:
        return await _COMMANDS[args.command](client, args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.debug:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    try:
        code = asyncio.run(_run(args))
        # Written output may still sit in the buffer: a closed pipe shows up here, not at exit.
        sys.stdout.flush()
    except BrokenPipeError:
        discard_stdout()
        return EXIT_PIPE
    except KeyboardInterrupt:
        report_line("interrupted")
        return EXIT_INTERRUPTED
    except ValueError as exc:  # ConfigurationError, InvalidRequestError, a bad Address
        report(exc, args.debug)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001  any failure, expected or not, is one line
        report(exc, args.debug)
        return EXIT_API
    return code


if __name__ == "__main__":
    raise SystemExit(main())
