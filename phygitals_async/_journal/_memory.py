"""The in-memory journal behind a bulk sellback run without ``journal=``.

The run works the same way with or without a file; this backend forgets the job when the
run ends. It keeps one small list per item and builds :class:`JournalEntry` objects only
when they are read, since an unjournaled run pays for every object it makes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from .._errors import JournalError
from ._protocol import JournalEntry, JournalItem, JournalJob, JournalSettlement, JournalState

__all__ = ["MemoryJournal"]

# An item's row holds JournalEntry's fields after item_id, in order.
_STATE, _QUOTED, _ATTEMPTS, _BEGUN, _SETTLED = 1, 2, 8, 9, 10  # position is 0


class MemoryJournal:
    """A :class:`Journal` held in a dict, in job order."""

    #: Nothing is written anywhere: a run need not group its commits.
    commits_instantly = True

    def __init__(self) -> None:
        self._rows: dict[str, list[Any]] = {}
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
        """Append the items not yet in the job."""
        rows = self._rows
        before = len(rows)
        for item in items:
            row = rows.get(item.item_id)
            if row is None:
                rows[item.item_id] = [
                    len(rows),
                    JournalState.PENDING,
                    item.quoted_amount,
                    *(None, None, None, None, False, 0, None, None),
                ]
            elif row[_QUOTED] is None:
                row[_QUOTED] = item.quoted_amount
        return len(rows) - before

    async def begin(self, item_ids: Sequence[str]) -> Sequence[str]:
        """Mark the items begun."""
        now = datetime.now(UTC)
        rows = self._rows
        for item_id in item_ids:
            row = rows[item_id]
            if row[_STATE] is not JournalState.PENDING:  # worked again: forget its outcome
                row[_STATE] = JournalState.PENDING
                row[3:8] = (None, None, None, None, False)
                row[_SETTLED] = None
            row[_ATTEMPTS] += 1
            row[_BEGUN] = now
        return item_ids

    async def settle(self, settlements: Sequence[JournalSettlement]) -> None:
        """Record the outcomes (without a time: nobody reads it back)."""
        rows = self._rows
        for s in settlements:
            row = rows[s.item_id]
            row[_STATE] = s.state
            row[3] = s.amount
            if s.error_type is not None or s.retry:
                row[4:8] = (s.error_type, s.error_message, s.status_code, s.retry)
            if s.quoted_amount is not None:
                row[_QUOTED] = s.quoted_amount

    def entry(self, item_id: str) -> JournalEntry:
        """One item as the job holds it, read without waiting."""
        return JournalEntry(item_id, *self._rows[item_id])

    async def missing(self, item_ids: Sequence[str]) -> Sequence[str]:
        """The ids the job does not include."""
        return [i for i in item_ids if i not in self._rows]

    async def flush(self) -> None:
        """Nothing to write."""

    async def entries(
        self, states: Collection[JournalState] | None = None
    ) -> AsyncIterator[JournalEntry]:
        """The items in job order; settling while iterating is safe."""
        for item_id, row in list(self._rows.items()):
            if states is None or row[_STATE] in states:
                yield JournalEntry(item_id, *row)

    async def close(self) -> None:
        """Nothing to release."""
