"""Where 32 concurrent ``inventory`` callers' time goes, layer by layer, in one process.

``python -m benchmarks.callers_anatomy [--rounds N] [--calls N]``. Against the payload
server of ``benchmarks.server`` in its own process, 32 concurrent callers in this one event
loop, each way below taking its turn in every round in a new random order (so no way
always runs after another). Each way's figure is the client's CPU per call; its ratio is
the median, over the rounds, of its CPU over raw aiohttp's in the same round. ``raw again``
is raw aiohttp a second time: how far two identical ways read apart.

1. ``raw``: aiohttp's ``session.get`` and ``json.loads``, the benchmark's floor.
2. ``raw, sdk session``: the client's own session, URL object and timeouts, ``json.loads``.
3. ``untyped msgspec``: the same, with msgspec's untyped decode instead of ``json.loads``.
4. ``typed decode``: the same, the key scrubbed and the body decoded into the models by
   the seam's own decode (msgspec with the ``speedups`` extra, the converter without).
5. ``request``: ``Transport.request`` of a prepared call, the whole seam: deadline,
   retries, logging and tracing switches, the body read within its bound, headers
   scrubbed, errors mapped, observers, the decode.
6. ``client``: ``client.inventory("bench")``: the id checked and encoded, the call built,
   the items marked with their owner.

A probe of private layers, not a supported API. Differences between rows say what each
layer costs under 32 concurrent callers, where every layer costs several times what a
tight loop of it does (the callers take turns, so each resumes with cold caches).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import yarl

from benchmarks.measure import concurrently, payload_server
from benchmarks.run import KEY, sdk_clients, speedups_available
from phygitals_async import AsyncPhygitals
from phygitals_async._http import _answers
from phygitals_async._http._calls import Call, Retry
from phygitals_async._http._secrets import scrub_body
from phygitals_async._models import Inventory

PATH = "/_/api/v1/inventory/bench"
Way = Callable[[], Awaitable[object]]


def _ways(base: str, client: AsyncPhygitals, raw: aiohttp.ClientSession) -> dict[str, Way]:
    seam = client._transport  # a probe of the layers: private on purpose
    session = seam._get_session()
    url = yarl.URL(base + PATH, encoded=True)
    limits = seam._timeout(seam.settings.timeout, seam.settings.timeout)
    reader, secret = seam._reader, seam._secret
    call = Call.get("inventory", "/api/v1/inventory/bench", Retry.SAFE, Inventory)
    untyped = _untyped()

    def typed(body: bytes) -> object:
        return _answers.decode(call, url, body, {}, reader.converter, reader.fast)

    async def get(decode: Callable[[bytes], object]) -> object:
        async with session.request(
            "GET", url, headers=None, timeout=limits, allow_redirects=False, proxy=None
        ) as response:
            return decode(scrub_body(await response.read(), secret))

    async def bare() -> object:
        async with raw.get(base + PATH) as response:
            return json.loads(await response.read())

    return {
        "raw": bare,
        "raw, sdk session": lambda: get(json.loads),
        "untyped msgspec": lambda: get(untyped),
        "typed decode": lambda: get(typed),
        "request": lambda: seam.request(call),
        "client": lambda: client.inventory("bench"),
        "raw again": bare,
    }


def _untyped() -> Callable[[bytes], Any]:
    try:
        import msgspec  # noqa: PLC0415  the speedups extra
    except ImportError:
        return json.loads
    return msgspec.json.Decoder().decode


async def _round(way: Way, calls: int) -> float:
    """The client's CPU seconds per call of ``calls`` calls made by 32 concurrent callers."""
    started = time.process_time()
    await concurrently(way, calls, 32)
    return (time.process_time() - started) / calls


async def _run(base: str, path: str, rounds: int, calls: int) -> None:
    clients = sdk_clients(base, ("pure", "speedups") if speedups_available() else ("pure",))
    try:
        async with aiohttp.ClientSession(headers={"X-API-Key": KEY}) as raw:
            ways = _ways(base, clients[path], raw)
            for way in ways.values():  # connections opened, decoders built
                await _round(way, 200)
            cpu: dict[str, list[float]] = {name: [] for name in ways}
            for _ in range(rounds):
                order = list(ways.items())
                random.shuffle(order)
                for name, way in order:
                    cpu[name].append(await _round(way, calls))
    finally:
        for client in clients.values():
            await client.aclose()
    print(f"{path} path: client CPU per call, 32 callers, {rounds} rounds of {calls} calls")
    print(f"{'way':18}  {'us/call':>8}  {'x raw':>6}  {'middle half':>11}")
    for name, figures in cpu.items():
        ratios = sorted(a / b for a, b in zip(figures, cpu["raw"], strict=True))
        quarter = len(ratios) // 4
        print(
            f"{name:18}  {statistics.median(figures) * 1e6:8.1f}  "
            f"{statistics.median(ratios):5.2f}x  "
            f"{ratios[quarter]:.2f}-{ratios[-quarter - 1]:.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--calls", type=int, default=400, help="calls per way and round")
    parser.add_argument(
        "--path",
        choices=["pure", "speedups"],
        default="speedups" if speedups_available() else "pure",
        help="the client's decode path",
    )
    options = parser.parse_args(argv)
    spare = bytes(1 << 21)  # freed: glibc's mmap threshold rises (see benchmarks/README.md)
    del spare
    with payload_server() as base:
        asyncio.run(_run(base, options.path, options.rounds, options.calls))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
