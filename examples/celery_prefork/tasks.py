"""Celery tasks that buy and sell with the blocking client, one client per worker process.

The client is created at import time, as in any tasks module. Celery's prefork pool imports
this module in the worker's main process and then forks its pool processes: the client
starts no thread at import, and each forked process builds its own event loop thread and
connection pool on its first call (the parent's are never touched).

Run a local sandbox in one terminal, then a worker (from this directory) in another::

    phygitals sandbox --port 8787
    export PHYGITALS_API_KEY=sandbox-local PHYGITALS_BASE_URL=http://127.0.0.1:8787/_
    celery -A tasks worker --pool=prefork --concurrency=4

The broker and the result store are SQLite files (kombu's SQLAlchemy transport and
Celery's database backend), so the recipe needs no broker server; any broker works the
same way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import worker_process_shutdown

from phygitals_async import Phygitals

_data = Path(os.environ.get("CELERY_DATA_DIR", ".celery-data")).resolve()
_data.mkdir(parents=True, exist_ok=True)

app = Celery("phygitals_jobs")
app.conf.update(
    broker_url=f"sqla+sqlite:///{_data / 'broker.sqlite'}",
    result_backend=f"db+sqlite:///{_data / 'results.sqlite'}",
    task_serializer="json",
    accept_content=["json"],
    # SDK errors pickle with their class and attributes (status_code, url, retry_after...),
    # so a failed task's result re-raises the same typed error in the caller. JSON would
    # turn them into a plain Exception. Only results use pickle; tasks stay JSON.
    result_serializer="pickle",
    result_accept_content=["json", "pickle"],
)

# One client per process: created here, in the parent, before the pool forks.
client = Phygitals(timeout=30)


@worker_process_shutdown.connect
def _close_client(**_: Any) -> None:
    # A pool process that is recycled or shut down closes its own loop thread and sockets.
    client.close()


@app.task
def buy_and_sell(user_id: str, pack_id: str) -> dict[str, Any]:
    """Buy one pack for ``user_id`` and sell the pulled item straight back."""
    purchase = client.buy(pack_id, amount=1, user_id=user_id)
    sale = client.sell_back(purchase.nfts[0])
    return {"item_id": sale.item_id, "amount": str(sale.amount), "pid": os.getpid()}


@app.task
def sell(item_id: str) -> str:
    """Sell one item back; an item already sold fails with ItemNotFoundError."""
    return str(client.sell_back(item_id).amount)
