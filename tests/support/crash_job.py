"""A journaled bulk sellback in a process of its own, for the crash tests to kill.

``python tests/support/crash_job.py BASE_URL JOURNAL USER MODE [CONCURRENCY]`` runs
``sell_back_many`` with the journal (a file or a ``postgresql://`` URL) and prints the
report as one JSON line. MODE says what the run is given:
``original`` (the inventory as the first run saw it, as Items), ``inventory`` (today's),
``none`` (nothing: the journal's job alone).
"""

from __future__ import annotations

import asyncio
import json
import pickle
import sys
from pathlib import Path
from typing import Any

from phygitals_async import AsyncPhygitals, BulkSellbackReport, Item


async def original(client: AsyncPhygitals, journal: str, user: str) -> list[Item]:
    # Blocking file calls are fine here: a test script, nothing else runs on its loop.
    saved = Path(journal + ".items")
    if saved.exists():  # noqa: ASYNC240
        items: list[Item] = pickle.loads(saved.read_bytes())  # noqa: S301, ASYNC240  our file
        return items
    items = list((await client.inventory(user)).items)
    partial = saved.with_suffix(".tmp")
    partial.write_bytes(pickle.dumps(items))
    partial.replace(saved)
    return items


def as_json(report: BulkSellbackReport) -> dict[str, Any]:
    return {
        "succeeded": {s.item_id: str(s.amount) for s in report.succeeded},
        "unconfirmed": {u.item_id: str(u.quoted_amount) for u in report.unconfirmed},
        "failed": {f.item_id: type(f.error).__name__ for f in report.failed},
        "unknown": [f.item_id for f in report.unknown],
        "total_amount": str(report.total_amount),
        "unconfirmed_amount": str(report.unconfirmed_amount),
        "resumed": report.resumed,
    }


async def run(base_url: str, journal: str, user: str, mode: str, concurrency: int = 8) -> None:
    async with AsyncPhygitals(api_key="sandbox-crash", base_url=base_url, timeout=10) as client:
        if mode == "original":
            report = await client.sell_back_many(
                await original(client, journal, user),
                concurrency=concurrency,
                journal=journal,
                user_id=user,
            )
        elif mode == "inventory":
            report = await client.sell_back_many(
                await client.inventory(user), concurrency=concurrency, journal=journal
            )
        else:
            report = await client.sell_back_many(
                concurrency=concurrency, journal=journal, user_id=user
            )
    sys.stdout.write(json.dumps(as_json(report)) + "\n")


if __name__ == "__main__":
    base_url, journal, user, mode = sys.argv[1:5]
    concurrency = int(sys.argv[5]) if len(sys.argv) > 5 else 8
    asyncio.run(run(base_url, journal, user, mode, concurrency))
