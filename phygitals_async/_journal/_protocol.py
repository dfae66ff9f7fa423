"""The bulk sellback journal: the record of one job, behind a small interface.

A journal holds one **job**: every item the job ever included, in the order it was first
given, with the item's state and what is known about it. Backends implement
:class:`Journal`; the SQLite one (the default, stdlib only) lives in ``_sqlite``,
an in-memory one backs runs without a journal.

States of an item (:class:`JournalState`)::

    pending ──► sold          the API answered the sale, with its amount (confirmed)
        │   ──► unconfirmed   sold, but the amount never arrived (a lost answer or a
        │                     crash); carries the price quoted when it was begun, if known
        │   ──► failed        the API refused it (typed error kept); ``retry`` ones are
        │                     tried again by the next run, the others are final
        └─► unknown           could not be established without guessing; the next run
                              checks it again

An item is ``pending`` from the moment the job includes it until it is settled;
``attempts`` counts the buybacks begun for it. Because :meth:`Journal.begin` is durable
before a request leaves, ``attempts == 0`` proves no buyback was ever sent for the item,
and ``attempts > 0`` means one may have been (it is then settled by the no-guess rule:
re-send, and read an "Item not found" against the owner's inventory).

Settlements (:meth:`Journal.settle`) may be committed in small groups: a settlement lost
in a crash leaves its item ``pending`` with ``attempts > 0``, which the next run settles by
the same rule, so batching weakens no guarantee.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

import attrs

from .._errors import JournalMismatchError

__all__ = [
    "NO_OWNER",
    "SETTLED_STATES",
    "entries_of",
    "Journal",
    "JournalEntry",
    "JournalItem",
    "JournalJob",
    "JournalSettlement",
    "JournalState",
    "Holder",
    "SharedJournal",
    "check_binding",
]


class JournalState(enum.StrEnum):
    """The state of one item of a job (see the module docstring for the transitions)."""

    PENDING = "pending"
    SOLD = "sold"
    UNCONFIRMED = "unconfirmed"
    FAILED = "failed"
    UNKNOWN = "unknown"


SETTLED_STATES = frozenset(
    {JournalState.SOLD, JournalState.UNCONFIRMED, JournalState.FAILED, JournalState.UNKNOWN}
)

# In the error message of an item left unknown because nobody said whose it is: a rerun
# without an owner would get the same answer, so it does not resend it (the bulk feed).
NO_OWNER = "no owner to check the inventory of"


@attrs.frozen
class JournalJob:
    """What a journal's job is bound to, checked each time it is opened.

    Attributes:
        schema_version: the backend's storage schema version the journal was written with.
        base_url: the API base URL (the environment) the job sells through.
        user_id: the owner of the job's items, when known (needed to reconcile).
        created_at: when the job's first run started (timezone-aware).
        runs: how many runs have opened the job, this one included.
    """

    schema_version: int
    base_url: str
    user_id: str | None
    created_at: datetime
    runs: int


@attrs.frozen
class JournalItem:
    """An item to include in a job; ``quoted_amount`` is its buyback price when known."""

    item_id: str
    quoted_amount: Decimal | None = None


@attrs.frozen
class JournalSettlement:
    """The outcome of one item, to record with :meth:`Journal.settle`.

    ``amount`` is set for ``sold``; ``quoted_amount`` for ``unconfirmed`` (when known);
    ``error_type`` (an exception class name of phygitals_async), ``error_message`` and
    ``status_code`` for ``failed`` and ``unknown``; ``retry`` marks a failure the next
    run tries again (a server error, say) rather than a final refusal.
    """

    item_id: str
    state: JournalState
    amount: Decimal | None = None
    quoted_amount: Decimal | None = None
    error_type: str | None = None
    error_message: str | None = None
    status_code: int | None = None
    retry: bool = False


@attrs.frozen
class JournalEntry:
    """One item of a job as the journal holds it.

    Attributes:
        item_id: the item.
        position: its place in the job (the order items were first included).
        state: see :class:`JournalState`.
        quoted_amount: the buyback price known when the item was included, or ``None``.
        amount: the confirmed amount (``sold`` only).
        error_type: the exception class name (``failed`` and ``unknown``).
        error_message: the API's message or the error text.
        status_code: the HTTP status of a failure, when there was one.
        retry: a failure the next run tries again.
        attempts: how many buybacks were begun for the item, across runs.
        begun_at: when the last one was begun (timezone-aware), or ``None``.
        settled_at: when the current state was recorded, or ``None`` while pending.
        worker: on a shared journal, the worker holding the unsettled item, or ``None``.
        lease_until: on a shared journal, when that worker's claim ends, or ``None``.
    """

    item_id: str
    position: int
    state: JournalState
    quoted_amount: Decimal | None = None
    amount: Decimal | None = None
    error_type: str | None = None
    error_message: str | None = None
    status_code: int | None = None
    retry: bool = False
    attempts: int = 0
    begun_at: datetime | None = None
    settled_at: datetime | None = None
    worker: str | None = None
    lease_until: datetime | None = None


@attrs.frozen
class Holder:
    """A worker of a shared job, as ``journal show`` lists it.

    Attributes:
        worker: its identity (host:pid:random by default).
        items: the unsettled items it holds now.
        lease_until: when its soonest lease ends (``None`` when it holds nothing).
        latest_lease: when its latest lease ends.
        heartbeat_at: its last heartbeat (``None`` for a worker of an older version).
        expired: whether its soonest lease has ended (a dead or stopped worker).
    """

    worker: str
    items: int
    lease_until: datetime | None
    latest_lease: datetime | None
    heartbeat_at: datetime | None
    expired: bool


@runtime_checkable
class Journal(Protocol):
    """What ``sell_back_many(journal=...)`` needs from a journal backend.

    One journal object serves one run on one event loop. :meth:`open` (or
    :meth:`open_for_reading`) comes first and :meth:`close` last, also after a failure or
    a cancellation (then shielded from it). In between, calls overlap: while one task
    begins the next group and iterates :meth:`entries`, the workers settle, so a backend
    orders its own I/O (the SQLite one runs every statement on one thread). Every method
    is async so a backend may do its I/O off the event loop or over the network. A call
    that is cancelled may still complete; the run assumes nothing either way.

    A backend shared by several processes (PostgreSQL) implements :meth:`begin` as an
    atomic claim with a lease: it returns only the items this caller now holds, and may
    treat an expired lease of another worker as an item to settle by the no-guess rule.
    """

    async def open(self, *, user_id: str | None, base_url: str) -> JournalJob:
        """Open the job, creating it on first use, and check that it may be run here.

        A new job records ``user_id`` and ``base_url``. An existing one must have been
        written with a known schema version, for the same ``base_url``, and for the same
        owner (a job without an owner adopts ``user_id``). Raises a :class:`JournalError`
        subclass otherwise, before anything is written or sent.
        """
        ...

    async def open_for_reading(self) -> JournalJob:
        """Open an existing job only to read it (``phygitals journal show``).

        Nothing is written and no owner or environment is checked; a missing, unreadable,
        corrupted or unknown-version journal raises a :class:`JournalError` subclass. Only
        :meth:`entries`, :meth:`job` and :meth:`close` follow.
        """
        ...

    async def add_items(self, items: Sequence[JournalItem]) -> int:
        """Include items in the job, after those it already has; return how many were new.

        Items the job already includes keep their state; a quoted price fills in one that
        was unknown. Durable when it returns.
        """
        ...

    async def begin(self, item_ids: Sequence[str]) -> Sequence[str]:
        """Record that these items' buybacks are about to be sent; return those to send.

        Each returned item is ``pending`` with ``attempts`` increased and ``begun_at`` set,
        durably, before this returns (so a crash can never hide a sent request). Pending
        settlements are committed with it at the latest.
        """
        ...

    async def settle(self, settlements: Sequence[JournalSettlement]) -> None:
        """Record outcomes; they may be buffered until the next begin, flush or close.

        Buffering is safe: see the module docstring.
        """
        ...

    async def flush(self) -> None:
        """Make every recorded settlement durable now."""
        ...

    def entries(
        self, states: Collection[JournalState] | None = None
    ) -> AsyncIterator[JournalEntry]:
        """The job's items in job order, optionally only those in ``states``.

        Streams: a backend reads a bounded page at a time, never the whole job at once
        (keyset pages by position suit). The run relies on this much: each item that is
        in ``states`` when the iteration starts, and is not settled before the iteration
        reaches it, is yielded exactly once. Changes to items already passed, or recorded
        while iterating, may or may not be seen.
        """
        ...

    async def job(self) -> JournalJob:
        """The job's metadata (after :meth:`open`)."""
        ...

    async def close(self) -> None:
        """Flush and release the journal; closing twice is fine."""
        ...


@contextlib.asynccontextmanager
async def entries_of(
    journal: Journal, states: Collection[JournalState] | None = None
) -> AsyncIterator[AsyncIterator[JournalEntry]]:
    """``journal.entries(states)``, closed on leaving even when the loop stops early."""
    entries = journal.entries(states)
    try:
        yield entries
    finally:
        close = getattr(entries, "aclose", None)
        if close is not None:
            await close()


@runtime_checkable
class SharedJournal(Journal, Protocol):
    """A journal that several worker processes run at once (PostgreSQL).

    A run on it takes its work by :meth:`claim` instead of reading :meth:`Journal.entries`,
    and finishes only when no other worker holds an unsettled item of the job: a live
    worker settles its items, a dead one's leases expire and its items are claimed again.
    A claimed item is sent only while :meth:`still_held` says its claim surely holds; one
    whose claim may have lapsed is given back (:meth:`release`), not sent.
    """

    async def claim(self, limit: int) -> Sequence[JournalEntry]:
        """Take up to ``limit`` items nobody holds, with a lease, begun as :meth:`begin` does.

        The entries are as they were before the claim (``attempts > 0``: a buyback may
        already have been sent).
        """
        ...

    async def outstanding(self) -> tuple[int, float | None]:
        """Unsettled items other workers hold, and seconds until the soonest lease ends."""
        ...

    async def release(self, item_ids: Sequence[str]) -> None:
        """Give back claimed items this worker will not send."""
        ...

    async def holders(self) -> Sequence[Holder]:
        """Every worker holding unsettled items of the job, or with a heartbeat recorded."""
        ...

    @property
    def worker(self) -> str:
        """This worker's identity, recorded on its claims (:attr:`Holder.worker`)."""
        ...

    def lease_clock(self) -> float:
        """Seconds on the clock leases are judged by; a claim's time is read from it."""
        ...

    def still_held(self, claimed_at: float) -> bool:
        """Whether items claimed at ``claimed_at`` (:meth:`lease_clock`) are surely still ours.

        After a gap in the lease's renewals longer than the lease (the process was stopped,
        say), claims made before it may have been taken over, and are not ours to send.
        """
        ...


def check_binding(
    job: JournalJob,
    user_id: str | None,
    base_url: str,
    *,
    environment: Callable[[str, str], str],
    owner: Callable[[str, str], str],
) -> None:
    """Refuse to run a job bound to another environment or owner, before anything is sent.

    A job belongs to the API base URL it was opened for, and to its owner once one is
    known. ``environment`` and ``owner`` word the refusal for the backend, given the job's
    value and this run's.

    Raises:
        JournalMismatchError: the job is another environment's or another user's.
    """
    if job.base_url != base_url:
        raise JournalMismatchError(environment(job.base_url, base_url))
    if job.user_id is not None and user_id is not None and job.user_id != user_id:
        raise JournalMismatchError(owner(job.user_id, user_id))
