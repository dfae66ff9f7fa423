"""Where the 10,000-item decode and the blocking client's time go, taken apart in one process.

``python -m benchmarks.decode_anatomy [--rounds N] [--items N]``. Two questions the goals
ask and the main benchmark cannot answer, since it times each whole:

* **decode** (``speedups``): ``json.loads`` of a 10,000-item inventory body against the
  SDK's msgspec path in its two halves: msgspec filling the private wire structs, then the
  generated code turning them into the public attrs models (the card traits' part of it
  shown on its own). The cyclic GC is paused for each, as the SDK pauses it.
* **blocking**: the time the blocking client adds to a call, with no HTTP at all: a
  coroutine that returns at once, awaited in the loop against run through the blocking
  client's hand-off to its loop thread and back.

Each way takes its turn in every round in a new random order; the figures are medians. A
probe of private parts, not a supported API.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from benchmarks import payloads
from benchmarks.run import KEY, decoder
from phygitals_async import Inventory, Phygitals
from phygitals_async._decode import _fast
from phygitals_async._decode._converter import _json_integer
from phygitals_async._decode._hooks import structure_decimal
from phygitals_async._limits import bounded_decimal
from phygitals_async._models import Attribute

HANDOFFS = 2_000  # blocking calls per round


def _timed(fn: Callable[[], object]) -> float:
    gc.disable()
    try:
        started = time.perf_counter()
        fn()
        return time.perf_counter() - started
    finally:
        gc.enable()


def decode_ways(body: bytes) -> dict[str, Callable[[], object]]:
    """``json.loads``, msgspec untyped, and the SDK's msgspec decode whole and in halves."""
    rules = _fast.Rules(
        strict=False,
        money=lambda value: structure_decimal(value, Decimal),
        integer=_json_integer,
        number=bounded_decimal,
    )
    builder = _fast._Builder(rules)  # the halves of the SDK's own decoder: private on purpose
    wire, convert = builder.generate(Inventory, top=True)
    wires = msgspec.json.Decoder(wire, float_hook=rules.number)
    filled = wires.decode(body)
    traits = [a for item in filled.items for a in item.content.metadata.attributes]
    trait = builder.converters[Attribute]
    whole = decoder(fast=True)
    assert convert(filled) == whole(body)  # the halves make the same inventory
    return {
        "json.loads": lambda: json.loads(body),
        "msgspec untyped": lambda: msgspec.json.decode(body),
        "sdk decode (whole)": lambda: whole(body),
        "  wire structs": lambda: wires.decode(body),
        "  into the models": lambda: convert(filled),
        "    of which traits": lambda: [trait(t) for t in traits],
    }


def handoff_ways(client: Phygitals) -> dict[str, Callable[[], object]]:
    """A coroutine that does nothing, in the loop and through the blocking hand-off."""
    runtime = client._runtime  # the blocking client's hand-off: private on purpose

    async def nothing() -> None:
        return None

    async def in_loop() -> None:
        for _ in range(HANDOFFS):
            await nothing()

    return {
        "awaited in the loop": lambda: runtime.call(in_loop),
        "blocking hand-off": lambda: [runtime.call(nothing) for _ in range(HANDOFFS)],
    }


def measure(ways: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Each way's median time over the rounds, the ways in a new order every round."""
    times: dict[str, list[float]] = {name: [] for name in ways}
    for fn in ways.values():
        fn()  # decoders built, the loop thread started
    for _ in range(rounds):
        order = list(ways.items())
        random.shuffle(order)
        for name, fn in order:
            times[name].append(_timed(fn))
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    """Print both tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--items", type=int, default=10_000)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    body = payloads.inventory(args.items)
    decoded = measure(decode_ways(body), args.rounds)
    floor = decoded["json.loads"]
    print(f"\ndecode {args.items:,} items   {'ms':>8}  x json.loads")
    for name, seconds in decoded.items():
        print(f"{name:<22} {seconds * 1e3:8.1f}  {seconds / floor:6.2f}x")
    with Phygitals(api_key=KEY, base_url="http://127.0.0.1:9/_") as client:
        handed: dict[str, Any] = measure(handoff_ways(client), args.rounds)
    print(f"\nblocking, per call       {'us':>8}")
    for name, seconds in handed.items():
        print(f"{name:<22} {seconds / HANDOFFS * 1e6:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
