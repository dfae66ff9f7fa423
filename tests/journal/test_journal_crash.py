"""Crashes of a journaled bulk sellback, with real processes: kill -9, Ctrl+C, reruns.

The sandbox runs in its own process (``crash_sandbox.py``), with faults injected into
buybacks, so it outlives each client that is killed and its ledger says what was really
sold. A job of 2,000 items is killed at random points of its progress (read from the
journal as it is written), rerun after each kill, and finally run to completion.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support.journal_runs import (
    SCRIPTS,
    Sandbox,
    cli,
    interruptible,
    settled_in,
    start_sandbox,
    wait_for,
)

ITEMS = 2000
KILLS = 10
STEP = 10.0  # seconds any one step may take before the test gives up


@pytest.fixture
def crash_sandbox() -> Iterator[Sandbox]:
    yield from start_sandbox("crash", ITEMS, "--faults", "--latency", "0.002")


def killed_at(argv: list[str], journal: Path, target: int, sig: int) -> int:
    """Start a run, signal it once the journal shows ``target`` settled items; its exit code."""
    with subprocess.Popen(  # noqa: S603  our own interpreter and script
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as process:
        what = f"{target} settled items"
        wait_for(what, lambda: settled_in(journal) >= target, STEP * 3, running=process)
        process.send_signal(sig)
        try:
            return process.wait(timeout=STEP)
        finally:
            process.kill()


def completed(argv: list[str]) -> dict[str, Any]:
    """Run to completion and return the JSON it printed."""
    done = subprocess.run(  # noqa: S603  our own interpreter and script
        argv, capture_output=True, text=True, timeout=STEP * 3, check=False
    )
    assert done.returncode in {0, 3}, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def job_rows(journal: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(journal) as db:
        rows = db.execute("SELECT item_id, state FROM items ORDER BY position").fetchall()
    db.close()
    return [(str(a), str(b)) for a, b in rows]


def assert_books_balance(report: dict[str, Any], journal: Path, sandbox: Sandbox) -> None:
    """Every item one final outcome, none pending, none sold twice, totals to the cent."""
    rows = job_rows(journal)
    assert len(rows) == ITEMS
    assert not [item for item, state in rows if state == "pending"]
    ids = [item for item, _ in rows]
    outcomes = [
        *report["succeeded"],
        *report["unconfirmed"],
        *report["failed"],
        *report["unknown"],
    ]
    assert sorted(outcomes) == sorted(ids)
    ledger = ledger_now = sandbox.ledger()
    sold = {item: Decimal(amount) for item, amount in ledger["sold"].items()}
    assert ledger_now["executions"] == len(sold)  # a second sale never executes
    for item, amount in report["succeeded"].items():
        assert sold[item] == Decimal(amount)
    for item, quoted in report["unconfirmed"].items():
        assert sold[item] == Decimal(quoted)  # sandbox prices are frozen: quoted == paid
    assert not set(report["failed"]) & sold.keys()
    paid = Decimal(report["total_amount"]) + Decimal(report["unconfirmed_amount"])
    assert paid == sum(sold.values(), Decimal(0))
    assert report["unknown"] == []


def run_until_settled(argv: list[str]) -> dict[str, Any]:
    """Rerun until nothing is unknown (each run checks the last one's unknowns again)."""
    report = completed(argv)
    for _ in range(3):
        if not report["unknown"]:
            break
        report = completed(argv)
    return report


def kill_points(seed: int) -> list[int]:
    """Increasing settled-item counts at which to kill, the first before any settlement."""
    rng = random.Random(seed)  # noqa: S311  repeatable kill points
    points, at = [0], 0
    while len(points) < KILLS:
        at += rng.randrange(20, 120)
        points.append(at)
    return points


@pytest.mark.timeout(240)
def test_python_job_killed_at_ten_points_completes_exactly(
    crash_sandbox: Sandbox, tmp_path: Path
) -> None:
    """SIGKILL at ten points, rerun with the original list, today's inventory or nothing."""
    journal = tmp_path / "job.db"

    def job(mode: str, user: str = "crash") -> list[str]:
        script = str(SCRIPTS / "crash_job.py")
        return [sys.executable, script, crash_sandbox.url, str(journal), user, mode]

    modes = ["original", "inventory", "none"]
    for n, target in enumerate(kill_points(seed=1)):
        assert killed_at(job(modes[n % 3]), journal, target, signal.SIGKILL) == -signal.SIGKILL
    assert 0 < settled_in(journal) < ITEMS
    report = run_until_settled(job("original"))
    assert_books_balance(report, journal, crash_sandbox)
    assert report["resumed"] > 0

    before = crash_sandbox.ledger()
    other = subprocess.run(  # noqa: S603  our own interpreter and script
        job("none", "someone-else"), capture_output=True, timeout=STEP * 3, check=False
    )
    assert other.returncode == 1
    assert b"JournalMismatchError" in other.stderr
    assert crash_sandbox.ledger() == before  # nothing was sent


def as_report(data: dict[str, Any]) -> dict[str, Any]:
    """The CLI's --json report in the shape assert_books_balance reads."""
    return {
        "succeeded": {s["item_id"]: s["amount"] for s in data["succeeded"]},
        "unconfirmed": {u["item_id"]: u["quoted_amount"] for u in data["unconfirmed"]},
        "failed": {f["item_id"]: f["error"]["type"] for f in data["failed"]},
        "unknown": [f["item_id"] for f in data["unknown"]],
        "total_amount": data["total_amount"],
        "unconfirmed_amount": data["unconfirmed_amount"],
        "resumed": data["resumed"],
    }


@pytest.mark.timeout(240)
def test_cli_job_killed_at_ten_points_completes_exactly(
    crash_sandbox: Sandbox, tmp_path: Path
) -> None:
    """`phygitals sellback --all --journal F`, killed ten times, then rerun to the end."""
    journal = tmp_path / "job.db"
    for target in kill_points(seed=2):
        code = killed_at(cli(crash_sandbox, journal), journal, target, signal.SIGKILL)
        assert code == -signal.SIGKILL
    report = as_report(run_until_settled(cli(crash_sandbox, journal)))
    assert_books_balance(report, journal, crash_sandbox)


@pytest.mark.timeout(120)
def test_ctrl_c_exits_130_sells_nothing_more_and_the_rerun_completes(
    crash_sandbox: Sandbox, tmp_path: Path
) -> None:
    """SIGINT: exit 130; at most the requests in flight still land; the rerun finishes."""
    journal = tmp_path / "job.db"
    with interruptible(cli(crash_sandbox, journal), stdout=subprocess.DEVNULL) as process:
        wait_for("200 settled items", lambda: settled_in(journal) >= 200, STEP * 3, running=process)
        process.send_signal(signal.SIGINT)
        at_signal = crash_sandbox.ledger()["buybacks"]
        try:
            assert process.wait(timeout=STEP) == 130
        finally:
            process.kill()
        assert process.stderr is not None
        assert "interrupted" in process.stderr.read()
    assert crash_sandbox.ledger()["buybacks"] <= at_signal + 8  # concurrency 8
    assert 0 < settled_in(journal) < ITEMS
    report = as_report(run_until_settled(cli(crash_sandbox, journal)))
    assert_books_balance(report, journal, crash_sandbox)
