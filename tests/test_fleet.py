"""The procrastinate fleet recipe, run for real: worker processes, kill -9, a replacement.

The sandbox runs in a process of its own with faults on; the job's journal and the queue
share one PostgreSQL database. The issue's 20,000-item run is ``python -m benchmarks.fleet``;
here 2,000 items keep the test well inside a minute on a small shared machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import psycopg
import pytest
from conftest import TOPPS

import phygitals_async as p
from phygitals_async.testing import TemporaryPostgres

ROOT = Path(__file__).resolve().parent.parent
FLEET = ROOT / "examples" / "procrastinate_fleet" / "fleet.py"
ITEMS = 2000
USER = "fleet"


class SandboxProcess:
    """tests/sandbox_process.py, driven over its stdin."""

    def __init__(self, seed: int) -> None:
        self.proc = subprocess.Popen(  # noqa: S603  our own script
            [sys.executable, str(ROOT / "tests" / "sandbox_process.py"), str(seed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self._line().removeprefix("URL ")

    def _line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def command(self, text: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self._line()

    def ledger(self) -> tuple[dict[str, Decimal], int]:
        data = json.loads(self.command("ledger"))
        return {k: Decimal(v) for k, v in data["sold"].items()}, int(data["executions"])

    def stop(self) -> None:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(10)
        self.proc.stdout.close()


@pytest.fixture
def sandbox_process() -> Iterator[SandboxProcess]:
    running = SandboxProcess(seed=20)
    try:
        yield running
    finally:
        running.stop()


class Fleet:
    """Worker processes of the recipe, their logs in a temporary directory."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.workers: list[subprocess.Popen[bytes]] = []
        self._files: list[IO[bytes]] = []

    def run(self, *args: str) -> None:
        subprocess.run(  # noqa: S603  our own recipe
            [sys.executable, str(FLEET), *args], env=self.env, check=True, timeout=60
        )

    def start_worker(self) -> subprocess.Popen[bytes]:
        log = (self.logs / f"worker{len(self.workers)}.log").open("wb")
        self._files.append(log)
        worker = subprocess.Popen(  # noqa: S603  our own recipe
            [sys.executable, str(FLEET), "worker", "--heartbeat", "0.5", "--stalled-after", "2"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        for log in self._files:
            log.close()


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as db:
        return db.execute(sql).fetchall()


def wait_for(what: str, check: Any, deadline: float) -> None:
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


async def stock(url: str) -> None:
    async with p.AsyncPhygitals(api_key="sandbox-local", base_url=url) as client:
        for _ in range(ITEMS // 10):
            await client.buy(TOPPS, amount=10, user_id=USER)


@pytest.mark.timeout(100)
def test_a_fleet_with_a_killed_worker_settles_every_item_once(
    postgres: TemporaryPostgres, sandbox_process: SandboxProcess, tmp_path: Path
) -> None:
    """4 workers + kill -9 + a replacement: one outcome each, ledger totals to the cent."""
    database = postgres.create_database("fleet")
    asyncio.run(stock(sandbox_process.url))
    env = {
        **os.environ,
        "FLEET_DATABASE_URL": database,
        "PHYGITALS_API_KEY": "sandbox-local",
        "PHYGITALS_BASE_URL": sandbox_process.url,
    }
    fleet = Fleet(env, tmp_path)
    fleet.run("setup")
    fleet.run("start", "--job", "eos", "--user", USER, "--shards", "4", "--lease", "3")
    assert sandbox_process.command("faults") == "ok"
    deadline = time.monotonic() + 60
    try:
        for _ in range(4):
            fleet.start_worker()

        def settled() -> int:
            return int(
                query(
                    database, "SELECT count(*) FROM phygitals_journal_item WHERE state <> 'pending'"
                )[0][0]
            )

        wait_for("a quarter of the job", lambda: settled() >= ITEMS // 4, deadline)
        holders = query(
            database, "SELECT DISTINCT worker FROM phygitals_journal_item WHERE worker IS NOT NULL"
        )
        pids = {int(w.split(":")[1]) for (w,) in holders}
        victim = next(w for w in fleet.workers if w.pid in pids)
        done_at_kill = settled()
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(10)
        fleet.start_worker()

        def finished() -> bool:
            jobs = query(database, "SELECT status FROM procrastinate_jobs")
            return len(jobs) == 4 and all(status == "succeeded" for (status,) in jobs)

        wait_for("every shard task to succeed", finished, deadline)
    finally:
        fleet.stop()
    assert done_at_kill < ITEMS  # the kill landed part way

    rows = query(
        database,
        "SELECT item_id, state, amount, quoted_amount FROM phygitals_journal_item",
    )
    assert len(rows) == ITEMS
    states = {state for _, state, _, _ in rows}
    assert "pending" not in states
    sold, executions = sandbox_process.ledger()
    assert executions == len(sold)  # the sandbox never executed a sale twice
    confirmed = {i: a for i, s, a, _ in rows if s == "sold"}
    unconfirmed = {i: q for i, s, _, q in rows if s == "unconfirmed"}
    for item_id, amount in confirmed.items():
        assert sold[item_id] == amount
    for item_id, quoted in unconfirmed.items():
        assert sold[item_id] == quoted
    assert not {i for i, s, _, _ in rows if s in {"failed", "unknown"}} & sold.keys()
    assert sum(confirmed.values()) + sum(unconfirmed.values()) == sum(sold.values())
    assert unconfirmed  # lost answers and the killed worker's sends were reconciled
    # The dead worker's shard task was taken over through procrastinate's stalled jobs.
    retried = query(
        database, "SELECT count(*) FROM procrastinate_events WHERE type = 'deferred_for_retry'"
    )
    assert retried[0][0] >= 1
