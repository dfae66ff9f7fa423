"""Sales handed to the journal as they are answered: reported once durable, never piled up.

A journaled run's workers do not wait for each sale's commit; these cases hold what that
must not change: progress counts only what the journal holds, and a journal that stalls
(its writer stopped, as on a hung disk) holds the run back instead of letting answered
sales pile up uncommitted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
from pathlib import Path

from support import TOPPS
from support.journal_runs import writers_of_this_process

import phygitals_async as p
from phygitals_async.testing import LocalSandbox

BOUND = 20.0  # seconds: each case ends well within it, or it failed


async def stocked(client: p.AsyncPhygitals, count: int) -> p.Inventory:
    for _ in range(count // 10):  # at most 10 packs a purchase
        await client.buy(TOPPS, amount=10, user_id="u1")
    return await client.inventory("u1")


def sold_in_journal(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        (count,) = db.execute("SELECT count(*) FROM items WHERE state = 'sold'").fetchone()
    return int(count)


async def test_progress_counts_only_sales_the_journal_holds(
    client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    inventory = await stocked(client, 30)
    path = tmp_path / "job.db"
    ahead: list[tuple[int, int]] = []

    def progress(done: int, _: int) -> None:
        held = sold_in_journal(path) if done else 0
        if held < done:
            ahead.append((done, held))

    report = await client.sell_back_many(
        inventory, journal=path, concurrency=4, on_progress=progress
    )
    assert len(report.succeeded) == 30
    assert ahead == []


async def test_a_stalled_journal_holds_the_run_back(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """The writer stopped after the first commit: a few more sales, then the run waits.

    At concurrency 2 there are 4 workers, and at most 4 sales wait for their commit: the
    run may finish the requests it has sent and hand their sales over, then stops sending
    until the journal takes them. It ends with every item sold once the writer goes on.
    """
    inventory = await stocked(client, 40)
    path = tmp_path / "job.db"
    stopped: list[int] = []
    first = asyncio.Event()

    def progress(done: int, _: int) -> None:
        if done and not stopped:
            (pid,) = writers_of_this_process()
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
            first.set()

    run = asyncio.ensure_future(
        client.sell_back_many(inventory, journal=path, concurrency=2, on_progress=progress)
    )
    try:
        await asyncio.wait_for(first.wait(), BOUND)
        await asyncio.sleep(0.5)  # time for sales to pile up, were nothing holding them
        sold = len(sandbox.ledger.sold_for("u1"))
        # The first commit's sales, 4 waiting for the next one, 2 requests in flight.
        assert sold <= 12
        assert not run.done()
    finally:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    report = await asyncio.wait_for(run, BOUND)
    assert len(report.succeeded) == 40
    assert sold_in_journal(path) == 40
