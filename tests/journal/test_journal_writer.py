"""The SQLite journal's writer process where applications really run it.

Forks, cancellations, signals meant for the application, a writer that never starts, and
a run lock whose holder died while its writer finishes: each with real processes and a
bounded wall-clock, so a regression fails instead of hanging.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fcntl
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import anyio
import pytest
from support import TOPPS
from support.journal_runs import children_running, writers_of_this_process

import phygitals_async as p
from phygitals_async._journal import JournalItem, JournalSettlement, JournalState, _writer
from phygitals_async._journal import _sqlite_sql as sql
from phygitals_async._journal._lock import release_run_lock, take_run_lock
from phygitals_async._journal._sqlite import SqliteJournal

BOUND = 20.0  # seconds: each case ends well within it, or it failed


async def stocked(client: p.AsyncPhygitals, count: int = 4) -> p.Inventory:
    await client.buy(TOPPS, amount=count, user_id="u1")
    return await client.inventory("u1")


@contextlib.contextmanager
def writer_stopped(pid: int) -> Iterator[None]:
    """The writer stopped (SIGSTOP: a hung disk) for the block; killed after, if still there."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


async def assert_released(client: p.AsyncPhygitals, path: Path) -> None:
    """No writer process is left, and the journal's lock is free: a new run opens it."""
    assert writers_of_this_process() == []
    again = SqliteJournal(path)
    await again.open(user_id="u1", base_url=client.base_url)  # not JournalBusyError
    await again.close()


def sold_all(report: p.BulkSellbackReport, inventory: p.Inventory) -> bool:
    sold = {s.item_id for s in report.succeeded} | {u.item_id for u in report.unconfirmed}
    return sold == {item.id for item in inventory.items}


# Forking with the journal's thread alive: on Python 3.12+ a DeprecationWarning says so.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
async def test_a_process_forked_during_a_run_does_not_hold_it_up(
    client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """A fork (a worker pool, say) inherits the writer's pipe; the run still ends at once."""
    inventory = await stocked(client)
    release, hold = os.pipe()
    forked: list[int] = []

    def fork_once(*_: int) -> None:
        if forked:
            return
        pid = os.fork()
        if pid == 0:  # the forked copy lives on, holding every descriptor, until released
            os.close(hold)
            os.read(release, 1)
            os._exit(0)
        forked.append(pid)

    try:
        async with asyncio.timeout(BOUND):
            report = await client.sell_back_many(
                inventory, journal=tmp_path / "run.db", on_progress=fork_once
            )
        assert sold_all(report, inventory)
        still_alive = os.waitpid(forked[0], os.WNOHANG) == (0, 0)  # noqa: ASYNC222  no wait
        assert still_alive  # it did not matter
        assert writers_of_this_process() == []
        # The copy does not keep the run lock either: the next run starts at once.
        async with asyncio.timeout(BOUND):
            again = await client.sell_back_many(journal=tmp_path / "run.db")
        assert again.this_run.settled == 0
    finally:
        os.close(hold)
        os.close(release)
        for pid in forked:
            os.waitpid(pid, 0)  # noqa: ASYNC222  it ends as its pipe closes


@pytest.mark.parametrize("after", [1, 2, 3, 5])
async def test_a_cancelled_close_still_releases_everything(
    client: p.AsyncPhygitals, tmp_path: Path, after: int
) -> None:
    """``close()`` cancelled ``after`` turns of the loop in: no writer left, lock released."""
    path = tmp_path / "run.db"
    journal = SqliteJournal(path)
    await journal.open(user_id="u1", base_url=client.base_url)
    assert len(writers_of_this_process()) == 1
    closing = asyncio.ensure_future(journal.close())
    for _ in range(after):
        await asyncio.sleep(0)
    closing.cancel()
    async with asyncio.timeout(BOUND):
        await asyncio.wait([closing])
    await assert_released(client, path)


async def test_a_writer_that_never_answers_leaves_the_commits_to_the_thread(
    client: p.AsyncPhygitals, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An interpreter that starts but never says ready: killed, reaped, the thread takes over."""
    silent = tmp_path / "bin" / "python3"
    silent.parent.mkdir()
    silent.write_text("#!/bin/sh\nexec sleep 60\n")
    silent.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(silent))
    monkeypatch.setattr(_writer, "_READY_WITHIN", 0.2)
    inventory = await stocked(client)
    async with asyncio.timeout(BOUND):
        report = await client.sell_back_many(inventory, journal=tmp_path / "run.db")
    assert sold_all(report, inventory)
    assert children_running(b"sleep") == []  # killed and reaped


@pytest.fixture
def sigchld_ignored() -> Iterator[None]:
    before = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGCHLD, before)


@pytest.mark.usefixtures("sigchld_ignored")
async def test_an_application_ignoring_sigchld_gets_the_thread(
    client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """With SIGCHLD ignored no child can be waited for: no writer process is started."""
    inventory = await stocked(client)
    writers: set[int] = set()
    report = await client.sell_back_many(
        inventory,
        journal=tmp_path / "run.db",
        on_progress=lambda *_: writers.add(len(writers_of_this_process())),
    )
    assert sold_all(report, inventory)
    assert writers == {0}


async def test_signals_meant_for_the_application_do_not_end_the_writer(
    client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """A service manager's SIGTERM (or a SIGHUP, a SIGINT) reaches the writer: it goes on."""
    inventory = await stocked(client, 6)
    signalled: list[int] = []

    def signal_the_writer(*_: int) -> None:
        if not signalled:
            signalled.extend(writers_of_this_process())
            for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                os.kill(signalled[0], sig)

    async with asyncio.timeout(BOUND):
        report = await client.sell_back_many(
            inventory, journal=tmp_path / "run.db", concurrency=1, on_progress=signal_the_writer
        )
    assert signalled
    assert report.ok
    assert len(report.succeeded) == 6


def test_a_dead_holders_writer_is_waited_for(tmp_path: Path) -> None:
    """The lock's holder died (a zombie, here); its writer still holds the lock for a moment.

    A new run waits for that writer to end, then takes the lock: no JournalBusyError.
    """
    journal, lock = str(tmp_path / "run.db"), str(tmp_path / "run.db.lock")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, dead.pid, os.WEXITED | os.WNOWAIT)  # it ended, left unreaped: a zombie
    fd = take_run_lock(journal, lock)
    assert fd is not None
    record = {"pid": dead.pid, "host": socket.gethostname(), "since": "2026-12-07T00:00:00"}
    os.pwrite(fd, json.dumps(record).encode().ljust(200), 0)
    # The "writer": holds the lock's descriptor for half a second after its run died.
    writer = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(0.5)"], pass_fds=(fd,)
    )
    release_run_lock(fd)
    try:
        start = time.monotonic()
        taken = take_run_lock(journal, lock)
        assert taken is not None
        assert time.monotonic() - start < BOUND
        assert writer.poll() is not None  # taken once the writer had ended
        release_run_lock(taken)
    finally:
        writer.wait()
        dead.wait()


def test_a_live_holder_is_refused_at_once(tmp_path: Path) -> None:
    """A holder that is alive is not waited for: JournalBusyError names it."""
    journal, lock = str(tmp_path / "run.db"), str(tmp_path / "run.db.lock")
    fd = take_run_lock(journal, lock)
    assert fd is not None
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], pass_fds=(fd,))
    record = {"pid": holder.pid, "host": socket.gethostname(), "since": "2026-12-07T00:00:00"}
    os.pwrite(fd, json.dumps(record).encode().ljust(200), 0)
    release_run_lock(fd)
    try:
        start = time.monotonic()
        with pytest.raises(p.JournalBusyError, match=f"pid {holder.pid}"):
            take_run_lock(journal, lock)
        assert time.monotonic() - start < 1.0
    finally:
        holder.kill()
        holder.wait()


async def test_writes_of_one_turn_are_committed_in_their_order(
    client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """Writes made in one turn of the loop go as one frame: the later write of an item wins.

    ``a`` is settled twice (unknown, then sold), ``b`` settled and then begun twice more:
    the file holds ``a`` sold and ``b`` begun three times, as if written one by one.
    """
    path = tmp_path / "run.db"
    journal = SqliteJournal(path)
    await journal.open(user_id="u1", base_url=client.base_url)
    try:
        await journal.add_items([JournalItem("a", Decimal("1.00")), JournalItem("b")])
        await journal.begin(["a", "b"])
        await asyncio.gather(
            journal.settle([JournalSettlement("a", JournalState.UNKNOWN, error_type="X")]),
            journal.settle([JournalSettlement("a", JournalState.SOLD, Decimal("2.00"))]),
            journal.settle([JournalSettlement("b", JournalState.SOLD, Decimal("3.00"))]),
            journal.begin(["b"]),
            journal.begin(["b"]),  # begun twice: twice counted, as by the thread
        )
        assert len(writers_of_this_process()) == 1
    finally:
        await journal.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT item_id, state, amount, error_type, attempts FROM items")
        assert sorted(rows) == [("a", "sold", "2.00", None, 1), ("b", "pending", None, None, 3)]


def frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


def sold_frame(item_id: str, amount: str) -> bytes:
    row = [item_id, "sold", amount, None, None, None, None, 0]
    return frame(f"S2026-12-07T00:00:00.000+00:00\n{json.dumps([row])}".encode())


async def test_what_a_dead_run_sent_is_committed_all_the_same(
    client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """The run dies while its writer commits: what is still in the pipe is committed too.

    The writer's first commit (``a``) waits on a lock held here; the run then sends ``b``
    and ``c`` and dies (both pipes closed). Its answer finds nobody: it goes on anyway.
    """
    path = tmp_path / "run.db"
    journal = SqliteJournal(path)
    await journal.open(user_id="u1", base_url=client.base_url)
    await journal.add_items([JournalItem(i) for i in "abc"])
    await journal.close()
    setup = {"path": os.fsencode(str(path)).hex(), "begin": sql.BEGIN, "settle": sql.SETTLE_JSON}
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as blocker:
        writer = subprocess.Popen(  # noqa: ASYNC220, S603  the writer, as the journal starts it
            [sys.executable, "-I", "-S", str(_writer._SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert writer.stdin is not None
        assert writer.stdout is not None
        try:
            writer.stdin.write(frame(json.dumps(setup).encode()))
            writer.stdin.flush()
            assert writer.stdout.readline() == b"ready\n"
            blocker.execute("BEGIN IMMEDIATE")  # the writer's next commit waits (a slow disk)
            rest = sold_frame("b", "2.00") + sold_frame("c", "3.00")
            writer.stdin.write(sold_frame("a", "1.00") + rest[:2])  # b only begun
            writer.stdin.flush()
            unread = array.array("i", [1])
            while unread[0]:  # until the writer has read it all: its first commit is a alone
                fcntl.ioctl(writer.stdin.fileno(), termios.FIONREAD, unread)
                await asyncio.sleep(0.01)
            writer.stdin.write(rest[2:])
            writer.stdin.close()  # the run dies: both of its pipe ends close
            writer.stdout.close()
            blocker.execute("ROLLBACK")
            async with asyncio.timeout(BOUND):
                while writer.poll() is None:  # noqa: ASYNC110  a process, not an event
                    await asyncio.sleep(0.01)
        finally:
            if writer.poll() is None:
                writer.kill()
            writer.wait()
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = sorted(db.execute("SELECT item_id, state, amount FROM items"))
    assert rows == [("a", "sold", "1.00"), ("b", "sold", "2.00"), ("c", "sold", "3.00")]


async def test_flush_waits_for_the_write_of_a_cancelled_caller(
    client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """A settle() cancelled (its task group cancelled, say) still counts: flush() waits for it."""
    path = tmp_path / "run.db"
    journal = SqliteJournal(path)
    await journal.open(user_id="u1", base_url=client.base_url)
    try:
        await journal.add_items([JournalItem("a")])
        await journal.begin(["a"])
        with contextlib.closing(
            sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        ) as blocker:
            blocker.execute("BEGIN IMMEDIATE")  # the settlement's commit waits for this
            settling = asyncio.ensure_future(
                journal.settle([JournalSettlement("a", JournalState.SOLD, Decimal("5.00"))])
            )
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            settling.cancel()
            # Let the commit through only once flush() is waiting: it must still be waiting.
            asyncio.get_running_loop().call_soon(blocker.execute, "ROLLBACK")
            async with asyncio.timeout(BOUND):
                await journal.flush()
            with contextlib.closing(sqlite3.connect(path)) as db:
                state = db.execute("SELECT state, amount FROM items").fetchone()
            assert state == ("sold", "5.00")
    finally:
        await journal.close()


async def test_a_close_cancelled_again_and_again_still_ends_the_writer(
    client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """Under anyio a cancelled scope cancels again each turn; a stuck writer is still ended.

    The writer is stopped (SIGSTOP: a hung disk). ``close()`` in a cancelled scope gives it
    a moment, kills it, reaps it and releases the lock.
    """
    path = tmp_path / "run.db"
    journal = SqliteJournal(path)
    await journal.open(user_id="u1", base_url=client.base_url)
    (pid,) = writers_of_this_process()
    with writer_stopped(pid):
        async with asyncio.timeout(BOUND):
            with anyio.CancelScope() as scope:
                scope.cancel()
                await journal.close()
    await assert_released(client, path)


def test_a_writer_outlives_no_killed_run_whose_fork_holds_its_pipe(tmp_path: Path) -> None:
    """A run forks (a worker pool) and is killed -9: its writer ends, the next run starts."""
    path = tmp_path / "run.db"
    script = f"""
import asyncio, os, sys, time
from phygitals_async._journal._sqlite import SqliteJournal
async def main():
    journal = SqliteJournal({str(path)!r})
    await journal.open(user_id="u1", base_url="https://api.phygitals.com/_")
    worker = os.fork()
    if worker == 0:
        time.sleep(60)  # a pool worker, alive long after the run
        os._exit(0)
    print(journal._writer._process.pid, worker, flush=True)
    await asyncio.sleep(60)
asyncio.run(main())
"""
    worker = 0
    with subprocess.Popen(  # noqa: S603  this interpreter
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    ) as run:
        assert run.stdout is not None
        try:
            writer, worker = map(int, run.stdout.readline().split())
            run.kill()  # the OOM killer, say; the forked worker lives on
            run.wait()
            start = time.monotonic()
            taken = take_run_lock(str(path), f"{path}.lock")  # waits for the writer to end
            assert taken is not None
            release_run_lock(taken)
            assert time.monotonic() - start < BOUND
            stat = Path(f"/proc/{writer}/stat")
            assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
        finally:
            run.kill()
            if worker:
                os.kill(worker, signal.SIGKILL)


async def test_close_ends_a_hung_writer_and_fails_what_it_held(
    client: p.AsyncPhygitals, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that stops answering (a hung disk) is killed by close() after its deadline.

    The settlement it held fails with a JournalError; close() returns, the lock is free.
    """
    monkeypatch.setattr(_writer, "_ENDS_WITHIN", 0.5)
    path = tmp_path / "run.db"
    journal = SqliteJournal(path)
    await journal.open(user_id="u1", base_url=client.base_url)
    await journal.add_items([JournalItem("a")])
    await journal.begin(["a"])
    (pid,) = writers_of_this_process()
    with writer_stopped(pid):
        settling = asyncio.ensure_future(
            journal.settle([JournalSettlement("a", JournalState.SOLD, Decimal("5.00"))])
        )
        await asyncio.sleep(0)
        async with asyncio.timeout(BOUND):
            await journal.close()
            with pytest.raises(p.JournalError, match="writer process ended"):
                await settling
    await assert_released(client, path)


async def test_no_write_starts_once_close_has(client: p.AsyncPhygitals, tmp_path: Path) -> None:
    """A settle() racing close() is refused, not written behind the writer's back."""
    journal = SqliteJournal(tmp_path / "run.db")
    await journal.open(user_id="u1", base_url=client.base_url)
    await journal.add_items([JournalItem("a")])
    closing = asyncio.ensure_future(journal.close())
    await asyncio.sleep(0)
    with pytest.raises(p.JournalError, match="is closed"):
        await journal.settle([JournalSettlement("a", JournalState.SOLD, Decimal("5.00"))])
    with pytest.raises(p.JournalError, match="is closed"):
        await journal.begin(["a"])
    await closing
