"""Processes for fleet tests and benchmarks: a sandbox over stdin, recipe workers, queries."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import attrs
import psycopg

import phygitals_async as p

ROOT = Path(__file__).resolve().parents[2]
FLEET = ROOT / "examples" / "procrastinate_fleet" / "fleet.py"
TOPPS = "BSG6DyEihFFtfvxtL9mKYsvTwiZXB1rq5gARMTJC2xAM"


class SandboxProcess:
    """tests/support/sandbox_process.py, driven over its stdin."""

    def __init__(self, seed: int) -> None:
        self.proc = subprocess.Popen(  # noqa: S603  our own script
            [sys.executable, str(ROOT / "tests" / "support" / "sandbox_process.py"), str(seed)],
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
    """Poll ``check`` until true; TimeoutError naming ``what`` past ``deadline``."""
    while not check():
        if time.monotonic() > deadline:
            msg = f"timed out waiting for {what}"
            raise TimeoutError(msg)
        time.sleep(0.05)


async def stock(url: str, user_id: str, count: int) -> None:
    """Buy ``count`` items (a multiple of 10) for ``user_id`` from the sandbox at ``url``."""
    async with p.AsyncPhygitals(api_key="sandbox-local", base_url=url) as client:
        for _ in range(count // 10):
            await client.buy(TOPPS, amount=10, user_id=user_id)


@attrs.frozen
class FleetRun:
    """What a fleet run left: the journal's rows, the sandbox's ledger, timings."""

    rows: list[tuple[str, str, Decimal | None, Decimal | None]]  # id, state, amount, quoted
    sold: dict[str, Decimal]
    executions: int
    settled_at_kill: int
    takeovers: int
    seconds: float


def run_fleet_with_kill(
    database: str,
    sandbox: SandboxProcess,
    logs: Path,
    *,
    items: int,
    user_id: str = "fleet",
    workers: int = 4,
    lease: float = 3.0,
    timeout: float = 60.0,
) -> FleetRun:
    """The recipe end to end: start a job, run workers, kill -9 one part way, replace it.

    The sandbox must hold ``items`` items of ``user_id``; its faults are turned on once
    the job is recorded. Returns when every shard task has succeeded.
    """
    env = {
        **os.environ,
        "FLEET_DATABASE_URL": database,
        "PHYGITALS_API_KEY": "sandbox-local",
        "PHYGITALS_BASE_URL": sandbox.url,
    }
    fleet = Fleet(env, logs)
    fleet.run("setup")
    shards = str(workers)
    fleet.run("start", "--job", "eos", "--user", user_id, "--shards", shards, "--lease", str(lease))
    if sandbox.command("faults") != "ok":
        msg = "the sandbox process did not take the faults"
        raise RuntimeError(msg)
    started = time.monotonic()
    deadline = started + timeout

    def settled() -> int:
        sql = "SELECT count(*) FROM phygitals_journal_item WHERE state <> 'pending'"
        return int(query(database, sql)[0][0])

    def finished() -> bool:
        jobs = query(database, "SELECT status FROM procrastinate_jobs")
        return len(jobs) == workers and all(status == "succeeded" for (status,) in jobs)

    try:
        for _ in range(workers):
            fleet.start_worker()
        wait_for("a quarter of the job", lambda: settled() >= items // 4, deadline)
        holders = query(
            database, "SELECT DISTINCT worker FROM phygitals_journal_item WHERE worker IS NOT NULL"
        )
        pids = {int(w.split(":")[1]) for (w,) in holders}
        victim = next(w for w in fleet.workers if w.pid in pids)
        at_kill = settled()
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(10)
        fleet.start_worker()
        wait_for("every shard task to succeed", finished, deadline)
        seconds = time.monotonic() - started
    finally:
        fleet.stop()
    rows = query(
        database, "SELECT item_id, state, amount, quoted_amount FROM phygitals_journal_item"
    )
    sold, executions = sandbox.ledger()
    # procrastinate records a stalled job put back to do as 'deferred_for_retry'.
    sql = "SELECT count(*) FROM procrastinate_events WHERE type = 'deferred_for_retry'"
    takeovers = int(query(database, sql)[0][0])
    return FleetRun(
        [(str(r[0]), str(r[1]), r[2], r[3]) for r in rows],
        sold,
        executions,
        at_kill,
        takeovers,
        seconds,
    )
