"""Pictures of a benchmark run: ``python -m benchmarks --save R.json``, then ``--plot R.json``.

Drawn with matplotlib (the ``bench`` extra) into ``docs/images/benchmarks/`` by default:

- ``calls.png``: each call case's time, as a multiple of raw aiohttp + ``json.loads``, for
  the SDK on both decode paths and for httpx + pydantic v2 (lower is better);
- ``bulk.png``: bulk sellback throughput by concurrency, the SDK against raw aiohttp with
  a semaphore;
- ``fleet.png``: a fleet's items/s by worker count against the ideal, from the JSON that
  ``python -m benchmarks.fleet_latency --save F.json`` writes, when given.

Each picture's caption names the date, the machine and the command of its run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.measure import Row

OUT = Path("docs/images/benchmarks")
RAW = "raw aiohttp + json.loads"
PEER = "httpx + pydantic"
_BULK = re.compile(r"bulk ([\d,]+) sellbacks, concurrency (\d+) \(ms\)")


def provenance(command: str) -> dict[str, str]:
    """When, where and how a run was made, for its pictures' captions."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load {load:.1f},"
        f" Python {platform.python_version()}",
        "command": command,
    }


def save(rows: list[Row], path: str, command: str) -> None:
    """Write a run's rows, with its provenance, as JSON."""
    data = {
        **provenance(command),
        "rows": [{k: v for k, v in dataclasses.asdict(r).items() if k != "goal"} for r in rows],
    }
    Path(path).write_text(json.dumps(data, indent=1) + "\n")


def _caption(data: dict[str, Any]) -> str:
    return f"{data['date']}; {data['machine']}; {data['command']}"


def plot_calls(data: dict[str, Any], out: Path) -> Path:
    """Each call case's time relative to raw aiohttp: SDK pure, SDK speedups, httpx."""
    import matplotlib.pyplot as plt  # noqa: PLC0415  the bench extra, only when plotting

    raw = {r["case"]: r for r in data["rows"] if r["baseline_name"] == RAW}
    peer = {r["case"]: r for r in data["rows"] if r["baseline_name"] == PEER}
    cases = [c for c in raw if c in peer]
    series: dict[str, list[float]] = {"raw aiohttp": [1.0] * len(cases)}
    for path in ("pure", "speedups"):
        if all(path in raw[c]["values"] for c in cases):
            series[f"SDK ({path})"] = [_ratio(raw[c], path) for c in cases]
    # httpx + pydantic against raw: (SDK / raw) / (SDK / httpx).
    series["httpx + pydantic"] = [_ratio(raw[c], "pure") / _ratio(peer[c], "pure") for c in cases]
    fig, ax = plt.subplots(figsize=(10, 4.8))
    width = 0.8 / len(series)
    for n, (label, values) in enumerate(series.items()):
        ax.bar([i + n * width for i in range(len(cases))], values, width, label=label)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(cases))])
    ax.set_xticklabels([c.replace(": ", "\n") for c in cases], fontsize=7)
    ax.set_ylabel("time / raw aiohttp (lower is better)")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.legend(fontsize=8)
    ax.set_title("One call, and 32 concurrent callers", fontsize=10)
    fig.text(0.01, 0.01, _caption(data), fontsize=6, color="grey")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    target = out / "calls.png"
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target


def _ratio(entry: dict[str, Any], path: str) -> float:
    return float(entry["values"][path]) / float(entry["baselines"][path])


def plot_bulk(data: dict[str, Any], out: Path) -> Path:
    """Bulk sellback items/s by concurrency: the SDK on each path against raw aiohttp."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    points: dict[str, list[tuple[int, float]]] = {}
    for entry in data["rows"]:
        match = _BULK.fullmatch(entry["case"])
        if match is None:
            continue
        items, level = int(match[1].replace(",", "")), int(match[2])
        for path, ms in entry["values"].items():
            points.setdefault(f"SDK ({path})", []).append((level, items / ms * 1e3))
        first = next(iter(entry["baselines"].values()))
        points.setdefault("raw aiohttp + semaphore", []).append((level, items / first * 1e3))
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, values in points.items():
        values.sort()
        ax.plot([v[0] for v in values], [v[1] for v in values], marker="o", label=label)
    ax.set_xscale("log", base=2)
    levels = sorted({v[0] for values in points.values() for v in values})
    ax.set_xticks(levels, [str(level) for level in levels])
    ax.set_ylim(bottom=0)
    ax.set_xlabel("concurrency")
    ax.set_ylabel("sellbacks per second (higher is better)")
    ax.set_title("Bulk sellback against an API that answers at once", fontsize=10)
    ax.legend(fontsize=8)
    fig.text(0.01, 0.01, _caption(data), fontsize=6, color="grey")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    target = out / "bulk.png"
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target


def plot_fleet(data: dict[str, Any], out: Path) -> Path:
    """A fleet's items/s by worker count, against the ideal at the API's latency."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    runs = data["scaling"]
    workers = [r["workers"] for r in runs]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(workers, [r["ideal"] for r in runs], linestyle="--", label="ideal (W x c / L, capped)")
    ax.plot(workers, [r["rate"] for r in runs], marker="o", label="measured")
    for r in runs:
        ax.annotate(f"{r['refused']:.1%} 429", (r["workers"], r["rate"]), fontsize=7)
    ax.set_xticks(workers)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("worker processes (concurrency 8 each)")
    ax.set_ylabel("sellbacks per second")
    ax.set_title("A fleet on one PostgreSQL job, API at ~80 ms", fontsize=10)
    ax.legend(fontsize=8)
    fig.text(0.01, 0.01, _caption(data), fontsize=6, color="grey")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    target = out / "fleet.png"
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target


def main(results: str, fleet: str | None = None, out: Path = OUT) -> int:
    """Draw the pictures of a saved run (and of a saved fleet run)."""
    import matplotlib as mpl  # noqa: PLC0415

    mpl.use("Agg")
    out.mkdir(parents=True, exist_ok=True)
    data = json.loads(Path(results).read_text())
    drawn = [plot_calls(data, out), plot_bulk(data, out)]
    if fleet is not None:
        drawn.append(plot_fleet(json.loads(Path(fleet).read_text()), out))
    for path in drawn:
        sys.stdout.write(f"wrote {path}\n")
    return 0
