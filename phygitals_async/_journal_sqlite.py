"""The bulk sellback journal: one SQLite row per item, committed as each outcome happens.

States: ``pending`` (a request may be in flight), ``sold``, ``failed`` (final: the API
refused the item), ``retry`` (a transient failure, tried again on the next run) and
``unknown`` (the answer was lost and could not be reconciled). WAL mode with
``synchronous=NORMAL`` keeps every commit through a crash of the process.
"""

from __future__ import annotations

import os
import sqlite3
import time
from decimal import Decimal

from . import _errors
from ._models import FailedSellback, Sellback

__all__ = ["Journal"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sellback (
    item_id       TEXT PRIMARY KEY,
    state         TEXT NOT NULL,
    amount        TEXT,
    reconciled    INTEGER NOT NULL DEFAULT 0,
    error_type    TEXT,
    error_message TEXT,
    status_code   INTEGER,
    updated_at    REAL NOT NULL
)
"""


class Journal:
    """An open journal file; every write is its own committed transaction."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        # The loop's own thread does every write: commits are short and ordering is simple.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        """Close the file; every outcome is already committed."""
        self._db.close()

    def load(self) -> dict[str, tuple[str, Sellback | FailedSellback | None]]:
        """Each journaled item's state, with its outcome for ``sold`` and ``failed``."""
        rows = self._db.execute(
            "SELECT item_id, state, amount, reconciled, error_type, error_message, status_code"
            " FROM sellback"
        )
        out: dict[str, tuple[str, Sellback | FailedSellback | None]] = {}
        for item_id, state, amount, reconciled, error_type, message, status in rows:
            outcome: Sellback | FailedSellback | None = None
            if state == "sold":
                outcome = Sellback(item_id, Decimal(amount), reconciled=bool(reconciled))
            elif state == "failed":
                outcome = FailedSellback(item_id, _rebuild_error(error_type, message, status))
            out[item_id] = (state, outcome)
        return out

    def begin(self, item_id: str) -> None:
        """Mark an item as possibly in flight, before its request leaves."""
        self._write(item_id, "pending")

    def sold(self, sale: Sellback) -> None:
        """Record a sale."""
        self._write(sale.item_id, "sold", amount=str(sale.amount), reconciled=sale.reconciled)

    def failed(self, item_id: str, error: Exception, *, final: bool) -> None:
        """Record a failure; ``final`` ones are not tried again on the next run."""
        self._write(
            item_id,
            "failed" if final else "retry",
            error_type=type(error).__name__,
            error_message=getattr(error, "message", None) or str(error),
            status_code=getattr(error, "status_code", None),
        )

    def unknown(self, item_id: str, error: Exception) -> None:
        """Record an outcome that could not be established."""
        self._write(item_id, "unknown", error_type=type(error).__name__, error_message=str(error))

    def _write(
        self,
        item_id: str,
        state: str,
        *,
        amount: str | None = None,
        reconciled: bool = False,
        error_type: str | None = None,
        error_message: str | None = None,
        status_code: int | None = None,
    ) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO sellback VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item_id,
                state,
                amount,
                int(reconciled),
                error_type,
                error_message,
                status_code,
                time.time(),
            ),
        )


def _rebuild_error(error_type: str | None, message: str | None, status: int | None) -> Exception:
    text = message or ""
    cls = getattr(_errors, error_type or "", None)
    if isinstance(cls, type) and issubclass(cls, _errors.APIStatusError) and status is not None:
        return cls(text, status_code=status, body={"error": text}, method="POST", url="(journal)")
    return _errors.PhygitalsError(f"{error_type}: {text}")
