"""The shared PostgreSQL journal: atomic claims with leases, guarded settlements, clear errors.

Every test runs against a real PostgreSQL server (a throwaway one for the session).
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
import pytest_asyncio
from support import with_job

import phygitals_async as p
from phygitals_async import JournalItem, JournalSettlement, JournalState, PostgresJournal

BASE = "http://127.0.0.1:1/_"


def job_url(pg_url: str, job: str = "j1") -> str:
    return with_job(pg_url, job)


@pytest_asyncio.fixture
async def journal(pg_url: str) -> AsyncIterator[PostgresJournal]:
    j = PostgresJournal(job_url(pg_url), worker="w1")
    await j.open(user_id="u1", base_url=BASE)
    yield j
    await j.close()


def items(n: int) -> list[JournalItem]:
    return [JournalItem(f"item-{i:05d}", Decimal(i) / 4) for i in range(n)]


async def expire_leases(pg_url: str, worker: str) -> None:
    """Move a worker's leases into the past, as if it had died long enough ago."""
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as db:
        await db.execute(
            "UPDATE phygitals_journal_item SET lease_until = now() - interval '1 second'"
            " WHERE worker = %s",
            (worker,),
        )


async def test_a_job_keeps_its_items_in_order_and_reports_totals(
    journal: PostgresJournal,
) -> None:
    """Items keep the order first given; adding again is a no-op that fills missing quotes."""
    assert await journal.add_items(items(3)) == 3
    assert await journal.add_items([JournalItem("item-00001"), JournalItem("new")]) == 1
    listed = [e async for e in journal.entries()]
    assert [e.item_id for e in listed] == ["item-00000", "item-00001", "item-00002", "new"]
    assert listed[1].quoted_amount == Decimal("0.25")
    assert all(e.state is JournalState.PENDING and e.attempts == 0 for e in listed)
    assert await journal.begin(["item-00000", "item-00001", "item-00002"]) == [
        "item-00000",
        "item-00001",
        "item-00002",
    ]
    await journal.settle(
        [
            JournalSettlement("item-00000", JournalState.SOLD, amount=Decimal("10.05")),
            JournalSettlement(
                "item-00001", JournalState.UNCONFIRMED, quoted_amount=Decimal("0.25")
            ),
            JournalSettlement(
                "item-00002",
                JournalState.FAILED,
                error_type="ItemExpiredError",
                error_message="Item has expired",
                status_code=400,
            ),
        ]
    )
    await journal.flush()
    totals = await journal.totals()
    assert totals[JournalState.SOLD] == (1, Decimal("10.05"))
    assert totals[JournalState.UNCONFIRMED] == (1, Decimal("0.25"))
    assert totals[JournalState.FAILED][0] == 1
    assert totals[JournalState.PENDING][0] == 1
    failed = [e async for e in journal.entries({JournalState.FAILED})]
    assert [(e.item_id, e.error_type, e.status_code) for e in failed] == [
        ("item-00002", "ItemExpiredError", 400)
    ]
    assert (await journal.job()).user_id == "u1"


async def test_entries_stream_a_large_job_in_pages(journal: PostgresJournal) -> None:
    """A job larger than a page streams every item once, in order."""
    await journal.add_items(items(2500))
    seen = [e.item_id async for e in journal.entries({JournalState.PENDING})]
    assert seen == [f"item-{i:05d}" for i in range(2500)]


async def test_concurrent_claimers_never_get_the_same_item(pg_url: str) -> None:
    """Four claimers race over 4,000 items, 1 to 5 a claim: each item claimed exactly once."""
    url = job_url(pg_url)
    workers = [PostgresJournal(url, worker=f"w{i}") for i in range(4)]
    for w in workers:
        await w.open(user_id="u1", base_url=BASE)
    await workers[0].add_items(items(4000))
    got: dict[str, list[str]] = {w.worker: [] for w in workers}
    claims = 0

    async def run(worker: PostgresJournal, size: int) -> None:
        nonlocal claims
        while batch := await worker.claim(size):
            claims += 1
            ids = [e.item_id for e in batch]
            assert all(e.attempts == 0 for e in batch)
            got[worker.worker].extend(ids)
            await worker.settle(
                [JournalSettlement(i, JournalState.SOLD, amount=Decimal(1)) for i in ids]
            )
            size = size % 5 + 1

    try:
        await asyncio.gather(*(run(w, n + 1) for n, w in enumerate(workers)))
        claimed = [i for ids in got.values() for i in ids]
        assert len(claimed) == len(set(claimed)) == 4000
        assert claims > 1000
        assert all(len(ids) > 0 for ids in got.values()), {k: len(v) for k, v in got.items()}
        for w in workers:
            await w.flush()
        assert (await workers[0].totals())[JournalState.SOLD] == (4000, Decimal(4000))
    finally:
        for w in workers:
            await w.close()


async def test_a_dead_workers_expired_claims_go_to_another_worker_as_begun(
    pg_url: str,
) -> None:
    """Leases hold while live; once expired, the items return with their attempts counted."""
    url = job_url(pg_url)
    dead, alive = PostgresJournal(url, worker="dead"), PostgresJournal(url, worker="alive")
    await dead.open(user_id="u1", base_url=BASE)
    await alive.open(user_id="u1", base_url=BASE)
    try:
        await dead.add_items(items(4))
        claimed = await dead.claim(3)
        assert [(e.item_id, e.attempts) for e in claimed] == [
            ("item-00000", 0),
            ("item-00001", 0),
            ("item-00002", 0),
        ]
        # Held: the other worker gets only the unclaimed item, and cannot begin held ones.
        assert [e.item_id for e in await alive.claim(10)] == ["item-00003"]
        assert await alive.begin(["item-00000"]) == []
        pending, soonest = await alive.outstanding()
        assert pending == 3  # the dead worker's: this worker's own claim is not waited for
        assert soonest is not None
        assert 8 < soonest <= 10  # the default lease: a dead worker costs about 10 s
        await expire_leases(pg_url, "dead")
        retaken = await alive.claim(10)
        # Claimed is begun: each may have been sent, and comes back saying so.
        assert [(e.item_id, e.attempts) for e in retaken] == [
            ("item-00000", 1),
            ("item-00001", 1),
            ("item-00002", 1),
        ]
        # The dead worker's late answers cannot overwrite the new holder's outcomes ...
        await dead.settle(
            [
                JournalSettlement("item-00000", JournalState.FAILED, error_type="ServerError"),
                JournalSettlement("item-00001", JournalState.SOLD, amount=Decimal("7.5")),
            ]
        )
        await dead.flush()
        states = {e.item_id: e async for e in alive.entries()}
        assert states["item-00000"].state is JournalState.PENDING
        # ... except a confirmed sale, which is the API's own answer.
        assert states["item-00001"].state is JournalState.SOLD
        assert states["item-00001"].amount == Decimal("7.5")
        await alive.settle(
            [JournalSettlement("item-00001", JournalState.UNCONFIRMED, quoted_amount=Decimal(1))]
        )
        await alive.flush()
        assert {e.item_id: e.state async for e in alive.entries()}["item-00001"] == "sold"
    finally:
        await dead.close()
        await alive.close()


async def test_released_claims_are_free_at_once(journal: PostgresJournal, pg_url: str) -> None:
    """A worker stopping cleanly gives back what it claimed but never began."""
    await journal.add_items(items(3))
    claimed = [e.item_id for e in await journal.claim(3)]
    await journal.release(claimed)
    other = PostgresJournal(job_url(pg_url), worker="w2")
    await other.open(user_id="u1", base_url=BASE)
    try:
        assert [e.item_id for e in await other.claim(5)] == claimed
    finally:
        await other.close()


async def test_a_job_of_another_user_or_environment_is_refused(
    journal: PostgresJournal, pg_url: str
) -> None:
    """Reusing a job name for another owner or base URL is a clear error; nothing written."""
    with pytest.raises(p.JournalMismatchError, match="belongs to user 'u1'"):
        await PostgresJournal(job_url(pg_url)).open(user_id="u2", base_url=BASE)
    with pytest.raises(p.JournalMismatchError, match="sells through"):
        await PostgresJournal(job_url(pg_url)).open(user_id="u1", base_url="http://x/_")
    assert (await journal.job()).runs == 1


@pytest.mark.usefixtures("journal")
async def test_an_unknown_schema_version_is_refused(pg_url: str) -> None:
    """A job written by a future version is a JournalVersionError, for runs and for show."""
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as db:
        await db.execute("UPDATE phygitals_journal_job SET schema_version = 99")
    with pytest.raises(p.JournalVersionError, match="schema version 99"):
        await PostgresJournal(job_url(pg_url)).open(user_id="u1", base_url=BASE)
    with pytest.raises(p.JournalVersionError):
        await PostgresJournal(job_url(pg_url)).open_for_reading()


async def test_reading_a_missing_job_is_a_clear_error(pg_url: str) -> None:
    """``journal show`` of a job that does not exist names it, and creates nothing."""
    with pytest.raises(p.JournalError, match="no journal job 'nope'"):
        await PostgresJournal(job_url(pg_url, "nope")).open_for_reading()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_unreachable_database_is_a_clear_error_without_the_password() -> None:
    """Nothing listening: JournalUnavailableError naming the place, never the password."""
    url = f"postgresql://app:s3cr3t-pw@127.0.0.1:{closed_port()}/db?job=j"
    with pytest.raises(p.JournalUnavailableError) as caught:
        await PostgresJournal(url, connect_timeout=2).open(user_id="u", base_url=BASE)
    assert "127.0.0.1" in str(caught.value)
    assert "s3cr3t-pw" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or "s3cr3t" not in repr(caught.value.__context__)


async def test_a_wrong_password_or_database_is_a_clear_error(pg_url: str) -> None:
    """A refused login or a missing database is JournalUnavailableError, password unshown."""
    wrong = pg_url.replace("postgres:", "postgres:WRONG", 1)
    with pytest.raises(p.JournalUnavailableError, match="password authentication failed") as e:
        await PostgresJournal(with_job(wrong, "j")).open(user_id="u", base_url=BASE)
    assert "WRONG" not in str(e.value)
    missing = pg_url.split("?", maxsplit=1)[0].rsplit("/", 1)[0] + "/no_such_db?job=j"
    with pytest.raises(p.JournalUnavailableError, match="no_such_db"):
        await PostgresJournal(missing).open(user_id="u", base_url=BASE)


@pytest.mark.parametrize(
    ("url", "error", "match"),
    [
        ("postgresql://localhost/db", p.ConfigurationError, r"\?job=NAME"),
        ("postgresql://localhost/db?job=j&lease=soon", p.ConfigurationError, "lease"),
        ("postgresql://localhost/db?job=j&lease=0", p.ConfigurationError, "lease"),
        ("mysql://localhost/db?job=j", p.ConfigurationError, "postgresql://"),
    ],
)
def test_a_malformed_url_is_refused_at_once(url: str, error: type[Exception], match: str) -> None:
    """A URL without a job, with a bad lease or another scheme fails before connecting."""
    with pytest.raises(error, match=match):
        PostgresJournal(url)


async def test_an_option_libpq_does_not_know_is_a_journal_error(pg_url: str) -> None:
    """A misspelt driver option is named in a JournalError, not a driver exception."""
    with pytest.raises(p.JournalError, match="not valid"):
        await PostgresJournal(with_job(pg_url, "j", sslmdoe="off")).open(user_id="u", base_url=BASE)


async def test_retryable_outcomes_are_claimed_again_once_per_run(pg_url: str) -> None:
    """Unknown and retryable failures from earlier runs are claimed; this run's are not."""
    url = job_url(pg_url)
    first = PostgresJournal(url, worker="first")
    await first.open(user_id="u1", base_url=BASE)
    try:
        await first.add_items(items(4))
        await first.claim(4)
        await first.settle(
            [
                JournalSettlement("item-00000", JournalState.UNKNOWN, error_type="X"),
                JournalSettlement("item-00001", JournalState.FAILED, retry=True),
                JournalSettlement("item-00002", JournalState.FAILED, retry=False),
                JournalSettlement("item-00003", JournalState.SOLD, amount=Decimal(1)),
            ]
        )
        assert await first.claim(4) == []  # settled during this run: not again
    finally:
        await first.close()
    second = PostgresJournal(url, worker="second")
    await second.open(user_id="u1", base_url=BASE)
    try:
        again = await second.claim(4)
        # The claim hands out each row as it was, and leaves it pending with no outcome.
        assert [(e.item_id, e.state, e.attempts, e.error_type) for e in again] == [
            ("item-00000", JournalState.UNKNOWN, 1, "X"),
            ("item-00001", JournalState.FAILED, 1, None),
        ]
        now = {e.item_id: e async for e in second.entries()}
        for claimed in ("item-00000", "item-00001"):
            entry = now[claimed]
            assert entry.state is JournalState.PENDING
            outcome = (entry.error_type, entry.retry, entry.amount, entry.settled_at)
            assert outcome == (None, False, None, None)
    finally:
        await second.close()


async def test_lease_renewals_never_deadlock_with_settlements(pg_url: str) -> None:
    """Renewals every 0.1 s over the rows being settled in reverse order: no deadlock."""
    journal = PostgresJournal(job_url(pg_url), worker="busy", lease=0.3)
    await journal.open(user_id="u1", base_url=BASE)
    try:
        await journal.add_items(items(3000))
        while batch := await journal.claim(300):
            for entry in reversed(batch):
                await journal.settle(
                    [JournalSettlement(entry.item_id, JournalState.SOLD, amount=Decimal(1))]
                )
            await journal.flush()
        assert (await journal.totals())[JournalState.SOLD] == (3000, Decimal(3000))
    finally:
        await journal.close()


def _rows_read(plan: dict[str, Any], table: str) -> int:
    """The rows every node of an EXPLAIN ANALYZE plan read from ``table``, summed."""
    own = 0
    if plan.get("Relation Name") == table:
        own = plan["Actual Rows"] * plan["Actual Loops"]
    return own + sum(_rows_read(child, table) for child in plan.get("Plans", ()))


async def test_a_commit_reads_only_its_own_items_however_large_the_job(
    journal: PostgresJournal, pg_url: str
) -> None:
    """Settling a group looks its items up by key: it never scans the rest of the job.

    A plan that joined the group with all the job's rows made each commit cost the job's
    size (17 ms a group of 20 in a 20,000-item job, and growing with it).
    """
    from phygitals_async._journal import _postgres_sql  # noqa: PLC0415  the statement itself

    await journal.add_items(items(5_000))
    claimed = await journal.claim(20)
    rows: list[dict[str, object]] = [
        {"item_id": e.item_id, "state": "sold", "amount": "1.50", "quoted_amount": None}
        | {"error_type": None, "error_message": None, "status_code": None, "retry": False}
        for e in claimed
    ]
    async with await psycopg.AsyncConnection.connect(pg_url) as db:
        cursor = await db.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + _postgres_sql.SETTLE,
            {"job": "j1", "worker": "w1", "rows": json.dumps(rows)},
        )
        (plan,) = (await cursor.fetchone() or [[]])[0]
        await db.rollback()
    assert _rows_read(plan["Plan"], "phygitals_journal_item") <= 2 * len(rows)
