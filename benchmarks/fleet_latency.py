"""A fleet at the API's real latency: throughput against the ideal, 429s, a dead worker.

``python -m benchmarks.fleet_latency`` (``--quick`` for shorter runs). The CPU-bound fleet
case (``benchmarks.fleet``) shows this machine's ceiling; this one shows how a fleet scales
against an API that answers a sellback in about 80 ms and refuses more than ``--limit``
concurrent sellbacks with 429, as production does.

1. ``scaling``: 1, 2 and 4 worker processes (concurrency 8 each) on one PostgreSQL job,
   started together once every process is ready. The steady rate is that of the middle
   90% of the answers (the whole job's, first answer to last, is printed beside it).
   Ideal items/s = min(workers x 8, limit) / latency. Goals, on the steady rate: at least
   90% of the ideal below the limit; at the limit, at least 90% with under 5% of requests
   answered 429 once the adaptive limit has settled (the run's second half).
2. ``ceiling``: the PostgreSQL journal alone, no HTTP: items claimed, begun and settled per
   second by 1 and 4 processes (a claim of 8, then one settlement each), the point where
   one database stops being enough for a fleet.
3. ``kill``: 4 workers, one killed with SIGKILL a quarter of the way: the job's time with
   and without the kill (the difference is about one lease, 10 s by default).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import signal
import socket
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web

from benchmarks import payloads, plots
from benchmarks.run import KEY
from phygitals_async import (
    AsyncPhygitals,
    JournalItem,
    JournalSettlement,
    JournalState,
    PostgresJournal,
)
from phygitals_async.testing import TemporaryPostgres

CONCURRENCY = 8
LATENCY = 0.080  # seconds a sellback takes at the API
JITTER = 0.020  # +- uniformly
BUSY = b'{"error": "A buyback request for this item is already being processed"}'


def serve(port_out: Any, limit: int) -> None:
    """The latency server's process: sellbacks take ~80 ms; beyond ``limit`` at once, 429."""

    async def main() -> None:
        in_flight = 0
        log: list[tuple[float, int]] = []  # (time, status) of every sellback

        async def buyback(request: web.Request) -> web.Response:
            nonlocal in_flight
            await request.read()
            if in_flight >= limit:
                log.append((time.monotonic(), 429))
                return web.Response(status=429, body=BUSY, content_type="application/json")
            in_flight += 1
            try:
                await asyncio.sleep(LATENCY + random.uniform(-JITTER, JITTER))  # noqa: S311
            finally:
                in_flight -= 1
            log.append((time.monotonic(), 200))
            return web.Response(body=payloads.SELLBACK, content_type="application/json")

        async def stats(_: web.Request) -> web.Response:
            return web.json_response(log)

        async def clear(_: web.Request) -> web.Response:
            log.clear()
            return web.json_response({})

        app = web.Application()
        app.router.add_post("/_/api/v1/vm/buyback", buyback)
        app.router.add_get("/stats", stats)
        app.router.add_post("/clear", clear)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(runner, sock).start()
        port_out.put(sock.getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(main())


class Server:
    """The latency server in a process of its own."""

    def __init__(self, limit: int) -> None:
        spawn = multiprocessing.get_context("spawn")
        ports: Any = spawn.Queue()
        self.process = spawn.Process(target=serve, args=(ports, limit), daemon=True)
        self.process.start()
        self.base = f"http://127.0.0.1:{ports.get(timeout=30)}"

    def log(self) -> list[tuple[float, int]]:
        """Every sellback so far: (monotonic time, status)."""
        return asyncio.run(_get_json(self.base + "/stats"))

    def clear(self) -> None:
        """Forget the sellbacks so far."""
        asyncio.run(_post(self.base + "/clear"))

    def stop(self) -> None:
        """End the server's process."""
        self.process.kill()
        self.process.join(10)


async def _get_json(url: str) -> Any:
    import aiohttp  # noqa: PLC0415  the benchmark's own plain client

    async with aiohttp.ClientSession() as session, session.get(url) as answer:
        return await answer.json()


async def _post(url: str) -> None:
    import aiohttp  # noqa: PLC0415

    async with aiohttp.ClientSession() as session, session.post(url) as answer:
        await answer.read()


async def record(url: str, items: int, base: str = "http://127.0.0.1") -> None:
    """A job of ``items`` bare ids, sold through ``base``."""
    journal = PostgresJournal(url)
    await journal.open(user_id=None, base_url=base + "/_")
    try:
        for start in range(0, items, 5000):
            ids = range(start, min(items, start + 5000))
            await journal.add_items([JournalItem(f"v1|{n}|0") for n in ids])
    finally:
        await journal.close()


def sell(url: str, base: str, ready: Any) -> None:
    """A worker process: once every worker is ready, sell from the shared job until done."""

    async def main() -> None:
        async with AsyncPhygitals(api_key=KEY, base_url=base + "/_", max_connections=64) as sdk:
            # Imports and the client cost each process a second or so, not the same for
            # all: the fleet starts together, so its rate is the fleet's, not a staggered start's.
            await asyncio.to_thread(ready.wait, 60)
            async for _ in sdk.iter_sell_back(journal=url, concurrency=CONCURRENCY):
                pass

    asyncio.run(main())


def run_job(url: str, base: str, workers: int, kill_at: Callable[[], bool] | None = None) -> float:
    """Seconds from starting ``workers`` processes until the job is done."""
    spawn = multiprocessing.get_context("spawn")
    ready = spawn.Barrier(workers)
    procs = [spawn.Process(target=sell, args=(url, base, ready)) for _ in range(workers)]
    started = time.perf_counter()
    for proc in procs:
        proc.start()
    if kill_at is not None:
        while not kill_at():
            time.sleep(0.05)
        os.kill(procs[0].pid or 0, signal.SIGKILL)
    for proc in procs:
        proc.join(1800)
    return time.perf_counter() - started


def case_scaling(
    pg: TemporaryPostgres, items: int, limit: int, runs: list[dict[str, float]]
) -> list[str]:
    """Items/s of 1, 2 and 4 workers against the ideal, and the late share of 429s."""
    lines = []
    server = Server(limit)
    try:
        for workers in (1, 2, 4):
            url = pg.create_database(f"scaling{workers}") + "?job=bench"
            asyncio.run(record(url, items, server.base))
            server.clear()
            run_job(url, server.base, workers)
            log = server.log()
            ideal = min(workers * CONCURRENCY, limit) / LATENCY
            # From the first answer to the last, the workers having started together: the
            # fleet at work, not its processes' start-up.
            answered = sorted(t for t, status in log if status == 200)
            whole = (len(answered) - 1) / (answered[-1] - answered[0])
            # The goal is on the steady rate, the middle 90% of the answers: neither the
            # first round nor the drain (the last items, some waiting out a 429's backoff).
            low, high = len(answered) // 20, len(answered) - 1 - len(answered) // 20
            rate = (high - low) / (answered[high] - answered[low])
            half = statistics.median(t for t, _ in log)
            later = [status for t, status in log if t >= half]
            refused = sum(status == 429 for status in later) / max(1, len(later))
            at_limit = workers * CONCURRENCY >= limit
            met = rate >= 0.9 * ideal and (not at_limit or refused < 0.05)
            run = {"workers": workers, "rate": rate, "whole": whole, "ideal": ideal}
            runs.append(run | {"refused": refused})
            lines.append(
                f"{workers} worker(s) x {CONCURRENCY}: {rate:7,.0f} items/s of ideal"
                f" {ideal:5,.0f} ({rate / ideal:4.0%}; the whole job {whole / ideal:4.0%});"
                f" 429s in the second half {refused:5.1%}"
                f"{' (at the limit)' if at_limit else ''}: {'ok' if met else 'miss'}"
            )
            print(lines[-1], flush=True)
    finally:
        server.stop()
    return lines


def claim_loop(url: str, out: Any) -> None:
    """A journal-only worker: claim 8, settle each, until nothing is left; items done."""

    async def main() -> int:
        journal = PostgresJournal(url)
        await journal.open(user_id=None, base_url="http://127.0.0.1/_")
        done = 0
        try:
            while claimed := await journal.claim(CONCURRENCY):
                for entry in claimed:
                    sold = JournalSettlement(entry.item_id, JournalState.SOLD, Decimal("8.5"))
                    await journal.settle([sold])
                done += len(claimed)
        finally:
            await journal.close()
        return done

    out.put(asyncio.run(main()))


def case_ceiling(pg: TemporaryPostgres, items: int) -> list[str]:
    """The journal's own rate, with no HTTP, for 1 and 4 processes."""
    lines = []
    spawn = multiprocessing.get_context("spawn")
    for workers in (1, 4):
        url = pg.create_database(f"ceiling{workers}") + "?job=bench"
        asyncio.run(record(url, items))
        out: Any = spawn.Queue()
        procs = [spawn.Process(target=claim_loop, args=(url, out)) for _ in range(workers)]
        started = time.perf_counter()
        for proc in procs:
            proc.start()
        done = sum(out.get(timeout=1800) for _ in procs)
        seconds = time.perf_counter() - started
        for proc in procs:
            proc.join(30)
        lines.append(
            f"journal alone, {workers} process(es): {done / seconds:7,.0f} items/s"
            " (claim, begin, settle; start-up included)"
        )
        print(lines[-1], flush=True)
    return lines


def case_kill(pg: TemporaryPostgres, items: int, limit: int) -> list[str]:
    """A 4-worker job's time with and without a worker killed a quarter of the way."""
    server = Server(limit)
    try:
        times = []
        for kill in (False, True):
            url = pg.create_database(f"kill{int(kill)}") + "?job=bench"
            asyncio.run(record(url, items, server.base))
            server.clear()

            def quarter() -> bool:
                return len(server.log()) >= items // 4

            times.append(run_job(url, server.base, 4, quarter if kill else None))
        line = (
            f"4 workers, {items:,} items: {times[0]:.1f} s; with one killed a quarter of the"
            f" way: {times[1]:.1f} s ({times[1] - times[0]:+.1f} s; its claims wait out one"
            " 10 s lease, while the others go on)"
        )
        print(line, flush=True)
        return [line]
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the three cases and print their figures with ok/miss against the goals."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--limit", type=int, default=24, help="concurrent sellbacks (429)")
    parser.add_argument("--only", choices=["scaling", "ceiling", "kill"])
    parser.add_argument("--save", metavar="FILE", help="write the scaling runs as JSON")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    items = 1_500 if args.quick else 6_000
    runs: list[dict[str, float]] = []
    with TemporaryPostgres() as pg:
        if args.only in (None, "scaling"):
            case_scaling(pg, items, args.limit, runs)
            if args.save:
                command = "python -m benchmarks.fleet_latency" + (" --quick" if args.quick else "")
                data = {**plots.provenance(command), "scaling": runs}
                Path(args.save).write_text(json.dumps(data, indent=1) + "\n")
        if args.only in (None, "ceiling"):
            case_ceiling(pg, 5_000 if args.quick else 20_000)
        if args.only in (None, "kill"):
            case_kill(pg, items, args.limit)
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
