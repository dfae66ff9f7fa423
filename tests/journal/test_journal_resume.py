"""Resuming a journaled job: whatever the rerun is given, the whole job, never a guess."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest
from support import TOPPS

import phygitals_async as p
from phygitals_async._journal._sqlite import SqliteJournal
from phygitals_async.cli import main
from phygitals_async.testing import Fault, LocalSandbox


async def stocked(client: p.AsyncPhygitals, user: str, count: int) -> p.Inventory:
    for start in range(0, count, 10):
        await client.buy(TOPPS, amount=min(10, count - start), user_id=user)
    return await client.inventory(user)


async def crashed_job(
    client: p.AsyncPhygitals, path: Path, items: Sequence[p.Item], owner: str | None, sent: int
) -> None:
    """What a run killed mid-flight leaves: the job, four items begun, no answer recorded.

    The first ``sent`` of the begun items reached the server and sold.
    """
    journal = SqliteJournal(path)
    await journal.open(user_id=owner, base_url=client.base_url)
    await journal.add_items([p.JournalItem(i.id, i.buyback_price) for i in items])
    await journal.begin([i.id for i in items[:4]])
    for item in items[:sent]:
        await client.sell_back(item)
    await journal.close()


async def test_a_crashed_runs_sales_are_reported_unconfirmed_with_their_quotes(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """Begun and sold before the crash: the resend is refused, the inventory says sold."""
    items = (await stocked(client, "u1", 8)).items
    path = tmp_path / "run.db"
    await crashed_job(client, path, items, "u1", sent=2)
    report = await client.sell_back_many(journal=path)  # nothing given: the job alone
    assert report.unconfirmed == tuple(
        p.UnconfirmedSellback(i.id, i.buyback_price) for i in items[:2]
    )
    assert [s.item_id for s in report.succeeded] == [i.id for i in items[2:]]
    assert report.total_amount == sum((i.buyback_price for i in items[2:]), Decimal(0))
    assert report.unconfirmed_amount == sum((i.buyback_price for i in items[:2]), Decimal(0))
    assert report.total_amount + report.unconfirmed_amount == sandbox.ledger.amount_paid
    assert sandbox.ledger.sellback_executions == 8  # each item sold exactly once
    assert report.ok


async def test_a_rerun_says_once_how_it_settled_a_crashed_runs_sends(
    client: p.AsyncPhygitals, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The crash lost two answers: the rerun settles them quietly, in one INFO line."""
    items = (await stocked(client, "u1", 6)).items
    path = tmp_path / "run.db"
    await crashed_job(client, path, items, "u1", sent=2)
    caplog.set_level(logging.DEBUG, logger="phygitals_async")
    report = await client.sell_back_many(journal=path)
    assert len(report.unconfirmed) == 2
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert [r.getMessage() for r in caplog.records if "reconciled (" in r.getMessage()] == [
        "bulk sellback: 2 lost answers reconciled (2 sold, amount unconfirmed)"
    ]


async def test_without_an_owner_a_refused_resend_stays_unknown_until_one_is_known(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """No owner, no inventory to read: unknown, not guessed; a rerun with the owner settles."""
    items = (await stocked(client, "u1", 5)).items
    path = tmp_path / "run.db"
    await crashed_job(client, path, items, None, sent=1)
    first = await client.sell_back_many([i.id for i in items], journal=path)
    assert [f.item_id for f in first.unknown] == [items[0].id]
    assert isinstance(first.unknown[0].error, p.OutcomeUnknownError)
    assert "no owner" in str(first.unknown[0].error)
    assert len(first.succeeded) == 4
    assert not first.ok

    second = await client.sell_back_many(journal=path, user_id="u1")  # the job adopts u1
    assert second.unconfirmed == (p.UnconfirmedSellback(items[0].id, items[0].buyback_price),)
    assert second.unknown == ()
    assert second.resumed == 4
    assert sandbox.ledger.sellback_executions == 5


async def test_a_never_begun_item_that_is_gone_fails_instead_of_counting_as_sold(
    client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """No buyback was ever begun for it, so "Item not found" is a plain failure."""
    items = (await stocked(client, "u1", 6)).items
    path = tmp_path / "run.db"
    await crashed_job(client, path, items, "u1", sent=0)
    await client.sell_back(items[5])  # sold by someone else, outside the job
    report = await client.sell_back_many(journal=path)
    assert [(f.item_id, type(f.error)) for f in report.failed] == [
        (items[5].id, p.ItemNotFoundError)
    ]
    assert report.unconfirmed == ()
    assert len(report.succeeded) == 5


async def cancelled_halfway(
    client: p.AsyncPhygitals, sandbox: LocalSandbox, items: p.Inventory, path: Path
) -> None:
    sandbox.faults.add(Fault.latency(0.005, route="vm/buyback"))
    halfway = asyncio.Event()

    def progress(done: int, _total: int) -> None:
        if done >= 20:
            halfway.set()

    job = asyncio.ensure_future(
        client.sell_back_many(items, concurrency=4, journal=path, on_progress=progress)
    )
    await halfway.wait()
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    sandbox.faults.clear()


@pytest.mark.parametrize("rerun_with", ["original", "inventory", "nothing"])
async def test_a_rerun_reports_the_whole_job_whatever_it_is_given(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path, rerun_with: str
) -> None:
    """Original list, today's smaller inventory, or no items: the same whole-job report."""
    inventory = await stocked(client, "u1", 50)
    path = tmp_path / "run.db"
    await cancelled_halfway(client, sandbox, inventory, path)
    sold_before = len(sandbox.ledger.sold)
    assert 20 <= sold_before < 50
    given = {
        "original": inventory,
        "inventory": await client.inventory("u1"),
        "nothing": None,
    }[rerun_with]
    progress: list[tuple[int, int]] = []
    report = await client.sell_back_many(
        given, journal=path, on_progress=lambda d, t: progress.append((d, t))
    )
    assert report.total == 50
    sold = [s.item_id for s in report.succeeded] + [u.item_id for u in report.unconfirmed]
    assert sorted(sold) == sorted(i.id for i in inventory.items)
    assert report.resumed >= 20
    assert progress[0] == (report.resumed, 50)
    assert progress[-1] == (50, 50)
    assert report.total_amount + report.unconfirmed_amount == sandbox.ledger.amount_paid
    assert sandbox.ledger.sellback_executions == 50
    for sale in report.succeeded:
        assert sandbox.ledger.sold[sale.item_id] == sale.amount
    assert [s.item_id for s in report.succeeded] == [
        i.id for i in inventory.items if i.id in {s.item_id for s in report.succeeded}
    ]  # job order


async def test_items_a_rerun_adds_join_the_job(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """A completed job refuses items it never had, before sending; extend=True adds them."""
    first = (await stocked(client, "u1", 3)).items
    path = tmp_path / "run.db"
    await client.sell_back_many(first, journal=path, user_id="u1")
    more = (await client.buy(TOPPS, amount=2, user_id="u1")).nfts
    with pytest.raises(p.JournalCompletedError, match="extend=True"):
        await client.sell_back_many([*first, *more], journal=path)
    assert sandbox.ledger.sellback_executions == 3
    again = await client.sell_back_many(first, journal=path)  # the same job: fine
    assert again.resumed == 3
    assert again.this_run == p.RunTotals()
    report = await client.sell_back_many(more, journal=path, extend=True)
    assert [s.item_id for s in report.succeeded] == [i.id for i in (*first, *more)]
    assert report.resumed == 3
    assert report.this_run.sold == 2
    assert report.this_run.total_amount == sum(i.buyback_price for i in more)
    assert sandbox.ledger.sellback_executions == 5


async def test_resuming_a_missing_journal_is_an_error(
    client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """No items and no such journal: a typo, not an empty job; nothing is created."""
    with pytest.raises(p.InvalidRequestError, match="no job to resume"):
        await client.sell_back_many(journal=tmp_path / "typo.db")
    assert not (tmp_path / "typo.db").exists()


class Watched(SqliteJournal):
    """A journal that checks, at each begin, that none of the items was sent yet."""

    def __init__(self, path: Path, sandbox: LocalSandbox) -> None:
        super().__init__(path)
        self.sandbox = sandbox
        self.begun: list[str] = []
        self.closed = False

    async def begin(self, item_ids: Sequence[str]) -> Sequence[str]:
        assert not set(item_ids) & self.sandbox.ledger.sold.keys()
        self.begun += item_ids
        return await super().begin(item_ids)

    async def close(self) -> None:
        self.closed = True
        await super().close()


async def test_a_journal_object_is_begun_before_each_request_and_closed(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """A journal object works like a path; every item is begun before it is sold."""
    items = (await stocked(client, "u1", 30)).items
    journal = Watched(tmp_path / "run.db", sandbox)
    assert isinstance(journal, p.Journal)
    report = await client.sell_back_many(items, concurrency=4, journal=journal)
    assert len(report.succeeded) == 30
    assert sorted(journal.begun) == sorted(i.id for i in items)
    assert journal.closed


async def test_iter_sell_back_resumes_the_job_with_no_items(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """The iterator yields the earlier runs' outcomes first, then settles the rest."""
    inventory = await stocked(client, "u1", 30)
    path = tmp_path / "run.db"
    await cancelled_halfway(client, sandbox, inventory, path)
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT item_id FROM items WHERE state = 'sold' ORDER BY position")
        settled_before = [row[0] for row in rows]
    db.close()
    assert len(settled_before) >= 20
    outcomes = [o async for o in client.iter_sell_back(journal=path)]
    assert [o.item_id for o in outcomes[: len(settled_before)]] == settled_before
    assert sorted(o.item_id for o in outcomes) == sorted(i.id for i in inventory.items)
    assert all(isinstance(o, p.Sellback | p.UnconfirmedSellback) for o in outcomes)
    assert sandbox.ledger.sellback_executions == 30


def test_journal_show_prints_counts_totals_and_every_item(
    threaded: LocalSandbox,
    sync_client: p.Phygitals,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """`phygitals journal show F` counts by state; with --json, every item too."""
    items = sync_client.buy(TOPPS, amount=3, user_id="u1").nfts
    threaded.production.fail_sellbacks.add(items[0].id)
    path = str(tmp_path / "run.db")
    report = sync_client.sell_back_many(items, journal=path, user_id="u1")
    assert main(["journal", "show", path]) == 0
    out = capsys.readouterr().out
    assert "schema version 1, user u1" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    assert rows["sold"] == ["2", f"${report.total_amount:,.2f}"]
    assert rows["failed"] == ["1"]
    assert rows["pending"] == ["0"]
    assert rows["total"] == ["3"]

    assert main(["journal", "show", path, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["counts"] == {"pending": 0, "sold": 2, "unconfirmed": 0, "failed": 1, "unknown": 0}
    assert Decimal(shown["confirmed_amount"]) == report.total_amount
    assert [i["item_id"] for i in shown["items"]] == [i.id for i in items]
    assert shown["items"][0]["error_type"] == "TransactionFailedError"
    assert shown["user_id"] == "u1"
    assert main(["--json", "journal", "show", path]) == 0
    assert json.loads(capsys.readouterr().out) == shown


def test_journal_show_of_a_bad_file_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A missing file is a usage error (2), a foreign one exit 1; the file is unchanged."""
    assert main(["journal", "show", str(tmp_path / "none.db")]) == 2
    assert "JournalNotFoundError" in capsys.readouterr().err
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"\x00" * 64)
    assert main(["journal", "show", str(bad)]) == 1
    assert "JournalCorruptedError" in capsys.readouterr().err
    assert bad.read_bytes() == b"\x00" * 64


def test_the_cli_resumes_a_job_from_the_journal_alone(
    threaded: LocalSandbox,
    sync_client: p.Phygitals,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """`sellback --journal F` with nothing else reports the job and sends nothing new."""
    items = sync_client.buy(TOPPS, amount=2, user_id="u1").nfts
    path = str(tmp_path / "run.db")
    args = ["--api-key", "sandbox-cli", "--base-url", threaded.url, "sellback"]
    assert main([*args, items[0].id, items[1].id, "--journal", path]) == 0
    capsys.readouterr()
    sent = threaded.ledger.requests["vm/buyback"]
    assert main([*args, "--journal", path]) == 0
    assert "sold 2, failed 0" in capsys.readouterr().out
    assert threaded.ledger.requests["vm/buyback"] == sent
    assert main([*args, "--journal", str(tmp_path / "typo.db")]) == 2
    assert "no job to resume" in capsys.readouterr().err


def test_the_blocking_client_resumes_with_no_items(
    threaded: LocalSandbox, sync_client: p.Phygitals, tmp_path: Path
) -> None:
    """Phygitals.sell_back_many(journal=path) resumes the job like the async client."""
    items = sync_client.buy(TOPPS, amount=3, user_id="u1").nfts
    path = tmp_path / "run.db"
    threaded.faults.add(Fault.status(503, route="vm/buyback", count=1))
    first = sync_client.sell_back_many(items, journal=path, user_id="u1", concurrency=1)
    assert [type(f.error) for f in first.failed] == [p.ServerError]
    again = sync_client.sell_back_many(journal=path)
    assert len(again.succeeded) == 3
    assert again.resumed == 2
    assert again.total_amount == threaded.ledger.amount_paid
