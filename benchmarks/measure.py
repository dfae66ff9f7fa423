"""How the benchmarks measure and report: alternating rounds, medians, one table with goals."""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

Stack = Callable[[], Awaitable[object]]
PATHS = ("pure", "speedups")
ROUNDS = 7  # stacks alternate in this many rounds so drift on a shared machine cancels out


@dataclass(frozen=True)
class Goal:
    """A ratio (SDK over baseline) to stay at or under, or to reach, for some paths.

    ``limit`` is one figure for every path in ``paths``, or one per path.
    """

    limit: float | dict[str, float]
    paths: tuple[str, ...] = PATHS
    text: str = ""
    at_least: bool = False  # for rates, where higher is better: the ratio must reach the limit

    def limit_for(self, path: str) -> float | None:
        """The limit set for ``path``, if any."""
        if isinstance(self.limit, dict):
            return self.limit.get(path)
        return self.limit if path in self.paths else None

    def describe(self) -> str:
        """The goal as printed in the table."""
        if self.text:
            return self.text
        sign = ">=" if self.at_least else "<="
        if isinstance(self.limit, dict):
            return ", ".join(f"{p} {sign} {v:.2f}x" for p, v in self.limit.items())
        return f"{sign} {self.limit:.2f}x"

    def met(self, ratio: float, path: str) -> bool | None:
        """Whether ``ratio`` (SDK over baseline) meets the goal for ``path`` (None: no goal)."""
        limit = self.limit_for(path)
        if limit is None:
            return None
        return ratio >= limit if self.at_least else ratio <= limit


@dataclass
class Row:
    """One line of the table: each decode path's figure against its baseline."""

    case: str
    baseline_name: str
    values: dict[str, float]
    baselines: dict[str, float]
    goal: Goal | None = None
    notes: dict[str, str] = field(default_factory=dict)

    def ratio(self, path: str) -> float | None:
        """SDK over baseline for ``path``, when measured."""
        if path not in self.values or not self.baselines.get(path):
            return None
        return self.values[path] / self.baselines[path]

    def met(self, path: str) -> str:
        """``ok``, ``miss by`` how far the ratio is from the goal, or empty (no goal)."""
        ratio = self.ratio(path)
        if self.goal is None or ratio is None:
            return ""
        limit = self.goal.limit_for(path)
        if limit is None:
            return ""
        return "ok" if self.goal.met(ratio, path) else f"miss by {abs(ratio - limit):.2f}x"


def row(
    case: str,
    baseline_name: str,
    values: dict[str, float],
    baseline: float | dict[str, float],
    goal: Goal | None = None,
) -> Row:
    """A row whose baseline is shared by both paths, or given per path."""
    baselines = baseline if isinstance(baseline, dict) else dict.fromkeys(values, baseline)
    return Row(case, baseline_name, values, baselines, goal)


@contextmanager
def payload_server() -> Iterator[str]:
    """The payload server in its own process; yields its base URL."""
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


async def per_call(stacks: list[Stack], n: int) -> list[float]:
    """Median seconds of one call for each stack, the stacks taking turns in short rounds."""
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


async def concurrently(call: Stack, calls: int, callers: int) -> None:
    """``calls`` calls of ``call`` made by ``callers`` concurrent callers."""
    left = calls

    async def caller() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await call()

    await asyncio.gather(*(caller() for _ in range(callers)))


async def throughput(stacks: list[Stack], total: int, callers: int) -> list[float]:
    """Seconds per call for each stack with ``callers`` concurrent callers (median round)."""
    rates: list[list[float]] = [[] for _ in stacks]
    for _ in range(ROUNDS):
        for fn, record in zip(stacks, rates, strict=True):
            calls = max(callers, total // ROUNDS)
            start = time.perf_counter()
            await concurrently(fn, calls, callers)
            record.append((time.perf_counter() - start) / calls)
    return [statistics.median(r) for r in rates]


def timed(fns: list[Callable[[], object]], repeat: int) -> list[float]:
    """Median seconds of each function, the functions taking turns ``repeat`` times."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, record in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            record.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def timed_each(fn: Callable[[], object], n: int) -> list[float]:
    """Seconds of each of ``n`` calls of ``fn``, after a short warm-up."""
    for _ in range(min(20, n)):
        fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def peak(fn: Callable[[], object]) -> float:
    """Peak MiB traced while ``fn`` runs (what it allocates on top of what exists)."""
    gc.collect()
    tracemalloc.start()
    result = fn()
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return top / 2**20


def _cell(value: float | None, fmt: str = "{:,.1f}") -> str:
    return "" if value is None else fmt.format(value)


def print_table(rows: list[Row], paths: tuple[str, ...]) -> None:
    """One table: baseline, then each path's figure, ratio and whether it meets the goal."""
    headers = ["case", "baseline is", "baseline"]
    for path in paths:
        headers += [path, "ratio", "met"]
    headers.append("goal")
    cells = []
    for r in rows:
        shared = {round(v, 6) for k, v in r.baselines.items() if k in paths}
        baseline = " / ".join(_cell(r.baselines.get(p)) for p in paths if p in r.baselines)
        line = [r.case, r.baseline_name, baseline if len(shared) > 1 else _cell(shared.pop())]
        for path in paths:
            line += [
                _cell(r.values.get(path)),
                _cell(r.ratio(path), "{:.2f}x"),
                r.met(path),
            ]
        line.append(r.goal.describe() if r.goal else "")
        cells.append(line)
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for line in cells:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
