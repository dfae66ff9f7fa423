"""Send jobs to the Celery worker of ``tasks.py`` and print what came back, as JSON.

Usage: ``python submit.py [N]`` (from this directory, with the worker's environment, while
the sandbox and the worker of ``tasks.py`` run).
It sends N buy-and-sell tasks, then sells the first item a second time to show a typed
SDK error crossing the result backend.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal

from tasks import buy_and_sell, client, sell

from phygitals_async import ItemNotFoundError


def main(count: int) -> dict[str, object]:
    """Run ``count`` jobs and summarise them."""
    with client:
        pack = client.list_packs()[0]
    pending = [buy_and_sell.delay(f"user-{i % 25}", pack.id) for i in range(count)]
    outcomes = [result.get(timeout=120, interval=0.05) for result in pending]
    summary: dict[str, object] = {
        "done": len(outcomes),
        "items": sorted(o["item_id"] for o in outcomes),
        "total": str(sum((Decimal(o["amount"]) for o in outcomes), Decimal(0))),
        "pids": sorted({o["pid"] for o in outcomes}),
    }
    try:
        sell.delay(outcomes[0]["item_id"]).get(timeout=60, interval=0.05)
    except ItemNotFoundError as error:
        summary["error"] = {
            "class": type(error).__name__,
            "status_code": error.status_code,
            "message": error.message,
            "method": error.method,
            "url": error.url,
        }
    return summary


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)))
