"""Bulk sellback with and without the SQLite journal, and the memory of a large resume.

``python -m benchmarks.journal`` (``--quick`` for a short run). Against the payload server
of ``benchmarks.server`` in its own process on loopback:

1. Throughput of ``sell_back_many`` over 20,000 items at concurrency 32, without a journal
   and with a fresh SQLite journal, then a fresh PostgreSQL job (a throwaway server),
   alternating for a few rounds (medians compared; the targets are journaled >= 0.9x
   unjournaled for SQLite, >= 0.8x for PostgreSQL).
2. Peak memory (RSS, each measured in a fresh process) of resuming a journal whose items
   are all pending, with ``iter_sell_back`` (outcomes consumed, not kept) and with
   ``sell_back_many`` (whose report holds every item by design), at two job sizes and two
   concurrencies: the streaming run grows with concurrency, not with the item count.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.measure import Goal, Row, payload_server, print_table, row
from benchmarks.run import KEY
from phygitals_async import AsyncPhygitals, JournalItem
from phygitals_async._journal._sqlite import SqliteJournal
from phygitals_async.testing import TemporaryPostgres

TARGET = 0.9
JOURNALED = "journaled"  # the one column of figures, beside its baseline
THROUGHPUT = Goal(TARGET, (JOURNALED,), at_least=True)
PG_THROUGHPUT = Goal(0.8, (JOURNALED,), at_least=True)  # a database over the network


async def case_throughput(
    base: str, items: int, concurrency: int, rounds: int, postgres: str | None = None
) -> list[Row]:
    """Items per second, and client CPU per item, with and without the journal.

    Medians over alternating rounds. The CPU time (both of the client's threads) is the
    steadier figure on a shared machine, where wall time follows the neighbours' load.
    With ``postgres`` (a database URL), the journal is a shared PostgreSQL job instead of
    an SQLite file.
    """
    ids = [f"v1|{n}|0" for n in range(items)]
    plain: list[tuple[float, float]] = []
    journaled: list[tuple[float, float]] = []

    async def one(sdk: AsyncPhygitals, journal: str | None) -> tuple[float, float]:
        start, cpu = time.perf_counter(), time.process_time()
        report = await sdk.sell_back_many(ids, concurrency=concurrency, journal=journal)
        assert len(report.succeeded) == items
        wall, used = time.perf_counter() - start, time.process_time() - cpu
        return items / wall, used / items * 1e6

    with tempfile.TemporaryDirectory() as tmp:
        async with AsyncPhygitals(api_key=KEY, base_url=base + "/_", max_connections=256) as sdk:
            await sdk.sell_back_many(ids[:500], concurrency=concurrency)  # warm the pool
            for n in range(rounds):
                plain.append(await one(sdk, None))
                where = f"{postgres}?job=run{n}" if postgres else str(Path(tmp) / f"run{n}.db")
                journaled.append(await one(sdk, where))
    rate, floor = (statistics.median(r[0] for r in runs) for runs in (journaled, plain))
    cpu, cpu_floor = (statistics.median(r[1] for r in runs) for runs in (journaled, plain))
    kind, goal = ("PostgreSQL", PG_THROUGHPUT) if postgres else ("SQLite", THROUGHPUT)
    name = f"bulk {items:,} sellbacks, concurrency {concurrency}, {kind} journal"
    return [
        row(f"{name} (items/s)", "no journal", {JOURNALED: rate}, floor, goal),
        row(f"{name} (client CPU us/item)", "no journal", {JOURNALED: cpu}, cpu_floor),
    ]


async def make_journal(path: Path, items: int, base: str) -> None:
    """A job of ``items`` pending items, as a run killed right after starting leaves it."""
    journal = SqliteJournal(path)
    await journal.open(user_id=None, base_url=base + "/_")
    for start in range(0, items, 5000):
        batch = [JournalItem(f"v1|{n}|0") for n in range(start, min(items, start + 5000))]
        await journal.add_items(batch)
    await journal.close()


async def resume(base: str, path: str, concurrency: int, how: str) -> None:
    async with AsyncPhygitals(api_key=KEY, base_url=base + "/_", max_connections=256) as sdk:
        if how == "iter":
            sold = 0
            async for _ in sdk.iter_sell_back(journal=path, concurrency=concurrency):
                sold += 1
        elif how == "many":
            report = await sdk.sell_back_many(journal=path, concurrency=concurrency)
            sold = len(report.succeeded)
        else:  # the floor: an open client and nothing else
            sold = 0
    print(sold, peak_kib(), flush=True)


def peak_kib() -> int:
    """This process's peak RSS in KiB.

    VmHWM where Linux has it: ``ru_maxrss`` survives exec, so a child forked from a large
    parent would report the parent's size.
    """
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1])


def peak_rss(base: str, path: str, concurrency: int, how: str) -> tuple[int, float]:
    """Run one resume in a fresh process; its outcome count and peak RSS (MiB)."""
    child = [sys.executable, "-m", "benchmarks.journal", "--child", base, path]
    out = subprocess.run(  # noqa: S603  our own interpreter and module
        [*child, str(concurrency), how],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout.split()
    return int(out[0]), int(out[1]) / 1024


def case_memory(base: str, small: int, big: int) -> list[Row]:
    """Peak RSS resuming all-pending journals: two sizes, two concurrencies, both APIs."""
    runs = [
        (small, 8, "iter"),
        (small, 32, "iter"),
        (big, 8, "iter"),
        (big, 32, "iter"),
        (big, 32, "many"),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        _, floor = peak_rss(base, "-", 1, "floor")
        for size, level, how in runs:
            path = str(Path(tmp) / f"job{size}-{level}-{how}.db")
            asyncio.run(make_journal(Path(path), size, base))
            sold, rss = peak_rss(base, path, level, how)
            assert sold == size
            name = "iter_sell_back" if how == "iter" else "sell_back_many (report)"
            rows.append(
                row(
                    f"resume {size:,}-item journal, {name}, concurrency {level} (peak RSS MiB)",
                    "idle client",
                    {JOURNALED: rss},
                    floor,
                )
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run both cases and print the table."""
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--child"]:
        base, path, concurrency, how = argv[1:5]
        asyncio.run(resume(base, path, int(concurrency), how))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows: list[Row] = []
    rounds = 1 if args.quick else 3
    with payload_server() as base:
        rows += asyncio.run(case_throughput(base, 20_000, 32, rounds))
        with TemporaryPostgres() as pg:
            database = pg.create_database("throughput")
            rows += asyncio.run(case_throughput(base, 20_000, 32, rounds, postgres=database))
        rows += case_memory(base, *((2_000, 20_000) if args.quick else (10_000, 100_000)))
    print()
    print_table(rows, (JOURNALED,))
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
