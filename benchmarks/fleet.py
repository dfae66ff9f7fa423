"""The shared PostgreSQL journal at scale: claims per second, worker memory, a 20,000-item fleet.

``python -m benchmarks.fleet`` (``--quick`` for smaller counts; ``--only claims|memory|fleet``
for one case). Each case starts its own throwaway PostgreSQL server:

1. ``claims``: items per second through ``iter_sell_back`` on one shared job with 1, 4 and 8
   concurrent worker processes (concurrency 8 each) against the instant payload server of
   ``benchmarks.server``. Every item is one claim, one begin and one settlement, so this is
   the journal's ceiling on a fleet; beside it, one process with no journal.
2. ``memory``: a 1,000,000-item job (200,000 with ``--quick``) is recorded, then one worker
   process works through its first items; its RSS is read with the client open, after
   2,000, 10,000 and 30,000 outcomes, and its peak at the end. Flat numbers mean memory
   does not grow with the items worked nor with the job's size.
3. ``fleet``: the recipe of ``examples/procrastinate_fleet`` end to end, as tests/bulk/test_fleet.py
   runs it but with 20,000 items (2,000 with ``--quick``): 4 procrastinate worker processes
   against a sandbox process with faults, one killed with SIGKILL a quarter of the way, a
   replacement started; then every item's outcome is checked against the sandbox's ledger.

The printed wall-time model for a 1,000,000-item job uses the measured claims per second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import resource
import sys
import tempfile
import time
from collections.abc import AsyncGenerator
from decimal import Decimal
from pathlib import Path
from typing import cast

from benchmarks.measure import payload_server
from benchmarks.run import KEY
from phygitals_async import AsyncPhygitals, JournalItem, JournalState, PostgresJournal
from phygitals_async.testing import TemporaryPostgres

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.fleet_harness import SandboxProcess, run_fleet_with_kill, stock

CONCURRENCY = 8


async def record_job(url: str, base: str, items: int) -> float:
    """Record a job of ``items`` bare ids; seconds it took."""
    started = time.perf_counter()
    journal = PostgresJournal(url)
    await journal.open(user_id=None, base_url=base + "/_")
    try:
        for start in range(0, items, 5000):
            stop = min(items, start + 5000)
            await journal.add_items([JournalItem(f"v1|{n}|0") for n in range(start, stop)])
    finally:
        await journal.close()
    return time.perf_counter() - started


async def settled(url: str) -> int:
    journal = PostgresJournal(url)
    await journal.open_for_reading()
    try:
        totals = await journal.totals()
    finally:
        await journal.close()
    return totals[JournalState.SOLD][0] if JournalState.PENDING not in totals else -1


def _rss_kib() -> int:
    """The process's current resident set (KiB), from /proc (Linux)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))


async def _work(url: str, base: str, marks: list[int], out: multiprocessing.Queue[object]) -> None:
    async with AsyncPhygitals(api_key=KEY, base_url=base + "/_", max_connections=64) as sdk:
        out.put(("ready", 0, _rss_kib()))
        done = 0
        run = sdk.iter_sell_back(journal=url, concurrency=CONCURRENCY)
        # Left early at the last mark: close it now, while the client is open.
        async with contextlib.aclosing(cast("AsyncGenerator[object, None]", run)) as outcomes:
            async for _ in outcomes:
                done += 1
                if marks and done == marks[0]:
                    marks.pop(0)
                    out.put(("mark", done, _rss_kib()))
                    if not marks:
                        break
        out.put(("done", done, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))  # peak


def worker(url: str, base: str, marks: list[int], out: multiprocessing.Queue[object]) -> None:
    """A worker process: sell from the shared job, reporting progress and peak RSS (KiB)."""
    asyncio.run(_work(url, base, marks, out))


def run_workers(url: str, base: str, count: int, marks: list[int]) -> list[tuple[str, int, int]]:
    """Start ``count`` worker processes together; every message they send, in order."""
    spawn = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[object] = spawn.Queue()
    procs = [spawn.Process(target=worker, args=(url, base, marks, out)) for _ in range(count)]
    for proc in procs:
        proc.start()
    messages: list[tuple[str, int, int]] = []
    finished = 0
    while finished < count:
        message = out.get(timeout=900)
        assert isinstance(message, tuple)
        kind, done, rss = message
        messages.append((str(kind), int(done), int(rss)))
        finished += kind == "done"
    for proc in procs:
        proc.join(30)
    return messages


async def unjournaled(base: str, items: int) -> float:
    ids = [f"v1|{n}|0" for n in range(items)]
    async with AsyncPhygitals(api_key=KEY, base_url=base + "/_", max_connections=64) as sdk:
        started = time.perf_counter()
        report = await sdk.sell_back_many(ids, concurrency=CONCURRENCY)
        assert len(report.succeeded) == items
        return items / (time.perf_counter() - started)


def case_claims(items: int) -> dict[int, float]:
    """Items/s through one shared job with 1, 4 and 8 worker processes."""
    rates: dict[int, float] = {}
    with payload_server() as base, TemporaryPostgres() as pg:
        print(f"no journal, 1 process, concurrency {CONCURRENCY}: ", end="", flush=True)
        print(f"{asyncio.run(unjournaled(base, items)):,.0f} items/s")
        for workers in (1, 4, 8):
            url = pg.create_database(f"claims{workers}") + "?job=bench"
            asyncio.run(record_job(url, base, items))
            started = time.perf_counter()
            messages = run_workers(url, base, workers, [])
            # Time from the last worker ready (imports done) to the last one finished.
            ready = [m for m in messages if m[0] == "ready"]
            assert len(ready) == workers
            seconds = time.perf_counter() - started
            # Not the workers' own counts: iter_sell_back also yields what others settled
            # before it started. The job itself says whether every item was sold once.
            assert asyncio.run(settled(url)) == items
            rates[workers] = items / seconds
            print(
                f"shared journal, {workers} worker process(es) x concurrency {CONCURRENCY}:"
                f" {rates[workers]:,.0f} items/s ({items:,} items in {seconds:.1f} s,"
                " process start-up included)"
            )
    return rates


def case_memory(items: int, marks: list[int]) -> float:
    """A worker's peak RSS at several points of a large job; seconds to record the job."""
    with payload_server() as base, TemporaryPostgres() as pg:
        url = pg.create_database("memory") + "?job=big"
        recorded = asyncio.run(record_job(url, base, items))
        print(f"recorded a {items:,}-item job in {recorded:.1f} s")
        for kind, done, rss in run_workers(url, base, 1, list(marks)):
            if kind == "done":
                print(f"  worker peak RSS over the whole run: {rss / 1024:.1f} MiB")
                continue
            label = "client open, before the job" if kind == "ready" else f"after {done:,} outcomes"
            print(f"  worker RSS {label}: {rss / 1024:.1f} MiB")
    return recorded


def case_fleet(items: int) -> None:
    """The recipe with a killed worker, checked against the ledger."""
    with TemporaryPostgres() as pg, tempfile.TemporaryDirectory() as logs:
        sandbox = SandboxProcess(seed=20)
        try:
            started = time.perf_counter()
            asyncio.run(stock(sandbox.url, "fleet", items))
            print(f"stocked {items:,} items in {time.perf_counter() - started:.1f} s")
            run = run_fleet_with_kill(
                pg.create_database("fleet"), sandbox, Path(logs), items=items, timeout=1800
            )
        finally:
            sandbox.stop()
    states: dict[str, int] = {}
    for _, state, _, _ in run.rows:
        states[state] = states.get(state, 0) + 1
    confirmed = sum((a for _, s, a, _ in run.rows if s == "sold" and a is not None), Decimal(0))
    quoted = sum((q for _, s, _, q in run.rows if s == "unconfirmed" and q), Decimal(0))
    paid = sum(run.sold.values(), Decimal(0))
    assert len(run.rows) == items
    assert "pending" not in states
    assert run.executions == len(run.sold)
    assert confirmed + quoted == paid
    print(
        f"fleet of 4 (one killed at {run.settled_at_kill:,} settled, replaced):"
        f" {items:,} items in {run.seconds:.1f} s; states {states};"
        f" confirmed {confirmed} + unconfirmed {quoted} == ledger {paid};"
        f" shard tasks taken over: {run.takeovers}"
    )


def model(rate: float, recorded: float, recorded_items: int) -> None:
    """A 1,000,000-item job's wall time, from the API's latency and the measured journal."""
    n = 1_000_000
    record = recorded * n / recorded_items
    print(
        f"\nmodel of a {n:,}-item job: wall = record + n / min(W*c/L, journal) + lease tail\n"
        f"  record (include the items once): {record:.0f} s measured-and-scaled here\n"
        f"  journal ceiling (8 workers, this machine): {rate:,.0f} items/s\n"
        "  lease tail: at most one lease (default 60 s) if a worker dies near the end"
    )
    print(f"  {'L (s)':>6} {'W':>4} {'c':>3} {'API items/s':>12} {'wall':>10}")
    for latency in (0.2, 0.5):
        for workers in (4, 16, 64):
            api = workers * CONCURRENCY / latency
            wall = record + n / min(api, rate)
            print(f"  {latency:>6} {workers:>4} {CONCURRENCY:>3} {api:>12,.0f} {wall / 60:>8.1f} m")


def main(argv: list[str] | None = None) -> int:
    """Run the cases and print their numbers and the model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts")
    parser.add_argument("--only", choices=["claims", "memory", "fleet"])
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rate, recorded, recorded_items = 0.0, 0.0, 1
    if args.only in (None, "claims"):
        rate = case_claims(5_000 if args.quick else 20_000)[8]
    if args.only in (None, "memory"):
        recorded_items = 200_000 if args.quick else 1_000_000
        recorded = case_memory(recorded_items, [2_000, 10_000, 30_000])
    if args.only in (None, "fleet"):
        case_fleet(2_000 if args.quick else 20_000)
    if rate and recorded:
        model(rate, recorded, recorded_items)
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
