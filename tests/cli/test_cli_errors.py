"""How the ``phygitals`` command fails: one line on stderr, the documented exit code."""

from __future__ import annotations

import argparse
import io
import json
import time
from decimal import Decimal

import pytest
from support import ADDRESS, TOPPS

import phygitals_async as p
from phygitals_async.cli import _main as cli
from phygitals_async.cli._output import ProgressBar, WaitProgress, money, table
from phygitals_async.testing import LocalSandbox


def run(sandbox: LocalSandbox, *args: str) -> int:
    return cli.main([*args, "--api-key", "sandbox-cli", "--base-url", sandbox.url])


def test_order_wait_ends_at_the_timeout_with_exit_1(
    threaded: LocalSandbox, sync_client: p.Phygitals, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ship order --wait-until shipped` on a sandbox order (never ships) stops at --timeout."""
    item = sync_client.buy(TOPPS, amount=1, user_id="u1").nfts[0]
    order_id = sync_client.ship_request(
        sync_client.ship_quote([item], destination=ADDRESS).cheapest
    ).order_id
    started = time.monotonic()
    code = run(
        threaded, "ship", "order", order_id, "--wait-until", "shipped", "--timeout", "0.5",
        "--interval", "0.05", "--json",
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert code == 1
    assert 0.25 <= elapsed < 5
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"error: PollTimeoutError: gave up waiting for order {order_id} to be shipped "
        "after 0.5 s (last status: queued)\n"
    )


def test_purchase_wait_ends_at_the_timeout_with_exit_1(
    threaded: LocalSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """`buy --wait` on a purchase that stays pending stops at --timeout, naming the session."""
    threaded.production.pending_polls = 10_000
    started = time.monotonic()
    code = run(
        threaded, "buy", TOPPS, "--user", "u1", "--amount", "1", "--wait", "--timeout", "0.5",
        "--interval", "0.05",
    )  # fmt: skip
    assert code == 1
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert err.startswith("error: PollTimeoutError: gave up waiting for purchase ")
    assert err.endswith(" to be fulfilled after 0.5 s (last status: pending)\n")


def test_wait_that_succeeds_exits_0(
    threaded: LocalSandbox, sync_client: p.Phygitals, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wait whose status arrives before --timeout prints the result and exits 0."""
    threaded.production.pending_polls = 2
    assert run(
        threaded, "buy", TOPPS, "--user", "u1", "--amount", "1", "--wait", "--interval", "0.01",
    ) == 0  # fmt: skip
    assert "fulfilled, public id" in capsys.readouterr().out
    assert len(sync_client.inventory("u1").items) == 1


def test_unexpected_exception_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Any other exception: one line (newlines folded), exit 1; --debug adds the traceback."""

    async def broken(_client: object, _args: argparse.Namespace) -> int:
        msg = "something\nunforeseen"
        raise RuntimeError(msg)

    monkeypatch.setitem(cli._COMMANDS, "packs", broken)
    assert cli.main(["packs", "--sandbox-local"]) == 1
    assert capsys.readouterr().err == "error: RuntimeError: something unforeseen\n"
    assert cli.main(["packs", "--sandbox-local", "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.endswith("error: RuntimeError: something unforeseen\n")


def test_huge_error_message_is_cut(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A message of a million characters prints as one bounded line that says it was cut."""

    async def verbose(_client: object, _args: argparse.Namespace) -> int:
        raise p.PhygitalsError("x" * 1_000_000)

    monkeypatch.setitem(cli._COMMANDS, "packs", verbose)
    assert cli.main(["packs", "--sandbox-local"]) == 1
    err = capsys.readouterr().err
    assert len(err) < 2200
    assert err.count("\n") == 1
    assert err.endswith("... (998000 more characters; --debug shows all)\n")


def test_interrupt_mid_wait_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl+C while a command runs prints `interrupted` and exits 130."""

    async def interrupted(_client: object, _args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    monkeypatch.setitem(cli._COMMANDS, "packs", interrupted)
    assert cli.main(["packs", "--sandbox-local"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        ("1234.5", "$1,234.50"),
        ("1e999999999", "$1.000E+999999999"),
        ("-1e999999999", "$-1.000E+999999999"),
        ("1e-999999999", "$0.00"),
        ("NaN", "NaN"),
        ("sNaN", "sNaN"),
        ("-Infinity", "-Infinity"),
    ],
)
def test_money_is_bounded_for_absurd_amounts(amount: str, shown: str) -> None:
    """A hostile price never expands to a billion digits (it was a MemoryError) and never raises."""
    started = time.monotonic()
    assert money(Decimal(amount)) == shown
    out = io.StringIO()
    table(["price"], [(money(Decimal(amount)),)], out)
    assert shown in out.getvalue()
    assert time.monotonic() - started < 1


def test_wait_progress_redraws_and_erases_on_a_terminal() -> None:
    """The wait line says what is awaited and the last status; it is erased at the end."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    now = [100.0]
    screen = Terminal()
    progress = WaitProgress("order o1 to be shipped", 60, screen, clock=lambda: now[0])
    progress(None)
    now[0] += 3
    progress("queued")
    progress.close()
    first = "waiting for order o1 to be shipped: checking (0 s of 60 s, Ctrl+C to stop)"
    second = "waiting for order o1 to be shipped: queued (3 s of 60 s, Ctrl+C to stop)"
    assert screen.getvalue() == (f"\r{first}\r{second.ljust(len(first))}\r{' ' * len(second)}\r")
    quiet = io.StringIO()
    silent = WaitProgress("anything", 1, quiet)
    silent("queued")
    silent.close()
    assert quiet.getvalue() == ""


def test_progress_on_a_closed_terminal_never_stops_the_work() -> None:
    """A terminal that goes away mid-run turns progress off instead of raising."""

    class Gone(io.StringIO):
        def isatty(self) -> bool:
            return True

        def write(self, _text: str) -> int:
            raise BrokenPipeError

    progress = WaitProgress("x", 1, Gone())
    progress("queued")
    assert not progress.enabled
    progress.close()
    bar = ProgressBar("selling", Gone())
    bar(1, 2)
    assert not bar.enabled
    bar(2, 2)


def test_order_that_ends_cancelled_is_not_a_successful_wait(
    threaded: LocalSandbox, sync_client: p.Phygitals, capsys: pytest.CaptureFixture[str]
) -> None:
    """Waiting for `shipped` on an order that was cancelled prints it, then exits 1."""
    item = sync_client.buy(TOPPS, amount=1, user_id="u1").nfts[0]
    order_id = sync_client.ship_request(
        sync_client.ship_quote([item], destination=ADDRESS).cheapest
    ).order_id
    threaded.state.advance_order(order_id, "cancelled")
    assert run(threaded, "ship", "order", order_id, "--wait-until", "shipped", "--json") == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["status"] == "cancelled"
    assert captured.err == f"error: order {order_id} ended cancelled, not shipped\n"
    threaded.state.advance_order(order_id, "delivered")
    assert run(threaded, "ship", "order", order_id, "--wait-until", "shipped",
               "--wait-until", "delivered") == 0  # fmt: skip
