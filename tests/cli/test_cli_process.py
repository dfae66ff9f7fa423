"""The ``phygitals`` command as a real process: pipes closed early, terminals, busy ports."""
# ruff: noqa: S603  every process started here runs this package's own CLI with fixed arguments

from __future__ import annotations

import contextlib
import os
import pty
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import ADDRESS, TOPPS

import phygitals_async as p
from phygitals_async import __version__
from phygitals_async.testing import LocalSandbox

CLI = [sys.executable, "-m", "phygitals_async.cli"]
BOUND = 30  # seconds: no process here may run longer


def against(sandbox: LocalSandbox, *args: str) -> list[str]:
    return [*CLI, *args, "--api-key", "sandbox-cli", "--base-url", sandbox.url]


@pytest.fixture
def order_id(sync_client: p.Phygitals) -> str:
    """A sandbox order: it stays queued forever, so waiting for `shipped` always times out."""
    item = sync_client.buy(TOPPS, amount=1, user_id="u1").nfts[0]
    quote = sync_client.ship_quote([item], destination=ADDRESS)
    return sync_client.ship_request(quote.cheapest).order_id


@pytest.mark.parametrize("argv", [["--sandbox-local", "packs"], ["demo", "--json"]], ids=" ".join)
def test_stdout_closed_before_the_first_write_exits_141_quietly(argv: list[str]) -> None:
    """A reader that is already gone: no traceback, nothing on stderr, exit 141 (SIGPIPE)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [*CLI, *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=BOUND,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode == 141


def test_reader_closing_mid_output_exits_141_quietly(
    threaded: LocalSandbox, sync_client: p.Phygitals
) -> None:
    """`phygitals ... | head -1`: the reader takes one line and leaves; the command ends quietly."""
    for _ in range(12):  # 120 items: far more JSON than a pipe buffer holds
        sync_client.buy(TOPPS, amount=10, user_id="u1")
    with subprocess.Popen(
        against(threaded, "inventory", "u1", "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as writer:
        assert writer.stdout is not None
        assert writer.stdout.readline() == b"{\n"
        writer.stdout.close()  # the reader leaves, as `head -1` does
        _, err = writer.communicate(timeout=BOUND)
    assert err == b""
    assert writer.returncode == 141


def test_the_whole_output_read_exits_0(threaded: LocalSandbox) -> None:
    """The same command read to the end exits 0: 141 only means the output was cut short."""
    done = subprocess.run(
        against(threaded, "packs", "--json"),
        capture_output=True,
        timeout=BOUND,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, b"")
    assert b"Topps Chrome 2024" in done.stdout


def test_sandbox_on_a_busy_port_is_one_line_and_exit_1() -> None:
    """`phygitals sandbox --port <busy>`: one line naming the port, no traceback, exit 1."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*CLI, "sandbox", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=BOUND,
            check=False,
        )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"error: port {port} on 127.0.0.1 is already in use; "
        "choose another with --port (0 picks a free one)\n"
    )


def test_installed_command_prints_its_version() -> None:
    """The `phygitals` console script that `pip install` made answers --version."""
    script = Path(sys.executable).with_name("phygitals")
    done = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=BOUND, check=False
    )
    assert (done.returncode, done.stdout) == (0, f"phygitals {__version__}\n")


def run_on_terminal(argv: list[str], **env: str) -> tuple[int, str, str]:
    """Run ``argv`` with stderr on a pseudo-terminal; return (exit code, stdout, terminal)."""
    controller, terminal = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "TERM"}}
    with subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
        env={**environment, "TERM": "xterm", **env},
    ) as process:
        os.close(terminal)
        screen = b""
        deadline = time.monotonic() + BOUND
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.1)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the process closed its end of the terminal
                break
            if not chunk:
                break
            screen += chunk
        assert process.stdout is not None
        out = process.stdout.read().decode()
        code = process.wait(timeout=BOUND)
    with contextlib.suppress(OSError):
        os.close(controller)
    return code, out, screen.decode()


def test_wait_shows_what_it_waits_for_on_a_terminal(threaded: LocalSandbox, order_id: str) -> None:
    """On a terminal the wait draws a status line, erases it, then the coloured error."""
    argv = against(
        threaded, "ship", "order", order_id, "--wait-until", "shipped", "--timeout", "1",
        "--interval", "0.1",
    )  # fmt: skip
    code, out, screen = run_on_terminal(argv)
    assert (code, out) == (1, "")
    assert f"waiting for order {order_id} to be shipped: " in screen
    assert "s of 1 s, Ctrl+C to stop)" in screen
    assert "\x1b[1;31merror:\x1b[0m PollTimeoutError: gave up waiting for" in screen


def test_no_color_keeps_the_terminal_free_of_colour(threaded: LocalSandbox, order_id: str) -> None:
    """NO_COLOR: the same wait on a terminal, progress still drawn, no escape sequences."""
    argv = against(
        threaded, "ship", "order", order_id, "--wait-until", "shipped", "--timeout", "0.5",
        "--interval", "0.1",
    )  # fmt: skip
    code, _, screen = run_on_terminal(argv, NO_COLOR="1")
    assert code == 1
    assert "waiting for order" in screen
    assert "\x1b" not in screen
    assert "error: PollTimeoutError: gave up waiting for" in screen


def test_wait_without_a_terminal_prints_only_the_error(
    threaded: LocalSandbox, order_id: str
) -> None:
    """Piped or logged, a wait draws nothing: stderr holds only the one-line outcome."""
    done = subprocess.run(
        against(
            threaded, "ship", "order", order_id, "--wait-until", "shipped", "--timeout", "0.5",
            "--interval", "0.1",
        ),
        capture_output=True,
        text=True,
        timeout=BOUND,
        check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"error: PollTimeoutError: gave up waiting for order {order_id} to be shipped "
        "after 0.5 s (last status: queued)\n"
    )
