"""Buy and sell from a ``ProcessPoolExecutor``: one blocking client per worker process.

The client is created at import time. With the ``fork`` start method the pool's processes
inherit it from the parent and each builds its own event loop thread and connection pool on
first use; with ``spawn`` (the default on macOS and Windows) each process imports this
module and creates its own. SDK errors raised in a worker reach the caller with their class
and attributes (``status_code``, ``url``, ...), not as ``BrokenProcessPool``.

Run against a local sandbox::

    phygitals sandbox --port 8787 &
    export PHYGITALS_API_KEY=sandbox-local PHYGITALS_BASE_URL=http://127.0.0.1:8787/_
    python pool_jobs.py fork 40
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal

from phygitals_async import ItemNotFoundError, Phygitals

client = Phygitals(timeout=30)
# Spawned processes exit through the interpreter and close their client here; forked pool
# processes end with os._exit, where the operating system reclaims the sockets.
atexit.register(client.close)


def buy_and_sell(user_id: str, pack_id: str) -> tuple[str, str, int]:
    """Buy one pack and sell the pulled item back: (item id, amount, worker pid)."""
    purchase = client.buy(pack_id, amount=1, user_id=user_id)
    sale = client.sell_back(purchase.nfts[0])
    return sale.item_id, str(sale.amount), os.getpid()


def sell(item_id: str) -> str:
    """Sell one item back; an item already sold raises ItemNotFoundError."""
    return str(client.sell_back(item_id).amount)


def main(method: str, count: int) -> None:
    """Run ``count`` jobs on four processes started with ``method``; print the total."""
    pack_id = client.list_packs()[0].id
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(4, mp_context=context) as pool:
        outcomes = list(
            pool.map(buy_and_sell, [f"user-{i}" for i in range(count)], [pack_id] * count)
        )
        try:
            pool.submit(sell, outcomes[0][0]).result()
        except ItemNotFoundError as error:
            print(f"selling twice: {error.status_code} {error.message}")
    print(f"{len(outcomes)} sold for {sum((Decimal(o[1]) for o in outcomes), Decimal(0))}")


if __name__ == "__main__":
    main(
        sys.argv[1] if len(sys.argv) > 1 else "spawn", int(sys.argv[2]) if len(sys.argv) > 2 else 40
    )
