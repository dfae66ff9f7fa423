"""Bulk sellback on the shared PostgreSQL journal, against the local sandbox over loopback.

Real PostgreSQL (a throwaway server), real HTTP; the multi-process fleet is in test_fleet.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator
from decimal import Decimal
from typing import cast

import psycopg
import pytest
from support import TOPPS, with_job

import phygitals_async as p
from phygitals_async import cli
from phygitals_async.testing import Fault, LocalSandbox, TemporaryPostgres

BUSY = {"error": "A buyback request for this item is already being processed"}


async def stock(client: p.AsyncPhygitals, user_id: str, count: int) -> list[p.Item]:
    for start in range(0, count, 10):
        await client.buy(TOPPS, amount=min(10, count - start), user_id=user_id)
    return list((await client.inventory(user_id)).items)


def outcome_ids(report: p.BulkSellbackReport) -> list[str]:
    ids = [s.item_id for s in report.succeeded] + [u.item_id for u in report.unconfirmed]
    return ids + [f.item_id for f in (*report.failed, *report.unknown)]


def assert_matches_ledger(report: p.BulkSellbackReport, sandbox: LocalSandbox) -> None:
    """Each sale in the ledger once; confirmed + unconfirmed totals == paid, to the cent."""
    sold = sandbox.ledger.sold
    assert sandbox.ledger.sellback_executions == len(sold)
    for sale in report.succeeded:
        assert sold[sale.item_id] == sale.amount
    for unconfirmed in report.unconfirmed:
        assert sold[unconfirmed.item_id] == unconfirmed.quoted_amount
    assert not {f.item_id for f in report.failed} & sold.keys()
    assert not report.unknown
    assert report.total_amount + report.unconfirmed_amount == sandbox.ledger.amount_paid


async def test_a_job_on_postgres_sells_each_item_once_and_matches_the_ledger(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, pg_url: str
) -> None:
    """300 items with lost answers, 5xx and 429s: one outcome each, exact totals."""
    items = await stock(client, "pg", 300)
    for fault in (
        Fault.drop_after(route="vm/buyback", probability=0.05),
        Fault.malformed_json(route="vm/buyback", probability=0.03),
        Fault.status(503, route="vm/buyback", probability=0.03),
        Fault.status(429, route="vm/buyback", probability=0.03, retry_after=0, body=BUSY),
    ):
        sandbox.faults.add(fault)
    url = with_job(pg_url, "season-end")
    report = await client.sell_back_many(items, concurrency=8, journal=url, user_id="pg")
    assert sorted(outcome_ids(report)) == sorted(i.id for i in items)
    assert report.unconfirmed  # lost answers were settled by the inventory, not guessed
    assert_matches_ledger(report, sandbox)
    journal = p.PostgresJournal(url)
    await journal.open_for_reading()
    try:
        totals = await journal.totals()
    finally:
        await journal.close()
    assert totals[p.JournalState.SOLD] == (len(report.succeeded), report.total_amount)
    assert totals[p.JournalState.UNCONFIRMED][1] == report.unconfirmed_amount
    assert p.JournalState.PENDING not in totals


async def test_runs_sharing_a_job_split_the_work_and_both_report_all_of_it(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, pg_url: str
) -> None:
    """Two runs on one job at once: no item sent twice, and each report covers the job."""
    items = await stock(client, "pg", 200)
    sandbox.faults.add(Fault.latency(0.002, route="vm/buyback"))
    url = with_job(pg_url, "shared")
    async with sandbox.client() as other:
        first, second = await asyncio.gather(
            client.sell_back_many(items, concurrency=4, journal=url),
            other.sell_back_many(items, concurrency=4, journal=url),
        )
    assert sandbox.ledger.requests["vm/buyback"] == 200  # every item sent exactly once
    for report in (first, second):
        assert len(report.succeeded) == 200
        assert report.total_amount == sandbox.ledger.amount_paid


async def test_journal_show_reads_a_shared_job_without_showing_the_password(
    client: p.AsyncPhygitals, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``phygitals journal show postgresql://...`` prints counts and totals, not the URL."""
    items = await stock(client, "pg", 20)
    url = with_job(pg_url, "shown")
    report = await client.sell_back_many(items, journal=url)
    password = pg_url.split(":")[2].split("@", maxsplit=1)[0]
    assert await asyncio.to_thread(cli.main, ["journal", "show", url]) == 0
    out = capsys.readouterr().out
    assert "job=shown" in out
    assert str(report.total_amount) in out.replace(",", "")
    assert password not in out
    assert await asyncio.to_thread(cli.main, ["--json", "journal", "show", url]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["counts"]["sold"] == 20
    assert Decimal(shown["confirmed_amount"]) == report.total_amount
    assert len(shown["items"]) == 20


@pytest.mark.parametrize("problem", ["unreachable", "wrong password", "no job"])
async def test_a_bad_journal_database_sends_nothing(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, pg_url: str, problem: str
) -> None:
    """An unreachable database, a refused login or no job name: a JournalError, nothing sent."""
    items = await stock(client, "pg", 5)
    before = sum(sandbox.ledger.requests.values())
    url = {
        "unreachable": "postgresql://u:pw@127.0.0.1:9/db?job=j",
        "wrong password": with_job(pg_url.replace("postgres:", "postgres:x", 1), "j"),
        "no job": pg_url,
    }[problem]
    with pytest.raises((p.JournalError, p.ConfigurationError)):
        await client.sell_back_many(items, journal=url)
    assert sum(sandbox.ledger.requests.values()) == before


async def test_resuming_a_job_name_that_does_not_exist_is_an_error(
    client: p.AsyncPhygitals, pg_url: str
) -> None:
    """A worker resuming (no items) a misspelt job name fails instead of finding no work."""
    with pytest.raises(p.JournalError, match="nothing to resume"):
        await client.sell_back_many(journal=with_job(pg_url, "typo"))


async def test_a_database_going_away_stops_the_run_and_a_rerun_settles_everything(
    sandbox: LocalSandbox, client: p.AsyncPhygitals
) -> None:
    """The server stops mid-job: JournalUnavailableError; after it is back, none is lost."""
    items = await stock(client, "pg", 400)
    sandbox.faults.add(Fault.latency(0.005, route="vm/buyback"))
    with TemporaryPostgres() as server:
        url = with_job(server.create_database("gone"), "j")
        stopped = asyncio.Event()

        def progress(done: int, _total: int) -> None:
            if done >= 120 and not stopped.is_set():
                stopped.set()

        run = asyncio.ensure_future(
            client.sell_back_many(
                items, concurrency=8, journal=url, on_progress=progress, user_id="pg"
            )
        )
        await asyncio.wait_for(stopped.wait(), 30)
        await asyncio.to_thread(server.stop, "immediate")
        with pytest.raises(p.JournalUnavailableError, match="unavailable"):
            await asyncio.wait_for(run, 30)
        sold_before = len(sandbox.ledger.sold)
        assert 120 <= sold_before < 400
        await asyncio.to_thread(server.start)
        # The stopped run could not give its claims back: let their leases run out now.
        async with await psycopg.AsyncConnection.connect(url.split("?")[0]) as db:
            await db.execute("UPDATE phygitals_journal_item SET lease_until = now()")
        report = await client.sell_back_many(journal=url)
    assert sorted(outcome_ids(report)) == sorted(i.id for i in items)
    assert_matches_ledger(report, sandbox)


async def test_a_run_left_early_gives_its_claims_back_at_once(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, pg_url: str
) -> None:
    """Leaving iter_sell_back early frees what the worker held: no one waits for a lease."""
    items = await stock(client, "pg", 60)
    sandbox.faults.add(Fault.latency(0.01, route="vm/buyback"))
    url = with_job(pg_url, "left")
    seen = 0
    run = client.iter_sell_back(items, concurrency=8, journal=url, user_id="pg")
    # An async generator: closing it at once, not when it is collected, frees its claims.
    async with contextlib.aclosing(cast("AsyncGenerator[object, None]", run)) as outcomes:
        async for _ in outcomes:
            seen += 1
            if seen == 10:
                break
    other = p.PostgresJournal(url, worker="next")
    await other.open(user_id="pg", base_url=client.base_url)
    try:
        taken = await other.claim(100)
        assert len(taken) >= 60 - seen - 8  # all that is left is free now
        assert await other.outstanding() == (0, None)  # and nobody else holds any
        assert any(e.attempts > 0 for e in taken)  # the interrupted ones say they were begun
    finally:
        await other.close()
