"""Reading a job back from its journal, for ``phygitals journal show``: counts and totals."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import attrs

from ._protocol import Journal, JournalJob, JournalState, entries_of

__all__ = ["JournalSummary", "summarize"]


@attrs.frozen
class JournalSummary:
    """A job's items counted by state, with its exact totals."""

    job: JournalJob
    counts: dict[JournalState, int]
    confirmed_amount: Decimal
    unconfirmed_amount: Decimal
    unquoted: int = 0  # unconfirmed items whose price was never known (not counted as $0)

    @property
    def total(self) -> int:
        """How many items the job includes."""
        return sum(self.counts.values())


async def summarize(journal: Journal, job: JournalJob) -> JournalSummary:
    """Count an open journal's items by state and sum its amounts (one streaming pass)."""
    counts: Counter[JournalState] = Counter()
    confirmed = unconfirmed = Decimal(0)
    unquoted = 0
    async with entries_of(journal) as entries:
        async for entry in entries:
            counts[entry.state] += 1
            if entry.amount is not None and entry.state is JournalState.SOLD:
                confirmed += entry.amount
            elif entry.state is JournalState.UNCONFIRMED:
                if entry.quoted_amount is None:
                    unquoted += 1
                else:
                    unconfirmed += entry.quoted_amount
    by_state = {s: counts[s] for s in JournalState}
    return JournalSummary(job, by_state, confirmed, unconfirmed, unquoted)
