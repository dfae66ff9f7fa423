"""The job record of bulk sellback: the :class:`Journal` protocol and its backends.

:func:`open_journal` turns a ``journal=`` argument into a journal: in memory (no argument),
SQLite (a path), PostgreSQL (a URL; the shared journal of a fleet of workers) or the
caller's own object. A run asks a journal questions (:func:`is_shared`,
:func:`commits_instantly`, :func:`settles_soon`), never which class it is. The wing imports
nothing of the package but its errors.
"""

from ._commit import failed_future
from ._memory import MemoryJournal
from ._open import (
    JournalSpec,
    SettleSoon,
    commits_instantly,
    is_shared,
    open_journal,
    settles_soon,
)
from ._postgres import PostgresJournal, is_postgres_url
from ._protocol import (
    NO_OWNER,
    SETTLED_STATES,
    Holder,
    Journal,
    JournalEntry,
    JournalItem,
    JournalJob,
    JournalSettlement,
    JournalState,
    SharedJournal,
    entries_of,
)
from ._sqlite import SCHEMA_VERSION, SqliteJournal
from ._summary import JournalSummary, summarize

__all__ = [
    "NO_OWNER",
    "SCHEMA_VERSION",
    "SETTLED_STATES",
    "Holder",
    "Journal",
    "JournalEntry",
    "JournalItem",
    "JournalJob",
    "JournalSettlement",
    "JournalSpec",
    "JournalState",
    "JournalSummary",
    "MemoryJournal",
    "PostgresJournal",
    "SettleSoon",
    "SharedJournal",
    "SqliteJournal",
    "commits_instantly",
    "entries_of",
    "failed_future",
    "is_postgres_url",
    "is_shared",
    "open_journal",
    "settles_soon",
    "summarize",
]
