"""The arguments of each ``phygitals`` command, one function per command of the table.

Each function adds its command's arguments to the parser the table made for it (see
``_main.COMMANDS_TABLE``); the help texts are the command line's documentation.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from .._models import OrderStatus
from ._commands import ORDER_MAX_INTERVAL, PURCHASE_MAX_INTERVAL
from ._common import seconds
from ._completion import SHELLS

__all__ = [
    "buy",
    "card",
    "completion",
    "demo",
    "inventory",
    "journal_show",
    "none",
    "packs",
    "pulls",
    "sandbox",
    "sellback",
    "ship_order",
    "ship_quote",
    "ship_request",
    "status",
]


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


def _concurrency(text: str) -> int:
    # Checked with the arguments: before --all reads the inventory.
    if not text.isdigit() or int(text) < 1:
        msg = f"a whole number of sales, 1 or more, not {text!r}"
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


def none(_: argparse.ArgumentParser) -> None:
    """A command without arguments of its own (those with actions: ``journal``, ``ship``)."""


def packs(p: argparse.ArgumentParser) -> None:
    """``phygitals packs``."""
    p.add_argument(
        "--platform", default="mainnet", help="the chain the packs sell on (default: mainnet)"
    )


def pulls(p: argparse.ArgumentParser) -> None:
    """``phygitals pulls``."""
    p.add_argument(
        "--pack",
        action="append",
        dest="packs",
        metavar="PACK_ID",
        help="only pulls of this pack; repeat for several (default: every pack)",
    )
    p.add_argument("--limit", type=int, default=20, help="how many pulls, 1 to 100 (default: 20)")


def buy(p: argparse.ArgumentParser) -> None:
    """``phygitals buy``."""
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


def status(p: argparse.ArgumentParser) -> None:
    """``phygitals status``."""
    p.add_argument("session_id", metavar="SESSION_ID", help="the session id 'buy' printed")


def inventory(p: argparse.ArgumentParser) -> None:
    """``phygitals inventory``."""
    p.add_argument("user_id", metavar="USER_ID", help="the user whose items to list")


def card(p: argparse.ArgumentParser) -> None:
    """``phygitals card``."""
    p.add_argument("item_id", metavar="ITEM_ID", help="the item's id, as in the inventory")


def sellback(p: argparse.ArgumentParser) -> None:
    """``phygitals sellback``."""
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
        "--concurrency",
        type=_concurrency,
        default=8,
        metavar="N",
        help="sales in flight at once, 1 or more (default: 8)",
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


def journal_show(p: argparse.ArgumentParser) -> None:
    """``phygitals journal show``."""
    p.add_argument(
        "journal", metavar="JOURNAL", help="the journal file, or postgresql://...?job=NAME"
    )


def ship_quote(q: argparse.ArgumentParser) -> None:
    """``phygitals ship quote``."""
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


def ship_request(r: argparse.ArgumentParser) -> None:
    """``phygitals ship request``."""
    r.add_argument("quote_id", metavar="RATE_ID", help="a rate id from 'ship quote'")


def ship_order(o: argparse.ArgumentParser) -> None:
    """``phygitals ship order``."""
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


def sandbox(p: argparse.ArgumentParser) -> None:
    """``phygitals sandbox``: where it listens, and what it rehearses."""
    _sandbox_options(p)


def demo(p: argparse.ArgumentParser) -> None:
    """``phygitals demo``."""
    _seed_option(p)


def completion(p: argparse.ArgumentParser) -> None:
    """``phygitals completion``."""
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")
