"""The ``phygitals`` command line: its parser and ``main``; the commands are in ``_cli_commands``.

Every global option (``--json``, ``--timeout``, ``--api-key``...) is accepted before or after
the command, with the same meaning. Errors are one line on stderr (``--debug`` adds the
traceback); the exit codes are listed in ``_cli_common``, beside the code that chooses them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from typing import Any

from .._client import AsyncPhygitals
from .._config import API_KEY_ENV
from .._errors import ConfigurationError
from .._http import forced_logging as forced
from .._models import OrderStatus
from ._commands import COMMANDS, ORDER_MAX_INTERVAL, PURCHASE_MAX_INTERVAL, journal_show
from ._common import (
    DEFAULT_TIMEOUT,
    EXIT_API,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PIPE,
    EXIT_USAGE,
    CommandError,
    Formatter,
    discard_stdout,
    draining_on_interrupt,
    global_options,
    report,
    report_line,
    seconds,
)
from ._completion import SHELLS, completion_script
from ._output import print_json

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


def _duration(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text.strip())
    if not match:
        msg = f"expected a duration such as 30m, 24h or 7d, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: float(match.group(1))})


def _interval_option(
    parser: argparse.ArgumentParser, wait: str, default: float, longest: float
) -> None:
    """``--interval`` of a command that waits with ``wait``: its first pause, in seconds."""
    parser.add_argument(
        "--interval",
        type=seconds,
        default=default,
        metavar="SECONDS",
        help=f"with {wait}: first pause between status checks, growing to {longest:g} "
        f"(default: {default:g})",
    )


def _seed_option(parser: argparse.ArgumentParser) -> None:
    """``--seed`` of the commands that start a local sandbox."""
    parser.add_argument(
        "--seed", type=int, default=0, help="makes ids and pulls repeatable (default: 0)"
    )


def _spec(parse: str) -> Callable[[str], Any]:
    """An argparse type that reads a start-up option as the sandbox's control API does."""

    def read(text: str) -> Any:
        from . import _serve  # noqa: PLC0415  only `sandbox` needs the sandbox

        try:
            return getattr(_serve, parse)(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    read.__name__ = parse
    return read


def _polls(text: str) -> int:
    if not text.isdigit():
        msg = f"a whole number of polls, 0 or more, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return int(text)


def _sandbox_options(p: argparse.ArgumentParser) -> None:
    """The options of ``phygitals sandbox``: where it listens, and what it rehearses."""
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument(
        "--port",
        type=int,
        default=8787,
        help="port to listen on; 0 picks a free one (default: 8787)",
    )
    _seed_option(p)
    p.add_argument(
        "--admin",
        action="store_true",
        help="also serve the ledger at GET /_sandbox/ledger, for tests in another process "
        "(default: off)",
    )
    p.add_argument(
        "--latency",
        type=_spec("parse_duration"),
        metavar="DURATION",
        help="delay every answer by DURATION: 80ms, 1.5s, 2m or seconds (default: none)",
    )
    p.add_argument(
        "--fault",
        action="append",
        dest="faults",
        default=[],
        type=_spec("parse_fault_spec"),
        metavar="ROUTE:FAULT[=VALUE][:N|P%]",
        help="inject a fault from the start (repeatable): ROUTE is vm/available, "
        "vm/recent-pulls, vm/buy/init, vm/buy/status, inventory, card, vm/buyback, ship/quote, "
        "ship/request, ship/order or * for all; FAULT is latency=DURATION, status[=CODE], "
        "drop_before, drop_after, malformed_json or html_error[=CODE]; then N for the next N "
        "requests or P%% for that share of them, every request when left out "
        "(default: none)",
    )
    p.add_argument(
        "--pending-polls",
        type=_polls,
        default=0,
        metavar="N",
        help="buy/status answers pending N times per purchase before the result, as "
        "production may (default: 0, as the hosted sandbox)",
    )
    p.add_argument(
        "--no-dashboard",
        action="store_false",
        dest="dashboard",
        help="do not serve the dashboard page and control API at /_sandbox/ (default: served)",
    )


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
    _interval_option(p, "--wait", 1.0, PURCHASE_MAX_INTERVAL)
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
    p.add_argument(
        "--extend",
        action="store_true",
        help="add the items to the journal's job even though it is complete (one journal is"
        " one job: a new job wants a new journal, e.g. a dated name) (default: off)",
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
    _interval_option(o, "--wait-until", 30.0, ORDER_MAX_INTERVAL)
    p = add(
        "sandbox",
        "serve a local sandbox, its dashboard and control API until Ctrl+C",
        "phygitals sandbox --port 8787\n"
        "  phygitals sandbox --latency 80ms --pending-polls 2\n"
        "  phygitals sandbox --fault vm/buyback:drop_after:5% --fault inventory:status=503:2\n"
        "  phygitals sandbox --fault '*:latency=2s:10%'",
    )
    _sandbox_options(p)
    p = add(
        "demo",
        "the whole flow against an in-process local sandbox (no key needed)",
        "phygitals demo --json",
    )
    _seed_option(p)
    p = add(
        "completion",
        "print a shell completion script",
        "phygitals completion bash > ~/.local/share/bash-completion/completions/phygitals",
    )
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    return parser


# The commands that run with a client; one table, so a test can swap one command in place.
_COMMANDS = COMMANDS


@contextlib.asynccontextmanager
async def _client(args: argparse.Namespace) -> AsyncIterator[AsyncPhygitals]:
    if args.sandbox_local or args.command == "demo":
        from ..testing import LocalSandbox  # noqa: PLC0415  only the sandbox commands need it

        async with (
            LocalSandbox(seed=getattr(args, "seed", 0)) as sandbox,
            sandbox.client(timeout=args.timeout) as client,
        ):
            yield client
    else:
        if not args.api_key and not os.environ.get(API_KEY_ENV):
            # The client's own message names api_key=, which means nothing on a command line.
            msg = (
                f"no API key: pass --api-key KEY or set ${API_KEY_ENV} "
                "(or try --sandbox-local, which needs none)"
            )
            raise ConfigurationError(msg)
        async with AsyncPhygitals(
            api_key=args.api_key, base_url=args.base_url, timeout=args.timeout
        ) as client:
            yield client


async def _serve(args: argparse.Namespace, serve_for: float | None) -> int:
    from ._serve import ServeError, serve  # noqa: PLC0415  only this command serves

    try:
        await serve(
            host=args.host,
            port=args.port,
            seed=args.seed,
            admin=args.admin,
            json_lines=args.json,
            serve_for=serve_for,
            dashboard=args.dashboard,
            latency=args.latency,
            faults=args.faults,
            pending_polls=args.pending_polls,
        )
    except ServeError as exc:
        raise CommandError(str(exc)) from exc
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
        return await journal_show(args)
    if args.command == "completion":
        return _completion(args)
    if args.timeout is None:
        args.timeout = DEFAULT_TIMEOUT
    if args.command == "sellback":
        with draining_on_interrupt() as stop:
            args.stop = stop
            async with _client(args) as client:
                return await _COMMANDS[args.command](client, args)
    async with _client(args) as client:
        return await _COMMANDS[args.command](client, args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    # --debug is PHYGITALS_LOG=debug: every request and answer on stderr, secrets scrubbed.
    with forced("debug") if args.debug else contextlib.nullcontext():
        return _main(args)


def _main(args: argparse.Namespace) -> int:
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
