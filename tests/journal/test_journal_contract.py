"""What every built-in journal backend promises, and what a damaged job file looks like.

The SQLite file, the PostgreSQL job of a fleet and the in-memory journal of an unjournaled
run keep the same rules: a known item only learns a price, working an item again forgets
its outcome, and asking for the job before opening one is a JournalError, not an
AttributeError.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from support import TOPPS, with_job

import phygitals_async as p
from phygitals_async._journal import MemoryJournal, SqliteJournal
from phygitals_async.cli import main
from phygitals_async.testing import LocalSandbox

BASE_URL = "http://127.0.0.1:1/_"

Backend = Callable[[Path], p.Journal]


@pytest.fixture(params=["memory", "postgres", "sqlite"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each built-in backend; PostgreSQL on the session's throwaway server."""
    if request.param == "postgres":
        url = with_job(request.getfixturevalue("pg_url"), "contract")
        return lambda _: p.PostgresJournal(url)
    if request.param == "sqlite":
        return lambda tmp: SqliteJournal(tmp / "job.db")
    return lambda _: MemoryJournal()


async def test_the_job_before_opening_is_a_journal_error(backend: Backend, tmp_path: Path) -> None:
    journal = backend(tmp_path)
    with pytest.raises(p.JournalError, match="not open"):
        await journal.job()
    await journal.close()


async def test_a_known_item_only_learns_a_price(backend: Backend, tmp_path: Path) -> None:
    """Adding an item again never duplicates it; a quote it lacked is filled in, not replaced."""
    journal = backend(tmp_path)
    await journal.open(user_id="u1", base_url=BASE_URL)
    assert await journal.add_items([p.JournalItem("a"), p.JournalItem("b", Decimal("1.25"))]) == 2
    again = [p.JournalItem("a", Decimal("2.50")), p.JournalItem("b", Decimal(9))]
    assert await journal.add_items(again) == 0
    quotes = {e.item_id: e.quoted_amount async for e in journal.entries()}
    assert quotes == {"a": Decimal("2.50"), "b": Decimal("1.25")}
    await journal.close()


async def test_working_an_item_again_forgets_its_outcome(backend: Backend, tmp_path: Path) -> None:
    """A failed item begun again is pending with no amount or error, its attempts counted."""
    journal = backend(tmp_path)
    try:
        await journal.open(user_id="u1", base_url=BASE_URL)
        await journal.add_items([p.JournalItem("a", Decimal(3))])
        await journal.begin(["a"])
        await journal.settle(
            [p.JournalSettlement("a", p.JournalState.FAILED, error_type="ServerError", retry=True)]
        )
        await journal.begin(["a"])
        [entry] = [e async for e in journal.entries()]
        assert entry.state is p.JournalState.PENDING
        assert (entry.error_type, entry.retry, entry.amount, entry.settled_at) == (
            None,
            False,
            None,
            None,
        )
        assert entry.attempts == 2
        assert [e async for e in journal.entries(set())] == []  # no state asked, none read
    finally:
        await journal.close()


async def test_entries_keep_the_job_order_whatever_was_worked(
    backend: Backend, tmp_path: Path
) -> None:
    """Items worked, settled or quoted later keep their place; the memory job reads each alike."""
    journal = backend(tmp_path)
    try:
        await journal.open(user_id="u1", base_url=BASE_URL)
        await journal.add_items([p.JournalItem("a"), p.JournalItem("b"), p.JournalItem("c")])
        await journal.begin(["b"])
        await journal.settle([p.JournalSettlement("b", p.JournalState.SOLD, Decimal(2))])
        await journal.add_items([p.JournalItem("d"), p.JournalItem("a", Decimal(1))])
        entries = [e async for e in journal.entries()]
        assert [e.item_id for e in entries] == ["a", "b", "c", "d"]
        assert [e.position for e in entries] == sorted({e.position for e in entries})
        pending, sold = p.JournalState.PENDING, p.JournalState.SOLD
        assert [e.state for e in entries] == [pending, sold, pending, pending]
        assert (entries[0].quoted_amount, entries[1].amount) == (Decimal(1), Decimal(2))
        if isinstance(journal, MemoryJournal):
            assert [journal.entry(e.item_id) for e in entries] == entries
    finally:
        await journal.close()


async def test_an_in_memory_journal_has_no_job_to_read() -> None:
    with pytest.raises(p.JournalError, match="no job to read"):
        await MemoryJournal().open_for_reading()


async def test_an_sqlite_journal_names_its_file_and_is_not_usable_unopened(
    tmp_path: Path,
) -> None:
    journal = SqliteJournal(tmp_path / "job.db")
    assert repr(journal) == f"SqliteJournal({str(tmp_path / 'job.db')!r})"
    with pytest.raises(p.JournalError, match="is not open"):
        await journal.add_items([p.JournalItem("a")])
    await journal.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_a_journal_without_its_job_row_is_refused_untouched(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """Our tables but no job: JournalCorruptedError, no buyback sent, the file unchanged."""
    await client.buy(TOPPS, amount=2, user_id="u1")
    inventory = await client.inventory("u1")
    path = tmp_path / "run.db"
    await client.sell_back_many(inventory.items[:1], journal=path, user_id="u1")
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM job")
    db.close()
    before, sent = digest(path), sandbox.ledger.requests["vm/buyback"]
    with pytest.raises(p.JournalCorruptedError, match="job row is missing"):
        await client.sell_back_many(inventory, journal=path)
    assert sandbox.ledger.requests["vm/buyback"] == sent
    assert digest(path) == before


async def test_an_inventory_of_another_owner_is_refused_before_sending(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    await client.buy(TOPPS, amount=1, user_id="u1")
    inventory = await client.inventory("u1")
    with pytest.raises(p.InvalidRequestError, match="differs from the inventory's owner"):
        await client.sell_back_many(inventory, user_id="u2")
    assert sandbox.ledger.requests["vm/buyback"] == 0


def test_journal_show_of_an_empty_file_says_no_job_was_recorded(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A zero-byte file (created, never written): exit 1, and it stays empty."""
    empty = tmp_path / "empty.db"
    empty.touch()
    assert main(["journal", "show", str(empty)]) == 1
    err = capsys.readouterr().err
    assert "JournalCorruptedError" in err
    assert "no job has been recorded" in err
    assert empty.read_bytes() == b""


def test_journal_show_totals_unconfirmed_sales_at_their_quotes(
    threaded: LocalSandbox,
    sync_client: p.Phygitals,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """A sale whose answer died with a crashed run counts as unconfirmed, at its quote."""
    items = sync_client.buy(TOPPS, amount=3, user_id="u1").nfts
    path = tmp_path / "run.db"

    async def crash_after_sending_the_first() -> None:
        journal = SqliteJournal(path)
        await journal.open(user_id="u1", base_url=sync_client.base_url)
        await journal.add_items([p.JournalItem(i.id, i.buyback_price) for i in items])
        await journal.begin([items[0].id])
        await journal.close()

    asyncio.run(crash_after_sending_the_first())
    sync_client.sell_back(items[0])  # reached the server; the crashed run never heard back
    report = sync_client.sell_back_many(journal=str(path))
    assert [u.item_id for u in report.unconfirmed] == [items[0].id]

    assert main(["journal", "show", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["counts"]["unconfirmed"] == 1
    assert shown["counts"]["sold"] == 2
    assert Decimal(shown["unconfirmed_amount"]) == items[0].buyback_price
    assert Decimal(shown["confirmed_amount"]) == report.total_amount
    assert report.total_amount + report.unconfirmed_amount == threaded.ledger.amount_paid


async def test_a_final_failure_of_an_earlier_run_is_reported_as_its_class(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """Not retried on resume, and rebuilt from the file: the class it was, or one naming it.

    A class this SDK does not have (a journal written by another version, or another
    backend) is a PhygitalsError that names it, never a crash of the report.
    """
    await client.buy(TOPPS, amount=1, user_id="u1")
    path = tmp_path / "run.db"
    journal = SqliteJournal(path)
    await journal.open(user_id="u1", base_url=client.base_url)
    await journal.add_items([p.JournalItem("v1|a|0"), p.JournalItem("v1|b|0")])
    await journal.begin(["v1|a|0", "v1|b|0"])
    await journal.settle(
        [
            p.JournalSettlement(
                "v1|a|0", p.JournalState.FAILED, error_type="APIConnectionError", error_message="x"
            ),
            p.JournalSettlement(
                "v1|b|0", p.JournalState.FAILED, error_type="RetiredError", error_message="gone"
            ),
        ]
    )
    await journal.close()

    report = await client.sell_back_many(journal=path)
    assert sandbox.ledger.requests["vm/buyback"] == 0
    first, second = (f.error for f in report.failed)
    assert type(first) is p.APIConnectionError
    assert str(first) == "x"
    assert type(second) is p.PhygitalsError
    assert str(second) == "RetiredError: gone"
