"""The procrastinate fleet recipe, run for real: worker processes, kill -9, a replacement.

The sandbox runs in a process of its own with faults on; the job's journal and the queue
share one PostgreSQL database. The issue's 20,000-item run is ``python -m benchmarks.fleet``;
here 2,000 items keep the test well inside a minute on a small shared machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from support.fleet_harness import SandboxProcess, run_fleet_with_kill, stock

from phygitals_async.testing import TemporaryPostgres

ITEMS = 2000


@pytest.fixture
def sandbox_process() -> Iterator[SandboxProcess]:
    running = SandboxProcess(seed=20)
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.timeout(100)
def test_a_fleet_with_a_killed_worker_settles_every_item_once(
    postgres: TemporaryPostgres, sandbox_process: SandboxProcess, tmp_path: Path
) -> None:
    """4 workers + kill -9 + a replacement: one outcome each, ledger totals to the cent."""
    database = postgres.create_database("fleet")
    asyncio.run(stock(sandbox_process.url, "fleet", ITEMS))
    run = run_fleet_with_kill(database, sandbox_process, tmp_path, items=ITEMS, timeout=75)
    assert run.settled_at_kill < ITEMS  # the kill landed part way
    assert len(run.rows) == ITEMS
    assert "pending" not in {state for _, state, _, _ in run.rows}
    assert run.executions == len(run.sold)  # the sandbox never executed a sale twice
    confirmed = {i: a for i, s, a, _ in run.rows if s == "sold" and a is not None}
    unconfirmed = {i: q for i, s, _, q in run.rows if s == "unconfirmed" and q is not None}
    assert len(confirmed) + len(unconfirmed) == len(run.sold)
    for item_id, amount in confirmed.items():
        assert run.sold[item_id] == amount
    for item_id, quoted in unconfirmed.items():
        assert run.sold[item_id] == quoted
    assert not {i for i, s, _, _ in run.rows if s in {"failed", "unknown"}} & run.sold.keys()
    paid = sum(run.sold.values(), Decimal(0))
    assert sum(confirmed.values(), Decimal(0)) + sum(unconfirmed.values(), Decimal(0)) == paid
    assert unconfirmed  # lost answers and the killed worker's sends were reconciled
    assert run.takeovers >= 1  # the dead worker's shard task ran again elsewhere
