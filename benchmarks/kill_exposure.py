"""What a ``kill -9`` costs a journaled bulk sellback: answered sales that come back unconfirmed.

``python -m benchmarks.kill_exposure [--runs N] [--tree PATH]`` repeats the 20-kill test of
``tests/journal/test_journal_operations.py`` and prints, per run, how many sold items the
final report calls ``unconfirmed`` beyond the answers the sandbox dropped on purpose: a
2,000-item job at concurrency 16 with 5% of answers dropped, killed at 20 random points
(20-80 settled items apart) and then run to the end. The test asserts a bound; this
prints the spread, for a change to the bulk run or the journal to compare against the
commit before it (``--tree`` runs the job with another checkout's package, e.g. a
``git worktree`` of that commit).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.journal_runs import SCRIPTS, kill_at_random, start_sandbox

KILLS = 20


def one_run(seed: int, env: dict[str, str]) -> int:
    """Unconfirmed sales beyond the dropped answers, after ``KILLS`` kills and a last run."""
    journal = str(Path(tempfile.mkdtemp()) / "job.db")
    options = ("--latency", "0.002", "--drop-after", "0.05")
    with contextlib.closing(start_sandbox("ops", 2000, *options, env=env)) as sandboxes:
        sandbox = next(sandboxes)
        job = [sys.executable, str(SCRIPTS / "crash_job.py"), sandbox.url, journal, "ops"]
        job += ["inventory", "16"]
        kill_at_random(job, journal, KILLS, seed, env=env, strict=False)
        done = subprocess.run(  # noqa: S603  our own interpreter and script
            job, capture_output=True, text=True, env=env, timeout=120, check=True
        )
        report = json.loads(done.stdout.splitlines()[-1])
        return len(report["unconfirmed"]) - int(sandbox.ledger()["dropped_after"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of 20 kills each")
    parser.add_argument("--tree", help="a checkout whose package the job runs with")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    if args.tree:
        env["PYTHONPATH"] = str(Path(args.tree).resolve())
    excess = [one_run(24 + n, env) for n in range(args.runs)]
    per_kill = ", ".join(f"{e / KILLS:.1f}" for e in excess)
    print(f"unconfirmed beyond the dropped answers, per run of {KILLS} kills: {excess}")
    print(f"per kill: {per_kill} (the test's bound: 10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
