"""Benchmarks of the SDK against raw aiohttp, httpx + pydantic v2 and requests.

Every ratio compares numbers measured side by side in this one run, against a payload
server in its own process on loopback. ``--quick`` trims counts for a ~30 s run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import requests
import yarl

from benchmarks import payloads
from benchmarks.peers import PACKS, PInventory
from phygitals_async import AsyncPhygitals, Inventory, Phygitals
from phygitals_async._converters import converter
from phygitals_async._http import Call, Retry, Transport, _gc_paused

KEY = "sandbox-bench"
Stack = Callable[[], Awaitable[object]]


@dataclass
class Row:
    """One line of the results table."""

    case: str
    sdk: float
    baseline: float
    baseline_name: str
    target: str = ""
    ok: bool | None = None

    @property
    def ratio(self) -> float:
        """SDK over baseline."""
        return self.sdk / self.baseline if self.baseline else float("nan")


@contextmanager
def payload_server() -> Iterator[str]:
    with subprocess.Popen(
        [sys.executable, "-m", "benchmarks.server"],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONPATH": str(Path.cwd())},
    ) as process:
        try:
            assert process.stdout is not None
            port = int(process.stdout.readline())
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()


ROUNDS = 7  # stacks alternate in this many rounds so drift on a shared machine cancels out


async def per_call(stacks: list[Stack], n: int) -> list[float]:
    """Median seconds of one call for each stack, calls made one after another.

    The stacks take turns in short rounds rather than running one after the other.
    """
    for fn in stacks:
        for _ in range(min(50, n)):
            await fn()
    times: list[list[float]] = [[] for _ in stacks]
    for _ in range(ROUNDS):
        for fn, record in zip(stacks, times, strict=True):
            for _ in range(max(1, n // ROUNDS)):
                start = time.perf_counter()
                await fn()
                record.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


async def throughput(stacks: list[Stack], total: int, callers: int) -> list[float]:
    """Calls per second for each stack with ``callers`` concurrent callers (median round)."""
    rates: list[list[float]] = [[] for _ in stacks]
    for _ in range(ROUNDS):
        for fn, record in zip(stacks, rates, strict=True):
            remaining = max(callers, total // ROUNDS)
            calls = remaining

            async def caller(fn: Stack = fn) -> None:
                nonlocal remaining
                while remaining > 0:
                    remaining -= 1
                    await fn()

            start = time.perf_counter()
            await asyncio.gather(*(caller() for _ in range(callers)))
            record.append(calls / (time.perf_counter() - start))
    return [statistics.median(r) for r in rates]


async def case_calls(base: str, n: int, total: int) -> list[Row]:
    """1. Per-call latency and throughput: SDK vs raw aiohttp vs httpx + pydantic."""
    rows: list[Row] = []
    async with (
        AsyncPhygitals(api_key=KEY, base_url=base + "/_") as sdk,
        aiohttp.ClientSession(headers={"X-API-Key": KEY}) as raw,
        httpx.AsyncClient(
            headers={"X-API-Key": KEY}, limits=httpx.Limits(max_connections=100)
        ) as peer,
    ):

        async def raw_get(path: str) -> Any:
            async with raw.get(base + path) as response:
                return json.loads(await response.read())

        async def peer_inventory() -> PInventory:
            response = await peer.get(base + "/_/api/v1/inventory/bench")
            return PInventory.model_validate_json(response.content)

        async def peer_packs() -> Any:
            response = await peer.get(
                base + "/_/api/v1/vm/available", params={"platform": "mainnet"}
            )
            return PACKS.validate_json(response.content)

        stacks: dict[str, tuple[Stack, Stack, Stack]] = {
            "inventory": (
                lambda: sdk.inventory("bench"),
                lambda: raw_get("/_/api/v1/inventory/bench"),
                peer_inventory,
            ),
            "list_packs": (
                sdk.list_packs,
                lambda: raw_get("/_/api/v1/vm/available?platform=mainnet"),
                peer_packs,
            ),
        }
        for name, (ours, floor, theirs) in stacks.items():
            mine, bare, pyd = await per_call([ours, floor, theirs], n)
            rows.append(
                Row(
                    f"{name}: one call (us)",
                    mine * 1e6,
                    bare * 1e6,
                    "raw aiohttp",
                    "<= 1.15x",
                    mine / bare <= 1.15,
                )
            )
            rows.append(
                Row(
                    f"{name}: one call vs httpx+pydantic",
                    mine * 1e6,
                    pyd * 1e6,
                    "httpx+pydantic",
                    "<= 0.67x",
                    mine / pyd <= 1 / 1.5,
                )
            )
            mine, bare, pyd = await throughput([ours, floor, theirs], total, 32)
            # Throughput: higher is better, so the ratio is baseline over ours (time ratio).
            rows.append(
                Row(
                    f"{name}: 32 callers (ms per 1k calls)",
                    1e6 / mine,
                    1e6 / bare,
                    "raw aiohttp",
                    "<= 1.15x",
                    bare / mine <= 1.15,
                )
            )
            rows.append(
                Row(
                    f"{name}: 32 callers vs httpx+pydantic",
                    1e6 / mine,
                    1e6 / pyd,
                    "httpx+pydantic",
                    "<= 0.67x",
                    mine / pyd >= 1.5,
                )
            )
    return rows


def timed(fns: list[Callable[[], object]], repeat: int) -> list[float]:
    """Median seconds of each function, the functions taking turns ``repeat`` times."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, record in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            record.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def decode_with_sdk(body: bytes) -> Inventory:
    """The seam's own decode path, GC pause included, as a response body goes through it."""
    call = Call("inventory", "GET", "/api/v1/inventory/x", Retry.SAFE)
    url = yarl.URL("http://bench/")
    with _gc_paused():
        data = Transport._parse(call, url, body)
        result: Inventory = Transport._structure(call, url, body, data, Inventory, converter())
    return result


def case_decode(items: int, repeat: int) -> list[Row]:
    """2. Decoding a large inventory: our converter vs json.loads vs pydantic v2."""
    body = payloads.inventory(items)
    assert len(decode_with_sdk(body).items) == items
    ours, bare, pyd = timed(
        [
            lambda: decode_with_sdk(body),
            lambda: json.loads(body),
            lambda: PInventory.model_validate_json(body),
        ],
        repeat,
    )
    return [
        Row(
            f"decode {items:,} items (ms)",
            ours * 1e3,
            bare * 1e3,
            "json.loads",
            "<= 2.0x",
            ours / bare <= 2.0,
        ),
        Row(
            f"decode {items:,} items vs pydantic",
            ours * 1e3,
            pyd * 1e3,
            "pydantic v2",
            "< 1.0x",
            ours < pyd,
        ),
    ]


def case_sync(base: str, n: int) -> list[Row]:
    """3. The blocking facade per call vs the async client vs requests, in alternating rounds."""
    blocking, via_requests, in_loop = [], [], []

    async def async_calls(count: int) -> list[float]:
        async with AsyncPhygitals(api_key=KEY, base_url=base + "/_") as sdk:
            for _ in range(20):
                await sdk.inventory("bench")
            times = []
            for _ in range(count):
                start = time.perf_counter()
                await sdk.inventory("bench")
                times.append(time.perf_counter() - start)
            return times

    with Phygitals(api_key=KEY, base_url=base + "/_") as client, requests.Session() as session:
        session.headers["X-API-Key"] = KEY
        per_round = max(1, n // ROUNDS)
        for _ in range(ROUNDS):
            blocking += timed_each(lambda: client.inventory("bench"), per_round)
            via_requests += timed_each(
                lambda: json.loads(session.get(base + "/_/api/v1/inventory/bench").content),
                per_round,
            )
            in_loop += asyncio.run(async_calls(per_round))
    sync, asyn, req = (statistics.median(t) for t in (blocking, in_loop, via_requests))
    return [
        Row(
            "sync facade one call (us)",
            sync * 1e6,
            asyn * 1e6,
            "AsyncPhygitals",
            "<= 1.5x",
            sync / asyn <= 1.5,
        ),
        Row("sync facade vs requests", sync * 1e6, req * 1e6, "requests", "< 1.0x", sync < req),
    ]


def timed_each(fn: Callable[[], object], n: int) -> list[float]:
    for _ in range(min(20, n)):
        fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


async def case_bulk(base: str, items: int, levels: list[int], rounds: int) -> list[Row]:
    """4. Bulk sellback throughput vs raw aiohttp at the same concurrency.

    The two stacks alternate for ``rounds`` rounds and the medians are compared: on a
    shared two-core machine one round of each varies by +-20%.
    """
    rows = []
    ids = [f"v1|{n}|0" for n in range(items)]
    async with (
        AsyncPhygitals(api_key=KEY, base_url=base + "/_", max_connections=256) as sdk,
        aiohttp.ClientSession(
            headers={"X-API-Key": KEY}, connector=aiohttp.TCPConnector(limit=256)
        ) as raw,
    ):
        for level in levels:
            slots = asyncio.Semaphore(level)

            async def sell(item_id: str, slots: asyncio.Semaphore = slots) -> Decimal:
                async with (
                    slots,
                    raw.post(base + "/_/api/v1/vm/buyback", json={"item_id": item_id}) as response,
                ):
                    return Decimal(str(json.loads(await response.read())["amount"]))

            ours, bare = [], []
            for _ in range(rounds):
                start = time.perf_counter()
                report = await sdk.sell_back_many(ids, concurrency=level)
                ours.append(time.perf_counter() - start)
                assert len(report.succeeded) == items
                start = time.perf_counter()
                await asyncio.gather(*(sell(i) for i in ids))
                bare.append(time.perf_counter() - start)
            mine, floor = statistics.median(ours), statistics.median(bare)
            rows.append(
                Row(
                    f"bulk {items:,} sellbacks, concurrency {level} (ms)",
                    mine * 1e3,
                    floor * 1e3,
                    "raw aiohttp",
                    "<= 1.18x" if level == 32 else "",
                    (floor / mine >= 0.85) if level == 32 else None,
                )
            )
    return rows


def peak(fn: Callable[[], object]) -> float:
    gc.collect()
    tracemalloc.start()
    result = fn()
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return top / 2**20


def case_memory(items: int) -> list[Row]:
    """5. Peak memory of decoding a very large inventory."""
    body = payloads.inventory(items)
    ours = peak(lambda: decode_with_sdk(body))
    bare = peak(lambda: json.loads(body))
    pyd = peak(lambda: PInventory.model_validate_json(body))
    return [
        Row(f"peak memory, {items:,}-item decode (MiB)", ours, bare, "json.loads"),
        Row(f"peak memory, {items:,}-item decode vs pydantic", ours, pyd, "pydantic v2"),
    ]


def print_table(rows: list[Row]) -> None:
    headers = ["case", "SDK", "baseline", "ratio", "baseline is", "target", "met"]
    cells = [
        [
            r.case,
            f"{r.sdk:,.1f}",
            f"{r.baseline:,.1f}",
            f"{r.ratio:.2f}x",
            r.baseline_name,
            r.target,
            "" if r.ok is None else ("yes" if r.ok else "NO"),
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    """Run the cases and print the table; ``--quick`` for a short run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, about 30 s")
    args = parser.parse_args(argv)
    quick = args.quick
    started = time.perf_counter()
    print(
        f"python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} cores; {'quick' if quick else 'full'} run"
    )
    rows: list[Row] = []
    with payload_server() as base:
        rows += asyncio.run(
            case_calls(base, n=300 if quick else 2000, total=1000 if quick else 5000)
        )
        rows += case_decode(10_000, repeat=3 if quick else 11)
        rows += case_sync(base, n=300 if quick else 2000)
        rows += asyncio.run(
            case_bulk(
                base,
                1000 if quick else 10_000,
                [8, 32] if quick else [1, 8, 32, 128],
                rounds=3,
            )
        )
    rows += case_memory(20_000 if quick else 100_000)
    print()
    print_table(rows)
    print(
        f"\n{time.perf_counter() - started:.0f} s; ratios are SDK / baseline (time or memory);"
        " lower is better."
    )
    return 0
