"""Blocking code, shaped like a Django view: one module-level ``Phygitals`` per process.

Django (or Flask, or a management command) calls plain functions in worker threads; the
blocking client is thread-safe, starts no thread until its first call and works in forked
workers (gunicorn ``--preload``). No Django is needed to run this file: ``request`` is any
mapping of query parameters, and the view returns ``(status, body)`` as a view would build
its ``JsonResponse``. In Django, put ``client`` in ``myapp/phygitals.py``.

Run against a local sandbox::

    phygitals sandbox --port 8787 &
    export PHYGITALS_API_KEY=sandbox-local PHYGITALS_BASE_URL=http://127.0.0.1:8787/_
    python card_views.py u1
"""

from __future__ import annotations

import atexit
import sys
from collections.abc import Mapping
from typing import Any

from phygitals_async import APIStatusError, NotFoundError, Phygitals, PhygitalsError

client = Phygitals(app_name="card-views")  # $PHYGITALS_API_KEY; no thread until first call
atexit.register(client.close)


def cards_view(request: Mapping[str, str], user_id: str) -> tuple[int, dict[str, Any]]:
    """GET /users/<user_id>/cards?expiring=1: the user's cards, as a JSON view answers."""
    try:
        inventory = client.inventory(user_id, timeout=10)
    except NotFoundError:
        return 404, {"error": f"no user {user_id}"}
    except APIStatusError as error:
        return 502, {"error": error.message, "request_id": error.request_id}
    except PhygitalsError as error:
        return 503, {"error": str(error)}
    items = inventory.items
    if request.get("expiring") == "1":
        items = tuple(item for item in items if item.buyback_expires_at is not None)
        items = tuple(sorted(items, key=lambda item: item.buyback_expires_at or 0))
    return 200, {
        "cards": [
            {"id": item.id, "name": item.content.metadata.name, "price": str(item.buyback_price)}
            for item in items
        ]
    }


if __name__ == "__main__":
    status, body = cards_view({}, sys.argv[1] if len(sys.argv) > 1 else "u1")
    print(status, body)
