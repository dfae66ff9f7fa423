"""One bulk sellback job, split into shard tasks, run by a fleet of procrastinate workers.

The queue (procrastinate's tables) and the job's journal live in one PostgreSQL database:
nothing else to run. A shard task is a unit of concurrency, not a slice of the items: each
one runs ``iter_sell_back`` on the shared journal, which claims the next free items with a
lease until none are left, so the work balances itself and a dead worker's items are taken
over by the others once its leases expire.

Usage (the client reads ``$PHYGITALS_API_KEY`` and, optionally, ``$PHYGITALS_BASE_URL``)::

    export FLEET_DATABASE_URL=postgresql://app:secret@db:5432/sellbacks
    python fleet.py setup                                   # procrastinate's schema, once
    python fleet.py start --job eos-2026 --user u1 --shards 8 --concurrency 8
    python fleet.py worker                                  # on every machine, N times
    phygitals journal show "$FLEET_DATABASE_URL?job=eos-2026"

The job's total concurrency is ``shards x concurrency`` at most (the sum of the shards'
limits); each shard cuts its own by a quarter on a 429 and grows back, so the fleet slows
together.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    # procrastinate finds tasks by their module's name and warns about an app defined in
    # "__main__": run as a script, this file runs as the module "fleet" instead (its folder
    # is on sys.path), so `start` and `worker` name the tasks alike.
    import fleet

    fleet.main()
    sys.exit(0)

import argparse
import asyncio
import contextlib
import os
import socket
from collections import Counter

import procrastinate
from procrastinate.types import JSONDict

from phygitals_async import AsyncPhygitals, JournalItem, PostgresJournal

QUEUE = "sellback"
DATABASE_URL = os.environ.get("FLEET_DATABASE_URL", "")

app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=DATABASE_URL))


def journal_url(job: str) -> str:
    """The job's journal: the queue's own database, with the job's name."""
    return f"{DATABASE_URL}{'&' if '?' in DATABASE_URL else '?'}job={job}"


@app.task(name="sell_shard", queue=QUEUE)
async def sell_shard(
    job: str, shard: int, concurrency: int, lease: float | None = None
) -> dict[str, int]:
    """Sell the job's items until none are left to claim; count the outcomes seen.

    The counts include outcomes other shards had settled before this one started (the
    iterator yields the job's settled items first); the job's totals are in its journal.
    """
    journal = PostgresJournal(
        journal_url(job),
        lease=lease,
        worker=f"{socket.gethostname()}:{os.getpid()}:shard{shard}",
        create=False,  # `start` recorded the job: a shard never starts an empty one
    )
    counts: Counter[str] = Counter()
    async with AsyncPhygitals() as client:
        # iter_sell_back, not sell_back_many: outcomes stream, so a shard's memory stays flat
        # however large the job (a report of a million items is for `journal show`).
        async for outcome in client.iter_sell_back(journal=journal, concurrency=concurrency):
            counts[type(outcome).__name__] += 1
    return dict(counts)


async def start(job: str, user_id: str, shards: int, concurrency: int, lease: float | None) -> None:
    """Record the job's items (the owner's whole inventory), then queue its shard tasks."""
    async with AsyncPhygitals() as client:
        inventory = await client.inventory(user_id)
        journal = PostgresJournal(journal_url(job))
        try:
            await journal.open(user_id=user_id, base_url=client.base_url)
            added = await journal.add_items(
                [JournalItem(item.id, item.buyback_price) for item in inventory.items]
            )
        finally:
            await journal.close()
    async with app.open_async():
        shard_args: list[JSONDict] = [
            {"job": job, "shard": n, "concurrency": concurrency, "lease": lease}
            for n in range(shards)
        ]
        await sell_shard.batch_defer_async(*shard_args)
    sys.stdout.write(f"job {job}: {added} items, {shards} shard tasks queued\n")


async def retry_stalled(every: float, stalled_after: float) -> None:
    """Run again the shard tasks of workers that stopped sending heartbeats (killed)."""
    while True:
        stalled = await app.job_manager.get_stalled_jobs(
            queue=QUEUE, seconds_since_heartbeat=stalled_after
        )
        for job in stalled:
            await app.job_manager.retry_job(job)
        await asyncio.sleep(every)


async def worker(concurrency: int, heartbeat: float, stalled_after: float) -> None:
    """Run shard tasks until SIGTERM or SIGINT, taking over those of dead workers."""
    async with app.open_async():
        watcher = asyncio.ensure_future(retry_stalled(stalled_after / 2, stalled_after))
        try:
            await app.run_worker_async(
                queues=[QUEUE],
                concurrency=concurrency,
                update_heartbeat_interval=heartbeat,
                stalled_worker_timeout=stalled_after,
                name=f"{socket.gethostname()}:{os.getpid()}",
            )
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


def main(argv: list[str] | None = None) -> None:
    """The recipe's command line: setup, start, worker."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("setup", help="create procrastinate's tables")
    s = commands.add_parser("start", help="record a job's items and queue its shards")
    s.add_argument("--job", required=True)
    s.add_argument("--user", required=True)
    s.add_argument("--shards", type=int, default=4)
    s.add_argument("--concurrency", type=int, default=8, help="per shard")
    s.add_argument(
        "--lease",
        type=float,
        default=None,
        help="seconds a dead worker's claims stay held (default: the SDK's, 10)",
    )
    w = commands.add_parser("worker", help="run shard tasks until stopped")
    w.add_argument("--concurrency", type=int, default=1, help="shard tasks at once")
    w.add_argument("--heartbeat", type=float, default=10.0, help="seconds")
    w.add_argument("--stalled-after", type=float, default=30.0, help="seconds")
    args = parser.parse_args(argv)
    if not DATABASE_URL:
        parser.error("set FLEET_DATABASE_URL to the PostgreSQL database of the queue and jobs")
    if args.command == "setup":
        with app.open():
            app.schema_manager.apply_schema()
    elif args.command == "start":
        asyncio.run(start(args.job, args.user, args.shards, args.concurrency, args.lease))
    else:
        asyncio.run(worker(args.concurrency, args.heartbeat, args.stalled_after))
