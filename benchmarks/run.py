"""Benchmarks of the SDK's two decode paths against raw aiohttp, httpx + pydantic v2, requests.

``pure`` is the cattrs converter alone; ``speedups`` is the msgspec path of the extra. Both
run side by side in this one run against a payload server in its own process on loopback,
every ratio compares figures from the same rounds, and each goal is printed as ok or as
miss by how much.
``--quick`` trims counts for a run of about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from decimal import Decimal
from functools import partial
from typing import Any

import aiohttp
import httpx
import requests
import yarl

from benchmarks import against, handbuilt, payloads, plots
from benchmarks.measure import (
    PATHS,
    ROUNDS,
    Goal,
    Row,
    Stack,
    payload_server,
    peak,
    per_call,
    print_table,
    row,
    throughput,
    timed,
    timed_each,
)
from benchmarks.peers import PACKS, PInventory
from benchmarks.server import LARGE_ITEMS
from phygitals_async import AsyncPhygitals, Inventory, Phygitals
from phygitals_async._http import Call, Retry, Transport, _answers
from phygitals_async._http._answers import gc_paused

KEY = "sandbox-bench"

# The goals, as ratios of SDK time (or memory) over the baseline. Bulk rows compare times,
# so reaching a share of raw aiohttp's throughput is a time ratio at most its inverse.
HTTPX_PYDANTIC = Goal(1 / 3, text="<= 0.33x (3x faster)")
ONE_CALL = Goal({"pure": 1.15, "speedups": 1.10})
CALLERS_32 = Goal({"pure": 1.35, "speedups": 1.20})
HAND_BUILT = Goal(1.05, ("pure",))
DECODE = Goal(1.0, ("speedups",))
LARGE = Goal(0.9, ("speedups",))
SYNC = Goal(1.3)
BULK_32 = Goal(
    {"pure": 1 / 0.95, "speedups": 1.0},
    text="pure >= 0.95x raw throughput, speedups >= 1.0x",
)
MEMORY = Goal(1.5)


def speedups_available() -> bool:
    """Whether the msgspec path is installed (and not switched off)."""
    return _transport(fast=True)._reader.fast is not None


def pure(client: AsyncPhygitals) -> AsyncPhygitals:
    """``client`` with the msgspec path switched off: the converter decodes everything."""
    client._transport._reader.fast = None
    return client


def _transport(*, fast: bool) -> Transport:
    # Never connected: only its decoding runs.
    seam = AsyncPhygitals(api_key=KEY, base_url="http://bench/_")._transport
    if not fast:
        seam._reader.fast = None
    return seam


def decoder(*, fast: bool) -> Callable[[bytes], Inventory]:
    """The seam's own decode of an inventory body, GC pause included, as a response gets."""
    seam = _transport(fast=fast)
    call = Call("inventory", "GET", "/api/v1/inventory/x", Retry.SAFE, Inventory)
    url = yarl.URL("http://bench/")

    def decode(body: bytes) -> Inventory:
        with gc_paused():
            reader = seam._reader
            result = _answers.decode(call, url, body, {}, reader.converter, reader.fast)
        assert isinstance(result, Inventory)  # a benchmark body always decodes
        return result

    return decode


def sdk_clients(base: str, paths: tuple[str, ...], **options: Any) -> dict[str, AsyncPhygitals]:
    """One ``AsyncPhygitals`` per decode path; the caller closes them."""
    clients = {path: AsyncPhygitals(api_key=KEY, base_url=base + "/_", **options) for path in paths}
    pure(clients["pure"])
    return clients


async def case_calls(base: str, paths: tuple[str, ...], n: int, total: int) -> list[Row]:
    """1. One call and 32 concurrent callers: both paths vs the floors and the peer."""
    sdk = sdk_clients(base, paths)
    async with (
        aiohttp.ClientSession(headers={"X-API-Key": KEY}) as raw,
        httpx.AsyncClient(
            headers={"X-API-Key": KEY}, limits=httpx.Limits(max_connections=100)
        ) as peer,
    ):
        try:
            return await _calls(base, sdk, raw, peer, paths, n, total)
        finally:
            for client in sdk.values():
                await client.aclose()


async def _calls(
    base: str,
    sdk: dict[str, AsyncPhygitals],
    raw: aiohttp.ClientSession,
    peer: httpx.AsyncClient,
    paths: tuple[str, ...],
    n: int,
    total: int,
) -> list[Row]:
    async def raw_body(path: str) -> bytes:
        async with raw.get(base + path) as response:
            return await response.read()

    inventory_path = "/_/api/v1/inventory/bench"
    packs_path = "/_/api/v1/vm/available?platform=mainnet"

    async def peer_inventory() -> PInventory:
        response = await peer.get(base + inventory_path)
        return PInventory.model_validate_json(response.content)

    async def peer_packs() -> Any:
        response = await peer.get(base + "/_/api/v1/vm/available", params={"platform": "mainnet"})
        return PACKS.validate_json(response.content)

    async def raw_inventory() -> Any:
        return json.loads(await raw_body(inventory_path))

    async def hand_inventory() -> Inventory:
        return handbuilt.inventory(await raw_body(inventory_path))

    async def raw_packs() -> Any:
        return json.loads(await raw_body(packs_path))

    async def hand_packs() -> Any:
        return handbuilt.packs(await raw_body(packs_path))

    endpoints: dict[str, tuple[list[Stack], Stack, Stack, Stack]] = {
        "inventory": (
            [partial(sdk[p].inventory, "bench") for p in paths],
            raw_inventory,
            hand_inventory,
            peer_inventory,
        ),
        "list_packs": (
            [sdk[p].list_packs for p in paths],
            raw_packs,
            hand_packs,
            peer_packs,
        ),
    }
    rows = []
    for name, (ours, floor, hand, theirs) in endpoints.items():
        stacks = [*ours, floor, hand, theirs]
        for label, seconds, goal in (
            ("one call (us)", await per_call(stacks, n), ONE_CALL),
            ("32 callers (ms per 1k calls)", await throughput(stacks, total, 32), CALLERS_32),
        ):
            *mine, bare, built, pyd = [t * 1e6 for t in seconds]
            values = dict(zip(paths, mine, strict=True))
            rows += [
                row(f"{name}: {label}", "raw aiohttp + json.loads", values, bare, goal),
                row(f"{name}: {label}", "raw + attrs by hand", values, built, HAND_BUILT),
                row(f"{name}: {label}", "httpx + pydantic", values, pyd, HTTPX_PYDANTIC),
            ]
    return rows


async def case_large(base: str, paths: tuple[str, ...], n: int) -> list[Row]:
    """2b. A 10,000-item inventory end to end: each path vs raw aiohttp + json.loads.

    The raw baseline is written as users write it, the cyclic GC running as it does.
    """
    sdk = sdk_clients(base, paths)
    async with aiohttp.ClientSession(headers={"X-API-Key": KEY}) as raw:

        async def raw_large() -> Any:
            async with raw.get(base + "/_/api/v1/inventory/large") as response:
                return json.loads(await response.read())

        try:
            stacks: list[Stack] = [partial(sdk[p].inventory, "large") for p in paths]
            *mine, bare = await per_call([*stacks, raw_large], n)
        finally:
            for client in sdk.values():
                await client.aclose()
    values = {path: t * 1e3 for path, t in zip(paths, mine, strict=True)}
    case = f"inventory of {LARGE_ITEMS:,} items end to end (ms)"
    return [row(case, "raw aiohttp + json.loads", values, bare * 1e3, LARGE)]


def paused(fn: Callable[[bytes], object], body: bytes) -> object:
    """``fn(body)`` with the cyclic GC paused, as the SDK decodes a large body."""
    with gc_paused():
        return fn(body)


def case_decode(paths: tuple[str, ...], items: int, repeat: int) -> list[Row]:
    """2. Decoding a 10,000-item inventory body: each path vs json.loads and pydantic v2.

    The GC is paused for every decoder, the SDK's paths and the baselines alike.
    """
    body = payloads.inventory(items)
    decoders = [decoder(fast=path == "speedups") for path in paths]
    reference = decoders[0](body)
    assert all(decode(body) == reference for decode in decoders)
    assert len(reference.items) == items
    *mine, bare, built, pyd = timed(
        [
            *(partial(d, body) for d in decoders),
            partial(paused, json.loads, body),
            partial(paused, handbuilt.inventory, body),
            partial(paused, PInventory.model_validate_json, body),
        ],
        repeat,
    )
    values = {path: t * 1e3 for path, t in zip(paths, mine, strict=True)}
    case = f"decode {items:,} items (ms)"
    return [
        row(case, "json.loads", values, bare * 1e3, DECODE),
        row(case, "json.loads + attrs by hand", values, built * 1e3),
        row(case, "pydantic v2", values, pyd * 1e3),
    ]


def case_sync(base: str, paths: tuple[str, ...], n: int) -> list[Row]:
    """3. The blocking facade per call vs the async client (same path) vs requests."""
    blocking: dict[str, list[float]] = {p: [] for p in paths}
    in_loop: dict[str, list[float]] = {p: [] for p in paths}
    via_requests: list[float] = []

    async def async_calls(path: str, count: int) -> list[float]:
        async with AsyncPhygitals(api_key=KEY, base_url=base + "/_") as sdk:
            if path == "pure":
                pure(sdk)
            for _ in range(20):
                await sdk.inventory("bench")
            times = []
            for _ in range(count):
                start = time.perf_counter()
                await sdk.inventory("bench")
                times.append(time.perf_counter() - start)
            return times

    with ExitStack() as stack, requests.Session() as session:
        clients = {
            p: stack.enter_context(Phygitals(api_key=KEY, base_url=base + "/_")) for p in paths
        }
        pure(clients["pure"]._client)
        session.headers["X-API-Key"] = KEY
        per_round = max(1, n // ROUNDS)
        for _ in range(ROUNDS):
            for path, client in clients.items():
                blocking[path] += timed_each(partial(client.inventory, "bench"), per_round)
                in_loop[path] += asyncio.run(async_calls(path, per_round))
            via_requests += timed_each(
                lambda: json.loads(session.get(base + "/_/api/v1/inventory/bench").content),
                per_round,
            )
    sync = {p: statistics.median(t) * 1e6 for p, t in blocking.items()}
    asyn = {p: statistics.median(t) * 1e6 for p, t in in_loop.items()}
    req = statistics.median(via_requests) * 1e6
    return [
        row("sync facade one call (us)", "AsyncPhygitals", sync, asyn, SYNC),
        row("sync facade one call (us)", "requests + json.loads", sync, req),
    ]


async def case_bulk(
    base: str, paths: tuple[str, ...], items: int, levels: list[int], rounds: int
) -> list[Row]:
    """4. Bulk sellback: each path vs raw aiohttp with a semaphore at the same concurrency."""
    rows = []
    ids = [f"v1|{n}|0" for n in range(items)]
    sdk = sdk_clients(base, paths, max_connections=256)
    async with aiohttp.ClientSession(
        headers={"X-API-Key": KEY}, connector=aiohttp.TCPConnector(limit=256)
    ) as raw:
        try:
            for level in levels:
                ours, bare = await _bulk_level(base, sdk, raw, ids, level, rounds)
                rows.append(
                    row(
                        f"bulk {items:,} sellbacks, concurrency {level} (ms)",
                        "raw aiohttp",
                        ours,
                        bare,
                        BULK_32 if level == 32 else None,
                    )
                )
        finally:
            for client in sdk.values():
                await client.aclose()
    return rows


async def _bulk_level(
    base: str,
    sdk: dict[str, AsyncPhygitals],
    raw: aiohttp.ClientSession,
    ids: list[str],
    level: int,
    rounds: int,
) -> tuple[dict[str, float], float]:
    """Median ms of selling every id at ``level``, for each path and for raw aiohttp."""
    slots = asyncio.Semaphore(level)

    async def sell(item_id: str) -> Decimal:
        async with (
            slots,
            raw.post(base + "/_/api/v1/vm/buyback", json={"item_id": item_id}) as response,
        ):
            body = json.loads(await response.read(), parse_float=Decimal)
            return Decimal(body["amount"])

    ours: dict[str, list[float]] = {p: [] for p in sdk}
    bare = []
    for _ in range(rounds):
        for path, client in sdk.items():
            start = time.perf_counter()
            report = await client.sell_back_many(ids, concurrency=level)
            ours[path].append(time.perf_counter() - start)
            assert len(report.succeeded) == len(ids)
        start = time.perf_counter()
        await asyncio.gather(*(sell(i) for i in ids))
        bare.append(time.perf_counter() - start)
    return {p: statistics.median(t) * 1e3 for p, t in ours.items()}, statistics.median(bare) * 1e3


def case_memory(paths: tuple[str, ...], sizes: list[int]) -> list[Row]:
    """5. Peak memory of decoding large inventories vs json.loads alone."""
    rows = []
    decoders = {p: decoder(fast=p == "speedups") for p in paths}
    for decode in decoders.values():
        decode(payloads.inventory(10))  # msgspec's decoders are built on first use
    for items in sizes:
        body = payloads.inventory(items)
        values = {p: peak(partial(d, body)) for p, d in decoders.items()}
        bare = peak(partial(json.loads, body))
        case = f"peak memory, {items:,}-item decode (MiB)"
        rows.append(row(case, "json.loads", values, bare, MEMORY if items == max(sizes) else None))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the cases and print the table; ``--quick`` for a short run."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, about a minute")
    parser.add_argument(
        "--against",
        metavar="REF",
        help="compare this tree with a git ref (a commit, branch or tag) in one run instead",
    )
    parser.add_argument(
        "--case",
        action="append",
        choices=[case for case, _ in against.CASES],
        help="with --against: only this case (repeatable)",
    )
    parser.add_argument(
        "--rounds", type=int, metavar="N", help="with --against: rounds (default 7, quick 5)"
    )
    parser.add_argument("--save", metavar="FILE", help="also write the run's rows as JSON")
    parser.add_argument(
        "--plot",
        metavar="FILE",
        help="draw the pictures of a run saved with --save (docs/images/benchmarks/)",
    )
    parser.add_argument(
        "--fleet", metavar="FILE", help="with --plot: a run saved by benchmarks.fleet_latency"
    )
    options = parser.parse_args(argv)
    quick = options.quick
    if options.plot:
        return plots.main(options.plot, options.fleet)
    if options.against:
        return against.main(options.against, quick=quick, cases=options.case, rounds=options.rounds)
    started = time.perf_counter()
    paths = PATHS if speedups_available() else ("pure",)
    print(
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; "
        f"{'quick' if quick else 'full'} run; paths: {', '.join(paths)}"
    )
    if len(paths) == 1:
        print("msgspec is not installed: pip install -e '.[speedups]' to compare both paths")
    rows: list[Row] = []
    with payload_server() as base:
        rows += asyncio.run(
            case_calls(base, paths, n=300 if quick else 2000, total=1000 if quick else 5000)
        )
        rows += asyncio.run(case_large(base, paths, n=7 if quick else 21))
        rows += case_decode(paths, 10_000, repeat=3 if quick else 11)
        rows += case_sync(base, paths, n=140 if quick else 1400)
        rows += asyncio.run(
            case_bulk(
                base,
                paths,
                1000 if quick else 10_000,
                [8, 32] if quick else [1, 8, 32, 128],
                rounds=3,
            )
        )
    rows += case_memory(paths, [2_000, 20_000] if quick else [10_000, 100_000])
    print()
    print_table(rows, paths)
    if options.save:
        command = "python -m benchmarks" + (" --quick" if quick else "")
        plots.save(rows, options.save, command)
    print(
        f"\n{time.perf_counter() - started:.0f} s; ratios are SDK / baseline (time or memory), "
        "lower is better; each path is compared with the baseline measured in the same rounds."
    )
    return 0
