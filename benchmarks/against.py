"""``python -m benchmarks --against REF``: this tree against a git ref, in one interleaved run.

REF is checked out into a temporary worktree (``git worktree add --detach``, removed
afterwards). One worker process per tree and decode path (``benchmarks/worker.py`` with
``PYTHONPATH`` at that tree) and one raw aiohttp + ``json.loads`` worker talk to the same
payload server. Every round sends each case to every worker in turn (the order reversed
every other round), so drift on a shared machine hits both trees alike; only one worker
runs at a time. Each case prints its median for REF and for this tree, the ratio now/REF
(the median of the rounds' ratios, with their range), the same ratio of the client
process's CPU time (steadier than wall time on a shared machine) and each tree's ratio to
raw.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.measure import payload_server

WORKER = Path(__file__).with_name("worker.py")

# Case, what its figure is, and whether the raw worker has a figure for it.
CASES = [
    ("one", "inventory: one call (us)"),
    ("callers", "inventory: 32 callers (us per call)"),
    ("large", "10,000-item inventory end to end (ms)"),
    ("decode", "decode 10,000 items (ms)"),
    ("bulk", "bulk sellback, concurrency 32 (ms)"),
    ("blocking", "blocking facade one call (us)"),
]


@dataclass
class Worker:
    """One worker process; ``ask`` times one round of a case there."""

    name: str
    process: subprocess.Popen[str]
    figures: dict[str, list[float | None]] = field(default_factory=dict)
    cpu: dict[str, list[float | None]] = field(default_factory=dict)

    def ask(self, case: str) -> float | None:
        """Time one round of ``case`` in this worker and keep its figure."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(case + "\n")
        self.process.stdin.flush()
        reply = json.loads(self.process.stdout.readline())
        if "error" in reply:
            msg = f"{self.name}: {case}: {reply['error']}"
            raise RuntimeError(msg)
        value: float | None = reply["value"]
        self.figures.setdefault(case, []).append(value)
        self.cpu.setdefault(case, []).append(reply["cpu"])
        return value


@contextmanager
def worktree(ref: str) -> Iterator[Path]:
    """``ref`` checked out (detached) in a temporary worktree, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="phygitals-against-") as parent:
        path = Path(parent) / "tree"
        subprocess.run(  # noqa: S603
            # The ref is the caller's own argument, run by the caller's git.
            ["git", "worktree", "add", "--detach", "--quiet", str(path), ref],  # noqa: S607
            check=True,
        )
        try:
            yield path
        finally:
            subprocess.run(  # noqa: S603  our own temporary path
                ["git", "worktree", "remove", "--force", str(path)],  # noqa: S607
                check=False,
            )


def _speedups() -> bool:
    try:
        import msgspec  # noqa: F401, PLC0415  only asking whether the extra is installed
    except ImportError:
        return False
    return os.environ.get("PHYGITALS_SPEEDUPS") != "0"


def _start(
    stack: ExitStack, name: str, kind: str, tree: Path | None, base: str, env: dict[str, str]
) -> Worker:
    if tree is not None:
        env = env | {"PYTHONPATH": str(tree)}
    process = stack.enter_context(
        subprocess.Popen(  # noqa: S603  this Python running our own worker script
            [sys.executable, str(WORKER), kind, base],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
    )
    stack.callback(process.kill)
    assert process.stdout is not None
    ready = json.loads(process.stdout.readline())
    where = ready.get("ready")
    if tree is not None and (where is None or not Path(where).is_relative_to(tree)):
        msg = f"{name} imported phygitals_async from {where}, not from {tree}"
        raise RuntimeError(msg)
    return Worker(name, process)


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _ratios(now: list[float | None], ref: list[float | None]) -> list[float]:
    return [a / b for a, b in zip(now, ref, strict=True) if a is not None and b]


def _fmt(value: float | None, fmt: str = "{:,.1f}") -> str:
    return "" if value is None else fmt.format(value)


def main(
    ref: str, *, quick: bool, cases: list[str] | None = None, rounds: int | None = None
) -> int:
    """Run the cases (all by default) for this tree and ``ref`` on each path; print the table.

    One case with many ``rounds`` is the way to see a change of a few percent.
    """
    started = time.perf_counter()
    rounds = rounds or (5 if quick else 7)
    chosen = [(case, label) for case, label in CASES if cases is None or case in cases]
    sizes = {
        "calls": 100 if quick else 300,
        "total": 500 if quick else 2000,
        "large": 3 if quick else 5,
        "items": 1000 if quick else 5000,
    }
    paths = ["pure", "speedups"] if _speedups() else ["pure"]
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(
        f"this tree (HEAD {head}, with its changes) against {ref}; "
        f"{'quick' if quick else 'full'} run, {rounds} rounds; paths: {', '.join(paths)}"
    )
    env = os.environ | {"BENCH_SIZES": json.dumps(sizes)}
    env.pop("PYTHONPATH", None)
    with ExitStack() as stack:
        base = stack.enter_context(payload_server())
        tree = stack.enter_context(worktree(ref))
        here = Path.cwd()
        raw = _start(stack, "raw", "raw", None, base, env)
        sides: dict[tuple[str, str], Worker] = {}
        for path in paths:
            penv = env | ({"PHYGITALS_SPEEDUPS": "0"} if path == "pure" else {})
            for label, root in (("now", here), ("ref", tree)):
                sides[path, label] = _start(stack, f"{label} {path}", "sdk", root, base, penv)
        workers = [raw, *sides.values()]
        for number in range(rounds):
            for case, _ in chosen:
                for worker in workers if number % 2 == 0 else workers[::-1]:
                    worker.ask(case)
    print()
    _print(sides, raw, paths, ref, chosen)
    print(
        f"\n{time.perf_counter() - started:.0f} s; now/{ref} is the median of the rounds' "
        "ratios [lowest-highest], in wall time and in the client's CPU time; below 1.00x this "
        "tree is faster. x raw: each tree's "
        "median over raw aiohttp + json.loads (the bulk run: over its time, so a ratio "
        "below 1.00x is a higher throughput)."
    )
    return 0


def _print(
    sides: dict[tuple[str, str], Worker],
    raw: Worker,
    paths: list[str],
    ref: str,
    chosen: list[tuple[str, str]],
) -> None:
    headers = [
        "case",
        "path",
        ref,
        "now",
        f"now/{ref}",
        "spread",
        "cpu now/ref",
        "cpu spread",
        "ref x raw",
        "now x raw",
    ]
    lines = []
    for case, label in chosen:
        bare = _median(raw.figures.get(case, []))
        for path in paths:
            now, old = sides[path, "now"], sides[path, "ref"]
            ratios = _ratios(now.figures.get(case, []), old.figures.get(case, []))
            cpu = _ratios(now.cpu.get(case, []), old.cpu.get(case, []))
            m_now, m_old = _median(now.figures.get(case, [])), _median(old.figures.get(case, []))
            lines.append(
                [
                    label,
                    path,
                    _fmt(m_old),
                    _fmt(m_now),
                    _fmt(statistics.median(ratios) if ratios else None, "{:.2f}x"),
                    f"{min(ratios):.2f}-{max(ratios):.2f}" if ratios else "",
                    _fmt(statistics.median(cpu) if cpu else None, "{:.2f}x"),
                    f"{min(cpu):.2f}-{max(cpu):.2f}" if cpu else "",
                    _fmt(m_old / bare if m_old and bare else None, "{:.2f}x"),
                    _fmt(m_now / bare if m_now and bare else None, "{:.2f}x"),
                ]
            )
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
