"""The in-memory journal behind a bulk sellback run without ``journal=``.

The run works the same way with or without a file; this backend forgets the job when the
run ends. An unjournaled run pays for every object it makes: an item is its quote in one
dict until it is begun or settled, a small list from then on, and a :class:`JournalEntry`
only when it is read. (A run without a journal sells straight from its list and records
only what is not a sale, so most items never get a list.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .._errors import JournalError
from ._protocol import JournalEntry, JournalItem, JournalJob, JournalSettlement, JournalState

__all__ = ["MemoryJournal"]

# An item's row holds JournalEntry's fields after item_id and position, in order.
_STATE, _QUOTED, _AMOUNT, _ERROR, _RETRY, _ATTEMPTS, _BEGUN, _SETTLED = 0, 1, 2, 3, 6, 7, 8, 9


def _pending(quoted: Decimal | None) -> list[Any]:
    return [JournalState.PENDING, quoted, None, None, None, None, False, 0, None, None]


class MemoryJournal:
    """A :class:`Journal` held in a dict, in job order."""

    #: Nothing is written anywhere: a run need not group its commits.
    commits_instantly = True

    def __init__(self) -> None:
        # Every item of the job, in job order, with its quote.
        self._quotes: dict[str, Decimal | None] = {}
        # An item's row once begun or settled.
        self._rows: dict[str, list[Any]] = {}
        # Each item's position, worked out when first asked for after items were added.
        self._positions: dict[str, int] | None = None
        self._job: JournalJob | None = None

    async def open(self, *, user_id: str | None, base_url: str) -> JournalJob:
        """Start an empty job."""
        self._job = JournalJob(0, base_url, user_id, datetime.now(UTC), 1)
        return self._job

    async def open_for_reading(self) -> JournalJob:
        """An in-memory journal has nothing to read before it is opened."""
        msg = "an in-memory journal holds no job to read"
        raise JournalError(msg)

    async def job(self) -> JournalJob:
        """The job started by :meth:`open`."""
        if self._job is None:
            msg = "the journal is not open"
            raise JournalError(msg)
        return self._job

    async def add_items(self, items: Sequence[JournalItem]) -> int:
        """Append the items not yet in the job (an item without a quote takes one given)."""
        quotes = self._quotes
        before = len(quotes)
        for item in items:
            if quotes.setdefault(item.item_id, item.quoted_amount) is None:
                self._quote(item.item_id, item.quoted_amount)
        if len(quotes) != before:
            self._positions = None
        return len(quotes) - before

    def _quote(self, item_id: str, quoted: Decimal | None) -> None:
        if quoted is not None:
            self._quotes[item_id] = quoted
            row = self._rows.get(item_id)
            if row is not None and row[_QUOTED] is None:
                row[_QUOTED] = quoted

    def _row(self, item_id: str) -> list[Any]:
        row = self._rows.get(item_id)
        if row is None:
            row = self._rows[item_id] = _pending(self._quotes[item_id])
        return row

    async def begin(self, item_ids: Sequence[str]) -> Sequence[str]:
        """Mark the items begun."""
        now = datetime.now(UTC)
        for item_id in item_ids:
            row = self._row(item_id)
            if row[_STATE] is not JournalState.PENDING:  # worked again: forget its outcome
                row[_STATE] = JournalState.PENDING
                row[_AMOUNT : _RETRY + 1] = (None, None, None, None, False)
                row[_SETTLED] = None
            row[_ATTEMPTS] += 1
            row[_BEGUN] = now
        return item_ids

    async def settle(self, settlements: Sequence[JournalSettlement]) -> None:
        """Record the outcomes (without a time: nobody reads it back)."""
        for s in settlements:
            row = self._row(s.item_id)
            row[_STATE] = s.state
            row[_AMOUNT] = s.amount
            if s.error_type is not None or s.retry:
                row[_ERROR : _RETRY + 1] = (s.error_type, s.error_message, s.status_code, s.retry)
            if s.quoted_amount is not None:
                row[_QUOTED] = s.quoted_amount

    def entry(self, item_id: str) -> JournalEntry:
        """One item as the job holds it, read without waiting."""
        positions = self._positions
        if positions is None:
            positions = self._positions = {i: n for n, i in enumerate(self._quotes)}
        return self._entry(item_id, positions[item_id])

    def _entry(self, item_id: str, position: int) -> JournalEntry:
        row = self._rows.get(item_id)
        if row is None:
            return JournalEntry(item_id, position, JournalState.PENDING, self._quotes[item_id])
        return JournalEntry(item_id, position, *row)

    async def missing(self, item_ids: Sequence[str]) -> Sequence[str]:
        """The ids the job does not include."""
        return [i for i in item_ids if i not in self._quotes]

    async def flush(self) -> None:
        """Nothing to write."""

    async def entries(
        self, states: Collection[JournalState] | None = None
    ) -> AsyncIterator[JournalEntry]:
        """The items in job order; settling while iterating is safe."""
        rows = self._rows
        for position, item_id in enumerate(list(self._quotes)):
            row = rows.get(item_id)
            if states is None or (JournalState.PENDING if row is None else row[_STATE]) in states:
                yield self._entry(item_id, position)

    async def close(self) -> None:
        """Nothing to release."""
