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
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest
from support import TOPPS
from support.journal_runs import writers_of_this_process

import phygitals_async as p
from phygitals_async._bulk._handed import Handed
from phygitals_async._journal import JournalSettlement, SqliteJournal
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

    At concurrency 2 there are 4 workers and room for 4 sales to wait for their commit;
    each worker hands its last one over beyond that and waits: at most 4 + 4 - 1 sales
    are answered and not committed. It ends with every item sold once the writer goes on.
    """
    inventory = await stocked(client, 40)
    path = tmp_path / "job.db"
    stopped: list[int] = []
    committed: list[int] = []  # sales in the journal when the writer stopped
    first = asyncio.Event()

    def progress(done: int, _: int) -> None:
        if done and not stopped:
            (pid,) = writers_of_this_process()
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
            committed.append(sold_in_journal(path))
            first.set()

    run = asyncio.ensure_future(
        client.sell_back_many(inventory, journal=path, concurrency=2, on_progress=progress)
    )
    try:
        await asyncio.wait_for(first.wait(), BOUND)
        await asyncio.sleep(0.5)  # time for sales to pile up, were nothing holding them
        sold = len(sandbox.ledger.sold_for("u1"))
        assert sold - committed[0] <= 4 + 4 - 1
        assert not run.done()
    finally:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    report = await asyncio.wait_for(run, BOUND)
    assert len(report.succeeded) == 40
    assert sold_in_journal(path) == 40


def sale(item_id: str) -> p.Sellback:
    return p.Sellback(item_id, Decimal("1.00"))


async def test_a_failed_write_stops_the_run_before_its_turn_to_be_reported() -> None:
    """A write that fails is known at once, though an earlier one is still being made."""
    loop = asyncio.get_running_loop()
    writes = [loop.create_future(), loop.create_future()]
    handed_over = iter(writes)
    failures: list[p.JournalError] = []
    lost: list[str] = []
    reported: list[str] = []

    async def report(sold: p.Sellback) -> None:
        reported.append(sold.item_id)

    handed = Handed(
        lambda _: next(handed_over),
        report,
        lambda settlement, _: lost.append(settlement.item_id),
        failures.append,
        room=10,
    )
    reporting = asyncio.ensure_future(handed.run())
    await handed.hand(sale("a"))
    await asyncio.sleep(0)  # the turn ends: "a" goes to the journal
    await handed.hand(sale("b"))
    await asyncio.sleep(0)
    writes[1].set_exception(p.JournalError("disk full"))
    await asyncio.sleep(0)
    assert [str(f) for f in failures] == ["disk full"]
    assert reported == lost == []  # "a" is not durable yet: nothing is reported before it
    writes[0].set_result(None)
    handed.close()
    await asyncio.wait_for(reporting, BOUND)
    assert reported == ["a"]
    assert lost == ["b"]


async def test_a_reporter_that_ends_early_leaves_no_worker_waiting_for_room() -> None:
    """The report raising (a JournalError from on_progress, say) releases the workers."""
    write = asyncio.get_running_loop().create_future()

    async def report(_: p.Sellback) -> None:
        raise p.JournalError("on_progress could not write")

    handed = Handed(lambda _: write, report, lambda *_: None, lambda _: None, room=1)
    reporting = asyncio.ensure_future(handed.run())
    worker = asyncio.ensure_future(handed.hand(sale("a")))  # past the room: it waits
    await asyncio.sleep(0)
    assert not worker.done()
    write.set_result(None)
    with pytest.raises(p.JournalError, match="on_progress"):
        await asyncio.wait_for(reporting, BOUND)
    await asyncio.wait_for(worker, BOUND)


async def test_a_journal_that_overrides_settle_sees_every_sale(
    client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """A subclass auditing settle() is not bypassed by the hand-over of sales."""
    seen: list[str] = []

    class Audited(SqliteJournal):
        async def settle(self, settlements: Sequence[JournalSettlement]) -> None:
            seen.extend(s.item_id for s in settlements)
            await super().settle(settlements)

    inventory = await stocked(client, 10)
    report = await client.sell_back_many(inventory, journal=Audited(tmp_path / "job.db"))
    assert len(report.succeeded) == 10
    assert sorted(seen) == sorted(item.id for item in inventory.items)


async def test_a_journal_whose_settle_is_wrapped_sees_every_sale(
    client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """The same for settle() replaced on the journal object itself."""
    seen: list[str] = []
    journal = SqliteJournal(tmp_path / "job.db")
    settle = journal.settle

    async def audited(settlements: Sequence[JournalSettlement]) -> None:
        seen.extend(s.item_id for s in settlements)
        await settle(settlements)

    journal.settle = audited  # type: ignore[method-assign]
    inventory = await stocked(client, 10)
    report = await client.sell_back_many(inventory, journal=journal)
    assert len(report.succeeded) == 10
    assert sorted(seen) == sorted(item.id for item in inventory.items)


async def test_what_a_reporter_that_ended_early_left_is_named_if_its_write_fails() -> None:
    """Sales left unreported are not lost silently: those whose write fails are named."""
    loop = asyncio.get_running_loop()
    writes = [loop.create_future() for _ in range(3)]
    handed_over = iter(writes)
    lost: list[str] = []

    async def report(_: p.Sellback) -> None:
        raise p.JournalError("on_progress could not write")

    handed = Handed(
        lambda _: next(handed_over),
        report,
        lambda settlement, _: lost.append(settlement.item_id),
        lambda _: None,
        room=10,
    )
    reporting = asyncio.ensure_future(handed.run())
    await handed.hand(sale("a1"))
    await handed.hand(sale("a2"))
    await asyncio.sleep(0)  # the first write: a1 and a2
    await handed.hand(sale("b1"))
    await asyncio.sleep(0)  # the second: b1
    writes[0].set_result(None)
    with pytest.raises(p.JournalError, match="on_progress"):
        await asyncio.wait_for(reporting, BOUND)  # at a1: a2 is durable, unreported
    await handed.hand(sale("c1"))  # a worker's last sale, after the reporter ended
    handed.close()  # the third write: c1
    writes[1].set_exception(p.JournalError("disk full"))
    writes[2].set_exception(p.JournalError("disk full"))
    await asyncio.wait_for(handed.drain(), BOUND)
    assert lost == ["b1", "c1"]
