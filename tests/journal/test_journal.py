"""The SQLite journal: what it records, and journals it refuses before anything is sent."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from support import TOPPS
from support.journal_runs import writers_of_this_process

import phygitals_async as p
from phygitals_async._journal import _sqlite_sql as journal_sql
from phygitals_async._journal._sqlite import SCHEMA_VERSION, SqliteJournal
from phygitals_async.testing import LocalSandbox


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(params=["process", "thread"])
def writer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The journal's commits made by its writer process, or (as in a frozen app) its thread."""
    if request.param == "thread":
        monkeypatch.setattr(sys, "frozen", True, raising=False)
    return str(request.param)


async def stocked(client: p.AsyncPhygitals, user: str = "u1", count: int = 3) -> p.Inventory:
    await client.buy(TOPPS, amount=count, user_id=user)
    return await client.inventory(user)


async def refused(
    client: p.AsyncPhygitals, sandbox: LocalSandbox, journal: Path, error: type[Exception]
) -> pytest.ExceptionInfo[Exception]:
    """The run raises ``error`` with no buyback sent."""
    inventory = await stocked(client)
    before = sandbox.ledger.requests["vm/buyback"]
    with pytest.raises(error) as caught:
        await client.sell_back_many(inventory, journal=journal)
    assert sandbox.ledger.requests["vm/buyback"] == before
    return caught


async def test_a_directory_is_refused(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """A directory is not a journal: JournalError, nothing sent."""
    caught = await refused(client, sandbox, tmp_path, p.JournalError)
    assert "is a directory" in str(caught.value)


async def test_a_missing_directory_is_refused(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """A journal in a directory that does not exist: JournalError, nothing created."""
    await refused(client, sandbox, tmp_path / "nowhere" / "run.db", p.JournalError)
    assert not (tmp_path / "nowhere").exists()


async def test_an_unopenable_path_is_refused(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """A path that cannot be opened (a symlink loop): JournalError, nothing sent."""
    loop = tmp_path / "loop.db"
    loop.symlink_to(loop)
    await refused(client, sandbox, loop, p.JournalError)


async def test_a_fifo_is_refused_without_blocking(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """A named pipe would block the first read: JournalError at once, nothing sent."""
    fifo = tmp_path / "pipe.db"
    os.mkfifo(fifo)
    caught = await refused(client, sandbox, fifo, p.JournalError)
    assert "not a regular file" in str(caught.value)


async def test_a_file_that_is_not_sqlite_is_refused_untouched(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """A text file: JournalCorruptedError, and the file is not changed."""
    path = tmp_path / "notes.txt"
    path.write_text("not a journal\n" * 10)
    before = digest(path)
    await refused(client, sandbox, path, p.JournalCorruptedError)
    assert digest(path) == before
    assert not (tmp_path / "notes.txt-wal").exists()


async def test_another_sqlite_database_is_refused_untouched(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """An SQLite database of something else: JournalCorruptedError, unchanged."""
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (name TEXT)")
    db.close()
    before = digest(path)
    caught = await refused(client, sandbox, path, p.JournalCorruptedError)
    assert "not a sellback journal" in str(caught.value)
    assert digest(path) == before


async def a_finished_job(client: p.AsyncPhygitals, path: Path, user: str = "u1") -> None:
    inventory = await stocked(client, user, 2)
    await client.sell_back_many(inventory, journal=path)


async def test_a_corrupted_journal_is_refused_untouched(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """Garbage over a journal's pages: JournalCorruptedError, the file left as it is."""
    path = tmp_path / "run.db"
    await a_finished_job(client, path)
    data = bytearray(path.read_bytes())
    data[100:] = b"\xa5" * (len(data) - 100)  # keep the header, wreck every page
    path.write_bytes(bytes(data))
    before = digest(path)
    await refused(client, sandbox, path, p.JournalCorruptedError)
    assert digest(path) == before


def alter(path: Path, statement: str) -> None:
    """Change a journal file behind the SDK's back, with SQLite itself."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(statement)
        db.commit()


async def test_a_journal_missing_its_job_table_is_corrupted(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """A table gone from a journal is damage (JournalCorruptedError), not "cannot open"."""
    path = tmp_path / "run.db"
    await a_finished_job(client, path)
    alter(path, "DROP TABLE job")
    caught = await refused(client, sandbox, path, p.JournalCorruptedError)
    assert "no such table" in str(caught.value)


async def test_an_unknown_schema_version_is_refused_untouched(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """A journal from a later version of the SDK: JournalVersionError, unchanged."""
    path = tmp_path / "run.db"
    await a_finished_job(client, path)
    alter(path, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = digest(path)
    caught = await refused(client, sandbox, path, p.JournalVersionError)
    assert f"schema version {SCHEMA_VERSION + 1}" in str(caught.value)
    assert digest(path) == before


async def test_a_journal_of_another_user_is_refused_untouched(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """A job for u1 reused for u2: JournalMismatchError, nothing sent, file unchanged."""
    path = tmp_path / "run.db"
    await a_finished_job(client, path, "u1")
    before = digest(path)
    inventory = await stocked(client, "u2")
    with pytest.raises(p.JournalMismatchError, match="'u1'"):
        await client.sell_back_many(inventory, journal=path)
    with pytest.raises(p.JournalMismatchError):
        await client.sell_back_many(journal=path, user_id="u2")
    assert len(sandbox.ledger.sold) == 2
    assert digest(path) == before


async def test_a_journal_of_another_environment_is_refused(
    client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """A job run against one API URL cannot be resumed against another."""
    path = tmp_path / "run.db"
    await a_finished_job(client, path)
    async with LocalSandbox(seed=5) as elsewhere, elsewhere.client() as other:
        with pytest.raises(p.JournalMismatchError, match="is a job for"):
            await other.sell_back_many(journal=path)
        assert elsewhere.ledger.requests["vm/buyback"] == 0


async def test_journal_errors_are_phygitals_errors() -> None:
    """Every journal error is a PhygitalsError, reachable from the package."""
    for cls in (p.JournalCorruptedError, p.JournalVersionError, p.JournalMismatchError):
        assert issubclass(cls, p.JournalError)
    assert issubclass(p.JournalError, p.PhygitalsError)


async def test_the_file_records_the_job(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path, writer: str
) -> None:
    """The job's owner, URL, version and each item's state, amount and attempts.

    Written by the journal's writer process, or by its thread where none can start.
    """
    path = tmp_path / "run.db"
    inventory = await stocked(client, "u1", 3)
    sandbox.production.fail_sellbacks.add(inventory.items[2].id)
    writers: set[int] = set()
    await client.sell_back_many(
        inventory, journal=path, on_progress=lambda *_: writers.add(len(writers_of_this_process()))
    )
    assert writers == ({1} if writer == "process" else {0})
    with sqlite3.connect(path) as db:
        job = db.execute("SELECT schema_version, base_url, user_id, runs FROM job").fetchone()
        rows = db.execute(
            "SELECT item_id, state, quoted_amount, amount, error_type, attempts FROM items"
            " ORDER BY position"
        ).fetchall()
    db.close()
    assert job == (SCHEMA_VERSION, client.base_url, "u1", 1)
    first, second, third = inventory.items
    price = str
    assert rows == [
        (first.id, "sold", price(first.buyback_price), price(first.buyback_price), None, 1),
        (second.id, "sold", price(second.buyback_price), price(second.buyback_price), None, 1),
        (third.id, "failed", price(third.buyback_price), None, "TransactionFailedError", 1),
    ]


@pytest.mark.parametrize("one_statement", [True, False], ids=["json", "row-by-row"])
async def test_entries_stream_in_pages_and_filter_by_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_statement: bool
) -> None:
    """Thousands of items come back in job order, a page at a time, filtered by state.

    Both ways of writing are checked: one statement per batch (SQLite 3.38 and later) and
    one per row (older SQLite).
    """
    monkeypatch.setattr(journal_sql, "JSON", one_statement)
    journal = SqliteJournal(tmp_path / "big.db")
    await journal.open(user_id=None, base_url="http://127.0.0.1:1/_")
    ids = [f"v1|{n}|0" for n in range(1500)]
    assert await journal.add_items([p.JournalItem(i, Decimal("1.50")) for i in ids]) == 1500
    assert await journal.add_items([p.JournalItem(ids[0]), p.JournalItem("new")]) == 1
    await journal.begin(ids[:700])
    await journal.settle(
        [p.JournalSettlement(i, p.JournalState.SOLD, amount=Decimal("1.50")) for i in ids[:600]]
    )
    failure = p.JournalSettlement(
        ids[0], p.JournalState.FAILED, error_type="ServerError", status_code=503, retry=True
    )
    await journal.settle([failure, p.JournalSettlement(ids[0], p.JournalState.SOLD, Decimal(2))])
    seen = [e.item_id async for e in journal.entries()]
    assert seen == [*ids, "new"]
    pending = [e async for e in journal.entries({p.JournalState.PENDING})]
    assert [e.item_id for e in pending] == [*ids[600:], "new"]
    assert [e.attempts for e in pending[:100]] == [1] * 100
    assert pending[100].attempts == 0
    assert pending[100].begun_at is None
    await journal.close()
    await journal.close()  # twice is fine

    reread = SqliteJournal(tmp_path / "big.db")
    job = await reread.open_for_reading()
    assert (job.user_id, job.runs) == (None, 1)
    sold = [e async for e in reread.entries({p.JournalState.SOLD})]
    assert len(sold) == 600  # settlements were written by close
    assert sold[0].amount == Decimal(2)  # the last settlement of an item wins
    assert (sold[0].error_type, sold[0].status_code, sold[0].retry) == (None, None, False)
    assert sold[1].amount == Decimal("1.50")
    assert sold[1].quoted_amount == Decimal("1.50")
    assert sold[0].settled_at is not None
    await reread.close()


async def test_reading_a_missing_journal_creates_nothing(tmp_path: Path) -> None:
    """open_for_reading never creates a file."""
    journal = SqliteJournal(tmp_path / "absent.db")
    with pytest.raises(p.JournalError, match="does not exist"):
        await journal.open_for_reading()
    await journal.close()
    assert not (tmp_path / "absent.db").exists()


async def test_resuming_an_empty_file_is_refused_untouched(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """A 0-byte file holds no job: a run with no items refuses it, as a missing file."""
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(p.JournalNotFoundError, match="is empty"):
        await client.sell_back_many(journal=empty)
    assert empty.stat().st_size == 0
    assert not (tmp_path / "empty.db.lock").exists()
    assert sandbox.ledger.requests["vm/buyback"] == 0
    inventory = await stocked(client)  # with items, an empty file starts a new job
    report = await client.sell_back_many(inventory, journal=empty)
    assert len(report.succeeded) == 3


async def test_a_busy_journal_names_a_holder_that_has_just_locked_it(tmp_path: Path) -> None:
    """The holder writes itself down just after locking: the refusal still names it."""
    path = tmp_path / "run.db"
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    late = threading.Timer(0.01, os.pwrite, (fd, b'{"pid": 7, "host": "h", "since": "s"}', 0))
    late.start()
    journal = SqliteJournal(path)
    try:
        with pytest.raises(p.JournalBusyError, match="pid 7 on h, since s"):
            await journal.open(user_id=None, base_url="https://api.phygitals.com/_")
    finally:
        late.join()
        await journal.close()
        os.close(fd)


@pytest.fixture
def read_only_copy(tmp_path: Path) -> Iterator[Callable[[Path], Path]]:
    """Copies of journals under a read-only bind mount (a read-only file system)."""
    source, mounted = tmp_path / "rw", tmp_path / "ro"
    source.mkdir()
    mounted.mkdir()
    mount = ["mount", "--bind", str(source), str(mounted)]
    if subprocess.run(mount, capture_output=True, check=False).returncode:  # noqa: S603
        pytest.skip("a read-only mount needs root with CAP_SYS_ADMIN")
    try:
        remount = ["mount", "-o", "remount,ro,bind", str(mounted)]
        subprocess.run(remount, capture_output=True, check=True)  # noqa: S603

        def copy(journal: Path) -> Path:
            shutil.copy(journal, source / journal.name)
            return mounted / journal.name

        yield copy
    finally:
        subprocess.run(["umount", str(mounted)], check=True)  # noqa: S603, S607


async def test_a_journal_on_a_read_only_file_system_is_shown(
    client: p.AsyncPhygitals, tmp_path: Path, read_only_copy: Callable[[Path], Path]
) -> None:
    """A finished job on a read-only mount can be read; a run there is refused."""
    inventory = await stocked(client)
    await client.sell_back_many(inventory, journal=tmp_path / "done.db")
    copy = read_only_copy(tmp_path / "done.db")
    journal = SqliteJournal(copy)
    job = await journal.open_for_reading()
    assert job.user_id == "u1"
    assert [e.state async for e in journal.entries()] == [p.JournalState.SOLD] * 3
    await journal.close()
    with pytest.raises(p.JournalError, match="cannot be written") as caught:
        await client.sell_back_many(journal=copy)
    assert not isinstance(caught.value, p.JournalCorruptedError)


async def test_a_bad_journal_argument_is_refused(client: p.AsyncPhygitals) -> None:
    """Neither a path nor a journal object: InvalidRequestError before anything."""
    with pytest.raises(p.InvalidRequestError):
        await client.sell_back_many(["x"], journal=42)  # type: ignore[arg-type]
    with pytest.raises(p.InvalidRequestError):
        await client.sell_back_many(["x"], journal="")
    with pytest.raises(p.InvalidRequestError, match="give the items"):
        await client.sell_back_many()


@pytest.mark.usefixtures("writer")
async def test_a_journal_failing_mid_run_raises_a_journal_error(
    client: p.AsyncPhygitals, sandbox: LocalSandbox, tmp_path: Path
) -> None:
    """SQLite refusing a commit mid-run (a full disk, say) stops the run with a JournalError.

    The failure is SQLite's own: a trigger in the file refuses to record a sale.
    """
    inventory = await stocked(client, "u1", 3)
    path = tmp_path / "run.db"
    journal = SqliteJournal(path)
    await journal.open(user_id="u1", base_url=client.base_url)
    await journal.close()
    alter(
        path,
        "CREATE TRIGGER full BEFORE UPDATE ON items WHEN NEW.state = 'sold'"
        " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
    )
    with pytest.raises(p.JournalError, match="disk is full") as caught:
        await client.sell_back_many(inventory, journal=path)
    causes, error = [], caught.value.__cause__
    while error is not None:
        causes.append(error)
        error = error.__cause__
    assert any(isinstance(cause, sqlite3.Error) for cause in causes)  # SQLite's own error
    assert "sales answered meanwhile could not be recorded" in str(caught.value)
    assert sandbox.ledger.requests["vm/buyback"] >= 1


async def test_a_writer_process_that_dies_stops_the_run_and_a_rerun_loses_nothing(
    client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """The journal's writer killed mid-run: a JournalError says so; the rerun settles all.

    The first outcome's commit is the moment: the writer is killed from ``on_progress``.
    """
    inventory = await stocked(client, "u1", 6)
    path = tmp_path / "run.db"
    killed: list[int] = []

    def kill_the_writer(*_: int) -> None:
        if not killed:
            killed.extend(writers_of_this_process())
            assert len(killed) == 1, "one writer process per journal"
            os.kill(killed[0], signal.SIGKILL)

    with pytest.raises(p.JournalError, match="writer process ended unexpectedly"):
        await client.sell_back_many(
            inventory, journal=path, concurrency=2, on_progress=kill_the_writer
        )
    assert killed
    report = await client.sell_back_many(journal=path)
    assert report.ok
    assert not (await client.inventory("u1")).items
    sold = {s.item_id for s in report.succeeded} | {u.item_id for u in report.unconfirmed}
    assert sold == {item.id for item in inventory.items}
    assert not report.failed
    assert not report.unknown
    assert writers_of_this_process() == []  # each run's writer ended with it
