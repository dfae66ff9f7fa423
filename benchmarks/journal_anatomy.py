"""Where a journaled bulk sellback's time goes, by taking the SQLite journal apart.

``python -m benchmarks.journal_anatomy [--rounds N] [--items N]``. Against the payload
server of ``benchmarks.server`` in its own process, ``sell_back_many`` at concurrency 32,
in alternating rounds (medians of items/s and of the client's CPU per item), five ways:

1. ``no journal``: the floor (a job held in memory).
2. ``journal``: the real SQLite journal, its commits made by its writer process.
3. ``thread``: the real journal with no writer process: its commits on its thread (as
   where no process can be started, and as before the writer process).
4. ``no commits``: the thread's way, but each commit does nothing (the writer thread still
   takes every hand-off: the run's bookkeeping and the thread's cost without the disk).
5. ``no thread``: commits that do nothing, and every journal call made on the event loop's
   own thread (the run's bookkeeping alone, with the journal's reads and adds inline).

A probe, not a supported mode: 3 to 5 patch the journal's private methods, and 4 and 5
keep no outcome. The differences between rows say what each layer costs. The client's CPU
is this process's: a writer process's own is not in it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.measure import payload_server
from benchmarks.run import KEY
from phygitals_async import AsyncPhygitals
from phygitals_async._journal._sqlite import SqliteJournal
from phygitals_async._journal._writer import WriterProcess

WAYS = ("no journal", "journal", "thread", "no commits", "no thread")


@contextmanager
def taken_apart(way: str) -> Iterator[None]:
    """The SQLite journal as ``way`` has it, for the duration of the block."""
    commit, call, start = SqliteJournal._commit, SqliteJournal._call, WriterProcess.start

    def nothing(*_: object) -> None:
        return None

    async def inline(_: SqliteJournal, fn: Any, *args: Any) -> Any:
        return fn(*args)

    async def no_process(*_: object) -> None:
        return None

    try:
        if way in ("thread", "no commits", "no thread"):
            WriterProcess.start = no_process  # type: ignore[method-assign, assignment]
        if way in ("no commits", "no thread"):
            SqliteJournal._commit = nothing  # type: ignore[method-assign, assignment]
        if way == "no thread":
            SqliteJournal._call = inline  # type: ignore[method-assign, assignment]
        yield
    finally:
        SqliteJournal._commit = commit  # type: ignore[method-assign]
        SqliteJournal._call = call  # type: ignore[method-assign]
        WriterProcess.start = start  # type: ignore[method-assign]


async def measure(base: str, items: int, rounds: int) -> dict[str, list[tuple[float, float]]]:
    """Items/s and client CPU us/item of each way, the ways taking turns each round."""
    ids = [f"v1|{n}|0" for n in range(items)]
    runs: dict[str, list[tuple[float, float]]] = {way: [] for way in WAYS}
    with tempfile.TemporaryDirectory() as tmp:
        async with AsyncPhygitals(api_key=KEY, base_url=base + "/_", max_connections=256) as sdk:
            await sdk.sell_back_many(ids[:500], concurrency=32)  # warm the pool
            for n in range(rounds):
                for way in WAYS:
                    journal = None if way == "no journal" else str(Path(tmp) / f"{n}{way}.db")
                    with taken_apart(way):
                        start, cpu = time.perf_counter(), time.process_time()
                        await sdk.sell_back_many(ids, concurrency=32, journal=journal)
                        wall, used = time.perf_counter() - start, time.process_time() - cpu
                    runs[way].append((items / wall, used / items * 1e6))
    return runs


def main(argv: list[str] | None = None) -> int:
    """Measure the five ways and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--items", type=int, default=20_000)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    spare = bytes(1 << 21)  # freed: glibc's mmap threshold rises (see benchmarks/README.md)
    del spare
    with payload_server() as base:
        runs = asyncio.run(measure(base, args.items, args.rounds))
    floor = statistics.median(rate for rate, _ in runs["no journal"])
    floor_cpu = statistics.median(cpu for _, cpu in runs["no journal"])
    print(f"\n{'way':<12} {'items/s':>8} {'x floor':>8} {'CPU us/item':>12} {'+ CPU':>7}")
    for way in WAYS:
        rate = statistics.median(r for r, _ in runs[way])
        cpu = statistics.median(c for _, c in runs[way])
        print(f"{way:<12} {rate:8.0f} {rate / floor:7.2f}x {cpu:12.1f} {cpu - floor_cpu:+7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
