"""The SQL of the SQLite journal: its schema, its statements, its rows as entries, its file.

Beside ``_sqlite`` as ``_postgres_sql`` is beside ``_postgres``: what the database runs, in
one place, apart from the Python that drives it.
"""

from __future__ import annotations

import json
import operator
import os
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ._protocol import JournalEntry, JournalSettlement, JournalState

__all__ = [
    "ADD",
    "ADD_JSON",
    "BEGIN",
    "JSON",
    "SCHEMA",
    "SELECT",
    "SETTLE",
    "SETTLE_JSON",
    "connect",
    "now",
    "entry",
    "settlement_rows",
]

SCHEMA = (
    """CREATE TABLE job (
        id             INTEGER PRIMARY KEY CHECK (id = 1),
        schema_version INTEGER NOT NULL,
        base_url       TEXT NOT NULL,
        user_id        TEXT,
        created_at     TEXT NOT NULL,
        runs           INTEGER NOT NULL
    )""",
    """CREATE TABLE items (
        position       INTEGER PRIMARY KEY,
        item_id        TEXT NOT NULL UNIQUE,
        state          TEXT NOT NULL,
        quoted_amount  TEXT,
        amount         TEXT,
        error_type     TEXT,
        error_message  TEXT,
        status_code    INTEGER,
        retry          INTEGER NOT NULL DEFAULT 0,
        attempts       INTEGER NOT NULL DEFAULT 0,
        begun_at       TEXT,
        settled_at     TEXT
    )""",
)


COLUMNS = (
    "item_id, position, state, quoted_amount, amount, error_type, error_message,"
    " status_code, retry, attempts, begun_at, settled_at"
)
SELECT = f"SELECT {COLUMNS} FROM items"  # noqa: S608  constants; values go as parameters


def page(states: tuple[str, ...] | None, size: int) -> str:
    """The query of one page of entries in job order: after a position, of some states.

    Where SQLite has JSON, the page is one JSON text built in one step: the thread reading
    it takes the interpreter's lock once, not once a row, and the event loop does not wait
    for that lock a few milliseconds a row while the run sells.
    """
    query = SELECT + " WHERE position > ?"
    if states is not None:
        query += f" AND state IN ({', '.join('?' * len(states))})"
    query += f" ORDER BY position LIMIT {size}"
    if JSON:
        query = f"SELECT json_group_array(json_array({COLUMNS})) FROM ({query})"  # noqa: S608
    return query


def entries(page: list[Any] | str) -> list[JournalEntry]:
    """The entries of a page read with :func:`page`: its rows, or its JSON text."""
    rows: list[Any] = page if isinstance(page, list) else json.loads(page)
    if isinstance(page, str):
        rows.sort(key=_POSITION)  # as the query ordered them
    return [entry(row) for row in rows]


# Each write is one statement over a JSON array where SQLite can (3.38 and later): the
# rows are walked inside SQLite, which holds the GIL once per batch instead of once per row.
JSON = sqlite3.sqlite_version_info >= (3, 38)


BEGIN = (
    "UPDATE items SET state = 'pending', attempts = attempts + 1, begun_at = ?,"
    " amount = NULL, error_type = NULL, error_message = NULL, status_code = NULL,"
    " retry = 0, settled_at = NULL WHERE item_id IN (SELECT value FROM json_each(?))"
)


ADD = (
    "INSERT INTO items (item_id, state, quoted_amount) VALUES (?, 'pending', ?)"
    " ON CONFLICT (item_id) DO UPDATE"
    " SET quoted_amount = COALESCE(items.quoted_amount, excluded.quoted_amount)"
)


ADD_JSON = (
    "INSERT INTO items (item_id, state, quoted_amount)"
    " SELECT json_extract(value, '$[0]'), 'pending', json_extract(value, '$[1]')"
    " FROM json_each(?) WHERE true ORDER BY key"
    " ON CONFLICT (item_id) DO UPDATE"
    " SET quoted_amount = COALESCE(items.quoted_amount, excluded.quoted_amount)"
)


SETTLE = (
    "UPDATE items SET state = ?, amount = ?, quoted_amount = COALESCE(?, quoted_amount),"
    " error_type = ?, error_message = ?, status_code = ?, retry = ?, settled_at = ?"
    " WHERE item_id = ?"
)


SETTLE_JSON = (
    "UPDATE items SET state = s.state, amount = s.amount,"
    " quoted_amount = COALESCE(s.quoted, items.quoted_amount), error_type = s.etype,"
    " error_message = s.message, status_code = s.status, retry = s.retry, settled_at = ?"
    " FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS state,"
    " json_extract(value, '$[2]') AS amount, json_extract(value, '$[3]') AS quoted,"
    " json_extract(value, '$[4]') AS etype, json_extract(value, '$[5]') AS message,"
    " json_extract(value, '$[6]') AS status, json_extract(value, '$[7]') AS retry"
    " FROM json_each(?)) AS s WHERE items.item_id = s.id"
)


def now() -> str:
    """A journal's time: ISO 8601 UTC to the millisecond, as every row stores it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _money(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


_STATES = {state.value: state for state in JournalState}
_POSITION = operator.itemgetter(1)


def entry(row: tuple[Any, ...]) -> JournalEntry:
    item_id, position, state, quoted, amount, etype, message, status, retry, attempts = row[:10]
    return JournalEntry(
        item_id=item_id,
        position=position,
        state=_STATES[state],
        quoted_amount=_money(quoted),
        amount=_money(amount),
        error_type=etype,
        error_message=message,
        status_code=status,
        retry=bool(retry),
        attempts=attempts,
        begun_at=_time(row[10]),
        settled_at=_time(row[11]),
    )


def settlement_rows(batch: Sequence[JournalSettlement]) -> list[tuple[Any, ...]]:
    """The rows of SETTLE_JSON; the last settlement of an item wins, as written one by one."""
    if len(batch) == 1:  # a sale as it is answered
        return [settlement_row(batch[0])]
    return [settlement_row(s) for s in {s.item_id: s for s in batch}.values()]


def settlement_row(s: JournalSettlement) -> tuple[Any, ...]:
    return (
        s.item_id,
        s.state.value,
        None if s.amount is None else str(s.amount),
        None if s.quoted_amount is None else str(s.quoted_amount),
        s.error_type,
        s.error_message,
        s.status_code,
        int(s.retry),
    )


def connect(path: Path, *, create: bool) -> sqlite3.Connection:
    """A connection to the journal; read-only where its directory cannot be written.

    SQLite reads a WAL file through a ``-shm`` file beside it, which it cannot create in a
    read-only directory (a read-only mount). Without a ``-wal`` file no run is under way
    and nothing is left to merge, so the file is read as it is (``immutable``); with one,
    its ``-shm`` must be there already.
    """
    if create or os.access(path.absolute().parent, os.W_OK):
        return sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    uri = path.absolute().as_uri() + "?mode=ro"
    if not Path(f"{path}-wal").exists():
        uri += "&immutable=1"
    return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
