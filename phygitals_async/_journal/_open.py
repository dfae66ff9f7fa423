"""Which journal a ``journal=`` argument names, and the questions a run asks of it.

A run never asks which backend it holds: it asks whether the journal is shared by several
workers (:func:`is_shared`), whether its commits are instant (:func:`commits_instantly`)
and whether it takes outcomes without the caller waiting (:func:`settles_soon`), and the
backends answer.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeGuard

from .. import _errors
from ._memory import MemoryJournal
from ._postgres import PostgresJournal, is_postgres_url
from ._protocol import Journal, JournalSettlement, SharedJournal
from ._sqlite import SqliteJournal

__all__ = [
    "JournalSpec",
    "SettleSoon",
    "commits_instantly",
    "is_shared",
    "open_journal",
    "settles_soon",
]

JournalSpec = str | os.PathLike[str] | Journal
SettleSoon = Callable[[Sequence[JournalSettlement]], asyncio.Future[None]]


def open_journal(spec: JournalSpec | None, *, resume_only: bool = False) -> Journal:
    """The journal ``spec`` names: a file path (SQLite), a ``postgresql://`` URL, an object.

    Without a spec, a fresh in-memory journal. ``resume_only`` is a run with no items of its
    own: it can only resume a job that exists, so a journal that is not there is a typo.

    Raises:
        InvalidRequestError: ``spec`` names no journal, or there is nothing to resume.
        JournalNotFoundError: ``resume_only`` and the SQLite file does not exist or is
            empty (left as it is).
    """
    if spec is None:
        if resume_only:
            msg = "give the items to sell, or a journal whose job to resume"
            raise _errors.InvalidRequestError(msg)
        return MemoryJournal()
    if is_postgres_url(spec):
        # A worker resuming a job name that is not there: a typo, not an empty job.
        return PostgresJournal(str(spec), create=not resume_only)
    if isinstance(spec, str | os.PathLike):
        path = os.fspath(spec)
        if not path:
            msg = "journal must be a file path, got ''"
            raise _errors.InvalidRequestError(msg)
        if resume_only and not os.path.lexists(path):
            msg = f"journal {path!r} does not exist: there is no job to resume"
            raise _errors.JournalNotFoundError(msg)
        if resume_only and Path(path).is_file() and Path(path).stat().st_size == 0:
            # A new run may start a job in an empty file (a fresh temporary file); a run
            # with no items can only resume one, and none was ever recorded here.
            msg = f"journal {path!r} is empty: no job was ever recorded in it to resume"
            raise _errors.JournalNotFoundError(msg)
        return SqliteJournal(path)
    if isinstance(spec, Journal):
        return spec
    msg = f"journal must be a file path or a journal object, got {spec!r}"
    raise _errors.InvalidRequestError(msg)


def is_shared(journal: Journal) -> TypeGuard[SharedJournal]:
    """Whether several workers run the journal's job at once (claims and leases)."""
    return isinstance(journal, SharedJournal)


def commits_instantly(journal: Journal) -> bool:
    """Whether a commit costs nothing (held in memory): no group commit is worth waiting for."""
    return getattr(journal, "commits_instantly", False) is True


def settles_soon(journal: Journal) -> SettleSoon | None:
    """The journal's way to take outcomes without the caller waiting for them, if it has one.

    ``settle_soon(settlements)`` hands outcomes over at once, in order with every other
    write, and returns a future done once they are durable. A journal that commits
    instantly has no need of it.
    """
    soon = getattr(journal, "settle_soon", None)
    if not callable(soon) or inspect.iscoroutinefunction(soon) or commits_instantly(journal):
        return None
    # A subclass, or an instance, that overrides settle() (to mirror or audit outcomes)
    # must see every one.
    kind = type(journal)
    if _defined_by(kind, "settle") is not _defined_by(kind, "settle_soon"):
        return None
    if "settle" in getattr(journal, "__dict__", {}):
        return None
    return soon  # type: ignore[no-any-return]


def _defined_by(kind: type, name: str) -> type | None:
    return next((k for k in kind.__mro__ if name in vars(k)), None)
