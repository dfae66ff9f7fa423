"""One side of ``python -m benchmarks --against REF``: a process that times rounds on command.

Run as a script (``python benchmarks/worker.py sdk|raw BASE_URL``) with ``PYTHONPATH``
pointing at the tree under test, so ``phygitals_async`` is that tree's. It imports nothing
from ``benchmarks`` (a tree's own ``benchmarks`` package may differ) and only what every
version of the SDK has: the public client classes and ``Transport.answer``, the seam's read
of one response.

It reads one case name per line on stdin, times one round of it, and writes one JSON line:
``{"value": ..., "cpu": ...}`` (the round's figure in wall time and in this process's CPU
time, lower is better) or ``{"error": ...}``. The parent
sends the same case to every worker in turn, so drift on a shared machine hits all alike.
``sdk`` times the SDK (``PHYGITALS_SPEEDUPS=0`` in its environment for the pure path);
``raw`` times raw aiohttp + ``json.loads``, the floor.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp

KEY = "sandbox-bench"
INVENTORY = "/_/api/v1/inventory/bench"
LARGE = "/_/api/v1/inventory/large"  # the server's 10,000-item inventory
BUYBACK = "/_/api/v1/vm/buyback"
CALLERS = 32


class _Side:
    """What one worker times: each case as an awaitable round of work."""

    def __init__(self, base: str, sizes: dict[str, int]) -> None:
        self.base = base
        self.sizes = sizes

    async def one(self) -> None:
        raise NotImplementedError

    async def large(self) -> None:
        raise NotImplementedError

    async def bulk(self, ids: list[str]) -> None:
        raise NotImplementedError

    def decode(self, body: bytes) -> None:
        raise NotImplementedError

    def blocking(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        return None


class _Raw(_Side):
    """aiohttp + ``json.loads`` (and a semaphore for the bulk run): nothing checked, untyped."""

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(
            headers={"X-API-Key": KEY}, connector=aiohttp.TCPConnector(limit=256)
        )

    async def _get(self, path: str) -> Any:
        async with self.session.get(self.base + path) as response:
            return json.loads(await response.read())

    async def one(self) -> None:
        await self._get(INVENTORY)

    async def large(self) -> None:
        await self._get(LARGE)

    async def bulk(self, ids: list[str]) -> None:
        slots = asyncio.Semaphore(CALLERS)

        async def sell(item_id: str) -> Decimal:
            async with (
                slots,
                self.session.post(self.base + BUYBACK, json={"item_id": item_id}) as response,
            ):
                return Decimal(json.loads(await response.read(), parse_float=Decimal)["amount"])

        await asyncio.gather(*(sell(i) for i in ids))

    def decode(self, body: bytes) -> None:
        json.loads(body)

    async def close(self) -> None:
        await self.session.close()


class _Sdk(_Side):
    """The SDK of the tree on ``PYTHONPATH``, on the path its environment selects."""

    async def start(self) -> None:
        import yarl  # noqa: PLC0415  after PYTHONPATH decided which tree this is

        from phygitals_async import AsyncPhygitals, Inventory, Phygitals  # noqa: PLC0415

        try:
            from phygitals_async._http import Call, Retry  # noqa: PLC0415
        except ImportError:  # a tree from before the seam had its folder (Retry not public)
            from phygitals_async._calls import (  # type: ignore[import-not-found,no-redef]  # noqa: PLC0415
                Call,
                Retry,
            )

        self.client = AsyncPhygitals(api_key=KEY, base_url=self.base + "/_", max_connections=256)
        self.blocking_client = Phygitals(api_key=KEY, base_url=self.base + "/_")
        self.call = Call("inventory", "GET", "/api/v1/inventory/x", Retry.SAFE, Inventory)
        self.url = yarl.URL(self.base)

    async def one(self) -> None:
        await self.client.inventory("bench")

    async def large(self) -> None:
        await self.client.inventory("large")

    async def bulk(self, ids: list[str]) -> None:
        report = await self.client.sell_back_many(ids, concurrency=CALLERS)
        assert len(report.succeeded) == len(ids)

    def decode(self, body: bytes) -> None:
        # The seam's own read of a 200 answer: checks, bounds and GC pause included.
        self.client._transport.answer(self.call, self.url, 200, {}, body)

    def blocking(self) -> None:
        self.blocking_client.inventory("bench")

    async def close(self) -> None:
        await self.client.aclose()
        await asyncio.to_thread(self.blocking_client.close)


def _timed(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def _timed_async(fn: Callable[[], Awaitable[object]], n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def _callers(fn: Callable[[], Awaitable[object]], total: int) -> float:
    remaining = total

    async def caller() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await fn()

    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(CALLERS)))
    return (time.perf_counter() - start) / total


async def _round(side: _Side, case: str, body: bytes, ids: list[str]) -> tuple[float, float]:
    """One round of ``case``: its figure (us per call, or ms per run) and the same in CPU.

    CPU time is this process's (the client's threads, not the server's): on a shared
    machine it moves far less than wall time when other work takes the cores.
    """
    n = side.sizes
    started = time.process_time()
    units, scale = 1, 1e3
    if case == "one":
        value, units, scale = await _timed_async(side.one, n["calls"]) * 1e6, n["calls"], 1e6
    elif case == "callers":
        value, units, scale = await _callers(side.one, n["total"]) * 1e6, n["total"], 1e6
    elif case == "large":
        value, units = await _timed_async(side.large, n["large"]) * 1e3, n["large"]
    elif case == "decode":
        value, units = _timed(lambda: side.decode(body), n["large"]) * 1e3, n["large"]
    elif case == "bulk":
        start = time.perf_counter()
        await side.bulk(ids)
        value = (time.perf_counter() - start) * 1e3
    elif case == "blocking":
        value = await asyncio.to_thread(_timed, side.blocking, n["calls"]) * 1e6
        units, scale = n["calls"], 1e6
    else:
        msg = f"unknown case {case!r}"
        raise ValueError(msg)
    return value, (time.process_time() - started) / units * scale


async def serve(kind: str, base: str, sizes: dict[str, int]) -> None:
    side: _Sdk | _Raw = _Sdk(base, sizes) if kind == "sdk" else _Raw(base, sizes)
    await side.start()
    try:
        async with aiohttp.ClientSession() as plain, plain.get(base + LARGE) as response:
            body = await response.read()
        ids = [f"v1|{n}|0" for n in range(sizes["items"])]
        for _ in range(20):  # warm up the pool and the decoders
            await side.one()
        where = sys.modules.get("phygitals_async")
        print(json.dumps({"ready": getattr(where, "__file__", None)}), flush=True)
        loop = asyncio.get_running_loop()
        while case := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
            try:
                value, cpu = await _round(side, case, body, ids)
                reply: dict[str, Any] = {"value": value, "cpu": cpu}
            except NotImplementedError:
                reply = {"value": None, "cpu": None}
            except Exception as exc:  # noqa: BLE001  reported to the parent, which stops
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(reply), flush=True)
    finally:
        await side.close()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2], json.loads(os.environ["BENCH_SIZES"])))
