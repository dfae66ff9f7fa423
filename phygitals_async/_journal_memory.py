"""The in-memory journal behind a bulk sellback run without ``journal=``.

The run works the same way with or without a file; this backend just forgets the job when
the run ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import UTC, datetime

import attrs

from ._errors import JournalError
from ._journal import JournalEntry, JournalItem, JournalJob, JournalSettlement, JournalState

__all__ = ["MemoryJournal"]


class MemoryJournal:
    """A :class:`Journal` held in a dict, in job order."""

    def __init__(self) -> None:
        self._items: dict[str, JournalEntry] = {}
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
        added = 0
        for item in items:
            known = self._items.get(item.item_id)
            if known is None:
                self._items[item.item_id] = JournalEntry(
                    item.item_id, len(self._items), JournalState.PENDING, item.quoted_amount
                )
                added += 1
            elif known.quoted_amount is None and item.quoted_amount is not None:
                self._items[item.item_id] = attrs.evolve(known, quoted_amount=item.quoted_amount)
        return added

    async def begin(self, item_ids: Sequence[str]) -> Sequence[str]:
        """Mark the items begun."""
        now = datetime.now(UTC)
        for item_id in item_ids:
            entry = self._items[item_id]
            self._items[item_id] = JournalEntry(
                item_id,
                entry.position,
                JournalState.PENDING,
                entry.quoted_amount,
                attempts=entry.attempts + 1,
                begun_at=now,
            )
        return item_ids

    async def settle(self, settlements: Sequence[JournalSettlement]) -> None:
        """Record the outcomes."""
        now = datetime.now(UTC)
        for s in settlements:
            entry = self._items[s.item_id]
            self._items[s.item_id] = JournalEntry(
                s.item_id,
                entry.position,
                s.state,
                s.quoted_amount if s.quoted_amount is not None else entry.quoted_amount,
                s.amount,
                s.error_type,
                s.error_message,
                s.status_code,
                s.retry,
                entry.attempts,
                entry.begun_at,
                now,
            )

    async def flush(self) -> None:
        """Nothing to write."""

    async def entries(
        self, states: Collection[JournalState] | None = None
    ) -> AsyncIterator[JournalEntry]:
        """The items in job order (a snapshot, so settling while iterating is safe)."""
        for entry in list(self._items.values()):
            if states is None or entry.state in states:
                yield entry

    async def close(self) -> None:
        """Nothing to release."""
