"""The examples/celery_prefork recipe in a real Celery worker with the prefork pool.

The worker (its main process imports the tasks module, creating the client, then forks its
pool) and the producer are real processes; the broker and result store are SQLite files in a
temporary folder; the sandbox runs on a thread of this process, on loopback. Every wait is
bounded, and the worker's process group is killed if it does not stop in time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from phygitals_async.testing import LocalSandbox

RECIPE = Path(__file__).resolve().parents[2] / "examples" / "celery_prefork"
TASKS = 200


@pytest.fixture
def worker_env(threaded: LocalSandbox, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PHYGITALS_API_KEY": "sandbox-celery",
        "PHYGITALS_BASE_URL": threaded.url,
        "CELERY_DATA_DIR": str(tmp_path / "celery"),
    }


@pytest.fixture
def worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``celery -A tasks worker --pool=prefork --concurrency=2``, stopped warm afterwards."""
    log = tmp_path / "worker.log"
    # kombu's SQLite transport creates a queue's row on first use without a lock: the
    # worker and the submitter doing it at once can collide (UNIQUE constraint failed).
    # Declaring the queue before either starts leaves nothing to race on.
    declare = (
        "import tasks\n"
        "with tasks.app.connection_for_write() as c:\n"
        "    c.default_channel.queue_declare(queue=tasks.app.conf.task_default_queue)"
    )
    subprocess.run(  # noqa: S603  our interpreter declaring the recipe's queue
        [sys.executable, "-c", declare],
        cwd=RECIPE,
        env=worker_env,
        check=True,
        timeout=60,
    )
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603  our interpreter running Celery on the recipe
            [
                sys.executable,
                *("-m", "celery", "-A", "tasks", "worker", "--pool=prefork", "--concurrency=2"),
                *("--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"),
            ],
            cwd=RECIPE,
            env=worker_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)  # warm shutdown: the pool processes close clients
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            pytest.fail(f"the worker did not stop:\n{log.read_text()[-3000:]}")
    assert process.returncode == 0, log.read_text()[-3000:]


@pytest.mark.timeout(240)
def test_200_tasks_buy_and_sell_in_a_prefork_worker(
    threaded: LocalSandbox, worker: subprocess.Popen[bytes], worker_env: dict[str, str]
) -> None:
    """Every task's purchase and sale happen once; a typed error comes back as itself."""
    result = subprocess.run(  # noqa: S603  our interpreter running the recipe's producer
        [sys.executable, "submit.py", str(TASKS)],
        cwd=RECIPE,
        env=worker_env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["done"] == TASKS
    assert len(set(summary["items"])) == TASKS
    # The tasks ran in the pool's forked processes, both of them, not in the main process.
    assert len(summary["pids"]) == 2
    assert worker.pid not in summary["pids"]
    ledger = threaded.ledger
    assert ledger.purchases == TASKS
    assert sorted(ledger.sold) == summary["items"]
    assert ledger.amount_paid == Decimal(summary["total"])
    assert summary["error"] == {
        "class": "ItemNotFoundError",
        "status_code": 400,
        "message": "Item not found",
        "method": "POST",
        "url": threaded.url + "/api/v1/vm/buyback",
    }
