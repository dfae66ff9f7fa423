"""The ``phygitals`` command line: the table of commands, the parser built from it, ``main``.

Every global option (``--json``, ``--timeout``, ``--api-key``...) is accepted before or after
the command, with the same meaning. Errors are one line on stderr (``--debug`` adds the
traceback); the exit codes are listed in ``_common``, beside the code that chooses them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import attrs

from .._client import AsyncPhygitals
from .._config import API_KEY_ENV
from .._errors import ConfigurationError
from .._http import forced_logging as forced
from . import _arguments as arguments
from ._commands import COMMANDS, journal_show
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
)
from ._completion import completion_script
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


Runner = Callable[[argparse.Namespace], Awaitable[int]]


@attrs.frozen
class Command:
    """One command of the command line: its name, help, example, arguments and runner.

    ``actions`` are its own commands (``journal show``, ``ship order``), chosen by the
    ``<name>_command`` argument; the runner then dispatches on it.
    """

    name: str
    help: str
    example: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Runner | None = None
    actions: tuple[Command, ...] = ()


def _parser() -> argparse.ArgumentParser:
    """The parser of the command line, built from :data:`COMMANDS_TABLE`."""
    parser = argparse.ArgumentParser(
        prog="phygitals",
        description="The Phygitals partner API from the command line.",
        epilog=_EPILOG,
        formatter_class=Formatter,
        parents=[global_options(top_level=True)],
    )
    _add_commands(parser, COMMANDS_TABLE, "command", "COMMAND", global_options(top_level=False))
    return parser


def _add_commands(
    parser: argparse.ArgumentParser,
    commands: Sequence[Command],
    dest: str,
    metavar: str,
    shared: argparse.ArgumentParser,
) -> None:
    sub = parser.add_subparsers(dest=dest, required=True, metavar=metavar)
    for command in commands:
        created: argparse.ArgumentParser = sub.add_parser(
            command.name,
            help=command.help,
            description=command.help,
            epilog=f"example:\n  {command.example}",
            formatter_class=Formatter,
            parents=[shared],
        )
        command.arguments(created)
        if command.actions:
            _add_commands(created, command.actions, f"{command.name}_command", "ACTION", shared)


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


async def _with_client(args: argparse.Namespace) -> int:
    """A command that calls the API: its handler in :data:`_COMMANDS`, with a client."""
    if args.timeout is None:
        args.timeout = DEFAULT_TIMEOUT
    async with _client(args) as client:
        return await _COMMANDS[args.command](client, args)


async def _draining(args: argparse.Namespace) -> int:
    """``sellback``: the first Ctrl+C drains the requests in flight, the second aborts."""
    with draining_on_interrupt() as stop:
        args.stop = stop
        return await _with_client(args)


async def _sandbox(args: argparse.Namespace) -> int:
    return await _serve(args, args.timeout)


async def _completion_command(args: argparse.Namespace) -> int:
    return _completion(args)


_SANDBOX_EXAMPLES = (
    "phygitals sandbox --port 8787\n"
    "  phygitals sandbox --latency 80ms --pending-polls 2\n"
    "  phygitals sandbox --fault vm/buyback:drop_after:5% --fault inventory:status=503:2\n"
    "  phygitals sandbox --fault '*:latency=2s:10%'"
)
_QUOTE_EXAMPLE = (
    "phygitals ship quote ITEM_ID --name 'Jane Doe' --line1 '123 Main St' "
    "--city Austin --state TX --postal-code 78701 --country US"
)

# The command line, one entry per command, in the order `phygitals --help` lists them.
COMMANDS_TABLE: tuple[Command, ...] = (
    Command("packs", "list the packs on sale", "phygitals packs --platform mainnet",
            arguments.packs, _with_client),
    Command("pulls", "the most recent pulls", "phygitals pulls --pack BSG6Dy... --limit 5",
            arguments.pulls, _with_client),
    Command("buy", "buy pulls of a pack for a user",
            "phygitals buy PACK_ID --user u1 --amount 2 --wait", arguments.buy, _with_client),
    Command("status", "a purchase's status",
            "phygitals status 550e8400-e29b-41d4-a716-446655440000",
            arguments.status, _with_client),
    Command("inventory", "a user's items", "phygitals inventory user_abc123",
            arguments.inventory, _with_client),
    Command("card", "card details and fair-market value", "phygitals card 'v1|110586049456|0'",
            arguments.card, _with_client),
    Command("sellback",
            "sell items back (given ids, all of a user's items, or a journal's job to resume)",
            "phygitals sellback --user u1 --all --expiring-within 24h --journal run.db",
            arguments.sellback, _draining),
    Command("journal", "read a bulk sellback journal", "phygitals journal show run.db",
            arguments.none, journal_show, actions=(
                Command("show",
                        "a job's items counted by state, with totals (--json: every item too)",
                        "phygitals journal show run.db --json", arguments.journal_show),
            )),
    Command("ship", "shipping: quote, request, order", "phygitals ship order order_123",
            arguments.none, _with_client, actions=(
                Command("quote", "rates for shipping items to an address", _QUOTE_EXAMPLE,
                        arguments.ship_quote),
                Command("request", "create an order from a rate id",
                        "phygitals ship request quote_01HF..._rate_priority",
                        arguments.ship_request),
                Command("order", "an order's status and tracking",
                        "phygitals ship order order_123 --wait-until shipped --timeout 3600",
                        arguments.ship_order),
            )),
    Command("sandbox", "serve a local sandbox, its dashboard and control API until Ctrl+C",
            _SANDBOX_EXAMPLES, arguments.sandbox, _sandbox),
    Command("demo", "the whole flow against an in-process local sandbox (no key needed)",
            "phygitals demo --json", arguments.demo, _with_client),
    Command("completion", "print a shell completion script",
            "phygitals completion bash > ~/.local/share/bash-completion/completions/phygitals",
            arguments.completion, _completion_command),
)  # fmt: skip
_BY_NAME = {command.name: command for command in COMMANDS_TABLE}


async def _run(args: argparse.Namespace) -> int:
    run = _BY_NAME[args.command].run
    assert run is not None  # noqa: S101  every top-level command of the table runs
    return await run(args)


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
    except (KeyboardInterrupt, asyncio.CancelledError):
        report_line("interrupted")
        return EXIT_INTERRUPTED
    except ValueError as exc:  # ConfigurationError, InvalidRequestError, a bad Address
        report(exc, args.debug)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001  any failure, expected or not, is one line
        report(exc, args.debug)
        return EXIT_API
    return code
