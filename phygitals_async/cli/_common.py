"""What every ``phygitals`` command shares: global options, exit codes, waits, one-line errors.

Exit codes: 0 ok; 1 the command failed (an API error, no connection, a wait that reached
``--timeout``, anything unexpected); 2 usage error (bad arguments or configuration); 3 some
items of a bulk sellback failed; 130 interrupted (Ctrl+C); 141 stdout was closed before the
output was written (``phygitals ... | head``), as the shell reports for a tool stopped by
SIGPIPE.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import signal
import sys
import traceback
from collections.abc import Iterator
from typing import TypeVar

from .._config import API_KEY_ENV, BASE_URL_ENV, DEFAULT_TIMEOUT
from .._errors import PollTimeoutError
from .._polling import Poll
from .._version import __version__
from ._output import WaitProgress, colour

__all__ = [
    "DEFAULT_TIMEOUT",
    "EXIT_API",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_PIPE",
    "EXIT_USAGE",
    "CommandError",
    "Formatter",
    "discard_stdout",
    "global_options",
    "report",
    "report_line",
    "seconds",
    "watch",
]

T = TypeVar("T")

EXIT_OK, EXIT_API, EXIT_USAGE, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_PIPE = 141  # 128 + SIGPIPE: what the shell reports for `seq 1000000 | head -1`

# An error message longer than this is cut on the terminal (--debug prints all of it).
_MAX_ERROR_LINE = 2000


def seconds(text: str) -> float:
    """An argparse type: a finite number of seconds greater than zero."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        msg = f"expected a number of seconds > 0, such as 30 or 0.5, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def global_options(*, top_level: bool) -> argparse.ArgumentParser:
    """The options every command takes, before or after its name.

    The top-level parser holds the defaults. Each subcommand gets a copy whose defaults are
    SUPPRESS: argparse copies a subparser's namespace over the top-level one, so a real
    default there would reset ``phygitals --json packs`` to no JSON.
    """
    unset: object = None if top_level else argparse.SUPPRESS
    off: object = False if top_level else argparse.SUPPRESS

    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("global options (before or after the command)")
    group.add_argument(
        "--api-key",
        metavar="KEY",
        default=unset,
        help="partner API key; keys starting with 'sandbox-' use the sandbox "
        f"(default: ${API_KEY_ENV})",
    )
    group.add_argument(
        "--base-url",
        metavar="URL",
        default=unset,
        help=f"the API's URL (default: ${BASE_URL_ENV}, else chosen from the key)",
    )
    group.add_argument(
        "--timeout",
        type=seconds,
        metavar="SECONDS",
        default=unset,
        help=f"deadline of each API call, and of the whole wait of 'buy --wait' and "
        f"'ship order --wait-until'; 'sandbox' serves this long "
        f"(default: {DEFAULT_TIMEOUT:g}; sandbox: until Ctrl+C)",
    )
    group.add_argument(
        "--sandbox-local",
        action="store_true",
        default=off,
        help="run against a local sandbox started in this process, no key needed (default: off)",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=off,
        help="print exact JSON on stdout instead of tables (default: off)",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=off,
        help="as PHYGITALS_LOG=debug: each request and answer on stderr (secrets scrubbed),"
        " and tracebacks of errors (default: off)",
    )
    group.add_argument(
        "--version",
        action="version",
        version=f"phygitals {__version__}",
        help="print the version and exit",
    )
    return parent


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' layout; a wider help column than argparse's 24 characters."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


class CommandError(Exception):
    """A failure the command explains in one line of its own (exit code 1)."""


async def watch(poll: Poll[T], what: str, args: argparse.Namespace) -> T:
    """Await ``poll``, saying on a terminal what it waits for and the last status seen."""
    progress = WaitProgress(what, args.timeout)

    async def redraw() -> None:
        while True:
            progress(_status_text(poll.last_status))
            await asyncio.sleep(0.5)

    ticker = asyncio.create_task(redraw()) if progress.enabled else None
    try:
        return await poll
    except PollTimeoutError as exc:
        last = _status_text(exc.last_status) or "no answer yet"
        msg = f"gave up waiting for {what} after {args.timeout:g} s (last status: {last})"
        raise PollTimeoutError(msg, last_status=exc.last_status) from exc
    finally:
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        progress.close()


def _status_text(status: object) -> str | None:
    if status is None:
        return None
    return str(getattr(status, "status", "fulfilled"))


def discard_stdout() -> None:
    """Point stdout at devnull so the interpreter's final flush cannot fail again.

    The reader went away (``| head``): like other Unix tools the command ends quietly.
    """
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def report(exc: BaseException, debug: bool) -> None:
    """``error: Class: message`` as one line on stderr; with ``debug`` the traceback first.

    Newlines in the message are folded; a message longer than a screenful is cut (the cut
    comes first, so a message of many megabytes costs no time).
    """
    if debug:
        with contextlib.suppress(OSError):
            traceback.print_exception(exc)
    raw = str(exc)
    if debug or len(raw) <= _MAX_ERROR_LINE:
        text = " ".join(raw.split())
    else:
        text = " ".join(raw[:_MAX_ERROR_LINE].split())
        text += f"... ({len(raw) - _MAX_ERROR_LINE} more characters; --debug shows all)"
    name = "" if isinstance(exc, CommandError) else f"{type(exc).__name__}: "
    report_line(f"{name}{text}", prefix="error: ")


def report_line(text: str, prefix: str = "") -> None:
    """Write one line on stderr; ``prefix`` is red on a terminal that accepts colour."""
    if prefix and colour(sys.stderr):
        prefix = f"\x1b[1;31m{prefix.rstrip()}\x1b[0m "
    with contextlib.suppress(OSError, ValueError):  # stderr itself may be closed
        sys.stderr.write(f"{prefix}{text}\n")
        sys.stderr.flush()


@contextlib.contextmanager
def draining_on_interrupt() -> Iterator[asyncio.Event]:
    """Ctrl+C sets the event (stop starting work, finish what was sent); again, aborts.

    The first SIGINT only sets the returned event, so a bulk sellback lets the requests
    already sent finish and commits their outcomes; the second cancels the command at
    once, and any later one is an ordinary KeyboardInterrupt. Installed from the start of
    the command, so no SIGINT is lost while it starts up or opens its journal.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    stop = asyncio.Event()
    before = signal.getsignal(signal.SIGINT)  # asyncio.run's own handler, put back after

    def interrupted() -> None:
        if not stop.is_set():
            stop.set()
            report_line("interrupted: finishing the sellbacks in flight (Ctrl+C again to abort)")
            return
        loop.remove_signal_handler(signal.SIGINT)
        if callable(before):
            # asyncio.run's own handler: it cancels the command and makes asyncio.run
            # raise KeyboardInterrupt (exit 130); a third Ctrl+C raises at once.
            signal.signal(signal.SIGINT, before)
            before(signal.SIGINT, None)
        elif task is not None:
            task.cancel()

    if before is signal.SIG_IGN:  # started to ignore Ctrl+C (`cmd &`): keep ignoring it
        yield stop
        return
    try:
        loop.add_signal_handler(signal.SIGINT, interrupted)
    except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover  not POSIX
        yield stop
        return
    try:
        yield stop
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        if before is not None:
            signal.signal(signal.SIGINT, before)
