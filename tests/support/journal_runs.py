"""Journaled runs in processes of their own, against the crash sandbox, read from outside.

The sandbox (``crash_sandbox.py``) runs in a process of its own, so it outlives the runs a
test kills, and its ledger says what was really sold. The tests start runs (the command
line, the jobs of this folder), wait on their journals' progress, and signal them.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).parent  # the jobs and the sandbox run as processes
STEP = 15.0  # seconds a wait for a run's progress may take before the test gives up
ANSWER = 10.0  # seconds the sandbox may take to answer, or to end once killed


class Sandbox:
    """The sandbox process: its URL, its ledger, and the door it can hold shut."""

    def __init__(self, process: subprocess.Popen[str], port: int, user: str) -> None:
        self.process = process
        self.user = user  # whose items it stocks
        self.root = f"http://127.0.0.1:{port}"
        self.url = self.root + "/_"

    def ledger(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.root + "/_ledger", timeout=ANSWER) as answer:  # noqa: S310
            data: dict[str, Any] = json.loads(answer.read())
        return data

    def hold(self, on: bool) -> None:
        request = urllib.request.Request(  # noqa: S310  our loopback sandbox
            f"{self.root}/_hold?on={int(on)}", method="POST"
        )
        with urllib.request.urlopen(request, timeout=ANSWER):  # noqa: S310
            pass


def start_sandbox(
    user: str, items: int, *options: str, env: dict[str, str] | None = None
) -> Generator[Sandbox, None, None]:
    """The sandbox, ``user`` stocked with ``items`` items, until the generator is closed."""
    script = str(SCRIPTS / "crash_sandbox.py")
    with subprocess.Popen(  # noqa: S603  our own interpreter and script
        [sys.executable, script, "--user", user, "--items", str(items), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # dropped connections are logged there
        text=True,
        env=env,
    ) as process:
        try:
            assert process.stdout is not None
            yield Sandbox(process, int(process.stdout.readline()), user)
        finally:
            process.kill()
            process.wait(timeout=ANSWER)


def wait_for(
    what: str,
    check: Callable[[], bool],
    timeout: float = STEP,
    *,
    running: subprocess.Popen[Any] | None = None,
) -> None:
    """Wait until ``check()`` holds; fail after ``timeout`` s, or once ``running`` ends."""
    deadline = time.monotonic() + timeout
    while not check():
        assert running is None or running.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def kill_at_random(
    argv: list[str],
    journal: str | Path,
    kills: int,
    seed: int,
    *,
    env: dict[str, str] | None = None,
    strict: bool = True,
) -> None:
    """Start the run ``argv`` ``kills`` times, each ``kill -9``-ed 20 to 80 settlements in.

    The kill points repeat with ``seed``. A run that does not get that far within ``STEP``
    fails the caller, or with ``strict=False`` is killed where it is.
    """
    rng = random.Random(seed)  # noqa: S311  repeatable kill points
    for _ in range(kills):
        target = settled_in(journal) + rng.randrange(20, 80)
        with subprocess.Popen(  # noqa: S603  our own interpreter and script
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        ) as process:
            try:
                if strict:
                    wait_for("progress", lambda: settled_in(journal) >= target)  # noqa: B023
                else:
                    deadline = time.monotonic() + STEP
                    while settled_in(journal) < target and time.monotonic() < deadline:
                        time.sleep(0.01)
            finally:
                process.kill()
                process.wait(timeout=STEP)


def sqlite_states(journal: str | Path) -> dict[str, tuple[str, str | None]]:
    """item_id -> (state, amount), read-only; empty before the journal exists."""
    try:
        db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=0.5)
        try:
            rows = db.execute("SELECT item_id, state, amount FROM items").fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return {}
    return {item: (state, amount) for item, state, amount in rows}


def settled(states: dict[str, tuple[str, str | None]]) -> int:
    """How many of the items are settled (no longer pending)."""
    return sum(state != "pending" for state, _ in states.values())


def settled_in(journal: str | Path) -> int:
    """How many of the job's items the SQLite journal shows settled (0 before it exists)."""
    return settled(sqlite_states(journal))


def cli(sandbox: Sandbox, journal: str | Path) -> list[str]:
    """``phygitals sellback --user USER --all --journal JOURNAL`` as a process's argv."""
    return [
        sys.executable,
        "-m",
        "phygitals_async.cli",
        "--api-key",
        "sandbox-crash",
        "--base-url",
        sandbox.url,
        "--json",
        "sellback",
        "--user",
        sandbox.user,
        "--all",
        "--journal",
        str(journal),
        "--concurrency",
        "8",
    ]


def ctrl_c_at_default() -> None:
    """In a child about to start: Ctrl+C at its default, whatever the test run inherited.

    A process started in the background by a non-interactive shell (a CI runner) has
    SIGINT ignored, and its children would too: the signals these tests send would do
    nothing.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interruptible(
    argv: list[str], *, stdout: int = subprocess.PIPE, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start ``argv`` with Ctrl+C at its default, its stderr (and stdout) piped as text.

    ``env`` is the child's whole environment; by default, this one.
    """
    return subprocess.Popen(  # noqa: S603  our own interpreter and script
        argv,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=ctrl_c_at_default,  # noqa: PLW1509  a signal setting, nothing else
    )


def children_running(word: bytes) -> list[int]:
    """This process's children (not yet reaped) whose command line holds ``word``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == os.getpid() and word in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def writers_of_this_process() -> list[int]:
    """The pids of this process's journal writer processes (not yet reaped)."""
    return children_running(b"_writer_main.py")
