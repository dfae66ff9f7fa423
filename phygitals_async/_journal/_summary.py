"""Reading a job back from its journal, for ``phygitals journal show``: counts and totals."""

from __future__ import annotations

import os
from collections import Counter
from decimal import Decimal

import attrs

from .._errors import InvalidRequestError
from ._postgres import PostgresJournal, is_postgres_url
from ._protocol import Journal, JournalJob, JournalState, entries_of
from ._sqlite import SqliteJournal

__all__ = ["JournalSummary", "journal_from", "summarize"]


def journal_from(spec: str | os.PathLike[str] | Journal) -> Journal:
    """The journal a ``journal=`` argument names: a file path, a URL, or a journal object."""
    if is_postgres_url(spec):
        return PostgresJournal(str(spec))
    if isinstance(spec, str | os.PathLike):
        path = os.fspath(spec)
        if not path:
            msg = "journal must be a file path, got ''"
            raise InvalidRequestError(msg)
        return SqliteJournal(path)
    if isinstance(spec, Journal):
        return spec
    msg = f"journal must be a file path or a journal object, got {spec!r}"
    raise InvalidRequestError(msg)


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
