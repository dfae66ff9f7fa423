"""This tree against a git ref in one process: both versions of the SDK side by side.

``python -m benchmarks.side_by_side REF [--case one|callers|bulk ...] [--rounds N]``.
REF's ``phygitals_async`` is copied out of git (``git archive``) and imported under
another name, ``phygitals_ref``, beside this tree's, so both run in the same process and
event loop, against one payload server (``benchmarks.server``, its own process). Each
round runs every way of a case (raw aiohttp + ``json.loads``, REF and this tree on each
decode path, raw aiohttp again) in a new random order, and each way's figure is this
process's CPU per call or per item.

Printed per case and path: each version's median, the median over the rounds of the
ratio now/REF with its middle half, and each version over raw aiohttp in the same rounds.
``raw again`` over ``raw`` is the A/A check: how far two identical ways read apart.

Why a second way to compare besides ``--against``: two processes on a shared 2-core
machine can read 10-20% apart for a whole run (which core each got, what its allocator
went through), which hides changes of a few percent; two versions in one process, taking
turns in random order, read within 2-5% of each other. What it cannot see: import time,
and anything that differs between processes. REF must import as a copy of itself: its
modules import each other relatively, as this package's do.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from functools import partial
from io import BytesIO
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp

import phygitals_async
from benchmarks.measure import concurrently, payload_server
from benchmarks.run import KEY, speedups_available

CASES = ("one", "callers", "bulk")
INVENTORY = "/_/api/v1/inventory/bench"
BUYBACK = "/_/api/v1/vm/buyback"
CALLS = 400  # per way and round, of "one" and "callers"
BULK_ITEMS = 2000  # per way and round
Way = Callable[[], Awaitable[object]]


def ref_package(ref: str, into: Path) -> ModuleType:
    """REF's ``phygitals_async``, imported from ``into`` as ``phygitals_ref``."""
    archive = subprocess.run(  # noqa: S603
        # The ref is the caller's own argument, run by the caller's git.
        ["git", "archive", "--format=tar", ref, "phygitals_async"],  # noqa: S607
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "phygitals_async").rename(into / "phygitals_ref")
    sys.path.insert(0, str(into))
    return importlib.import_module("phygitals_ref")


def _client(package: ModuleType, base: str, *, pure: bool) -> Any:
    """A client of ``package``; the pure path as its users switch to it, by environment."""
    before = os.environ.get("PHYGITALS_SPEEDUPS")
    os.environ["PHYGITALS_SPEEDUPS"] = "0" if pure else "1"
    try:
        return package.AsyncPhygitals(api_key=KEY, base_url=base + "/_", max_connections=256)
    finally:
        if before is None:
            del os.environ["PHYGITALS_SPEEDUPS"]
        else:
            os.environ["PHYGITALS_SPEEDUPS"] = before


def _ways(
    case: str, base: str, raw: aiohttp.ClientSession, clients: dict[str, Any]
) -> dict[str, Way]:
    """The ways of ``case``: raw aiohttp, then each client's, then raw aiohttp again."""
    if case == "bulk":
        ids = [f"v1|{n}|0" for n in range(BULK_ITEMS)]
        bare: Way = partial(_raw_bulk, base, raw, ids)
        ways = {name: partial(c.sell_back_many, ids, concurrency=32) for name, c in clients.items()}
    else:
        callers = 1 if case == "one" else 32
        bare = partial(concurrently, partial(_raw_inventory, base, raw), CALLS, callers)
        ways = {
            name: partial(concurrently, partial(c.inventory, "bench"), CALLS, callers)
            for name, c in clients.items()
        }
    return {"raw": bare, **ways, "raw again": bare}


async def _raw_inventory(base: str, raw: aiohttp.ClientSession) -> object:
    async with raw.get(base + INVENTORY) as response:
        return json.loads(await response.read())


async def _raw_bulk(base: str, raw: aiohttp.ClientSession, ids: list[str]) -> object:
    slots = asyncio.Semaphore(32)

    async def sell(item_id: str) -> Decimal:
        async with slots, raw.post(base + BUYBACK, json={"item_id": item_id}) as response:
            return Decimal(json.loads(await response.read(), parse_float=Decimal)["amount"])

    return await asyncio.gather(*(sell(i) for i in ids))


async def _case(case: str, ways: dict[str, Way], rounds: int) -> dict[str, list[float]]:
    per = BULK_ITEMS if case == "bulk" else CALLS
    for way in ways.values():  # connections opened, decoders built
        await way()
    cpu: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        order = list(ways.items())
        random.shuffle(order)
        for name, way in order:
            started = time.process_time()
            await way()
            cpu[name].append((time.process_time() - started) / per)
    return cpu


def _middle(ratios: list[float]) -> str:
    ratios = sorted(ratios)
    quarter = len(ratios) // 4
    return f"{statistics.median(ratios):.3f}x  {ratios[quarter]:.2f}-{ratios[-quarter - 1]:.2f}"


def _print(case: str, cpu: dict[str, list[float]], paths: list[str], ref: str) -> None:
    raw = cpu["raw"]
    unit = "item" if case == "bulk" else "call"
    print(f"\n{case}: client CPU per {unit} (us)")
    for path in paths:
        now, old = cpu[f"now {path}"], cpu[f"ref {path}"]
        over = [a / b for a, b in zip(now, old, strict=True)]
        print(
            f"  {path:9} {ref} {statistics.median(old) * 1e6:7.1f}  now "
            f"{statistics.median(now) * 1e6:7.1f}  now/{ref} {_middle(over)}  x raw: "
            f"{statistics.median(a / b for a, b in zip(old, raw, strict=True)):.2f}x -> "
            f"{statistics.median(a / b for a, b in zip(now, raw, strict=True)):.2f}x"
        )
    again = [a / b for a, b in zip(cpu["raw again"], raw, strict=True)]
    print(f"  A/A: raw again / raw {_middle(again)}")


async def _run(base: str, ref: ModuleType, cases: list[str], rounds: int, name: str) -> None:
    paths = ["pure", "speedups"] if speedups_available() else ["pure"]
    clients = {}
    for path in paths:
        for label, package in (("ref", ref), ("now", phygitals_async)):
            clients[f"{label} {path}"] = _client(package, base, pure=path == "pure")
    try:
        connector = aiohttp.TCPConnector(limit=256)
        async with aiohttp.ClientSession(headers={"X-API-Key": KEY}, connector=connector) as raw:
            for case in cases:
                cpu = await _case(case, _ways(case, base, raw, clients), rounds)
                _print(case, cpu, paths, name)
    finally:
        for client in clients.values():
            await client.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("ref", help="a git ref: a commit, branch or tag")
    parser.add_argument("--case", action="append", choices=CASES, help="repeatable; all by default")
    parser.add_argument("--rounds", type=int, default=21)
    options = parser.parse_args(argv)
    started, load = time.perf_counter(), os.getloadavg()[0]
    spare = bytes(1 << 21)  # freed: glibc's mmap threshold rises (see benchmarks/README.md)
    del spare
    with tempfile.TemporaryDirectory(prefix="phygitals-ref-") as parent, payload_server() as base:
        ref = ref_package(options.ref, Path(parent))
        asyncio.run(_run(base, ref, options.case or list(CASES), options.rounds, options.ref))
    print(
        f"\n{time.perf_counter() - started:.0f} s, {options.rounds} rounds, load average "
        f"{load:.1f} -> {os.getloadavg()[0]:.1f}; now/{options.ref}: the median of the "
        "rounds' ratios and their middle half; below 1.00x this tree spends less."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
