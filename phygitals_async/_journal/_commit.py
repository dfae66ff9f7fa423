"""Group commit without a window: outcomes are written as soon as the writer is free.

While one commit runs, new outcomes gather; the next commit starts the moment the previous
one ends, with everything gathered meanwhile. There is no timer and no size to wait for,
so an outcome is never left uncommitted while a run waits on slow requests, and a crash
loses at most the outcomes of the commit that was running. :meth:`GroupCommit.settle`
returns once its outcomes are durable, so whatever follows it (a progress count, an item
yielded to the caller) only ever reports what the journal holds.

A commit that fails fails every outcome waiting on it and every later one: a journal that
cannot be written stops the run, and what was begun is settled by the next run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from ._protocol import JournalSettlement

__all__ = ["GroupCommit"]


def _retrieved(future: asyncio.Future[None]) -> None:
    # Waiters may all have been cancelled: the error still reached the run elsewhere.
    if not future.cancelled():
        future.exception()


class GroupCommit:
    """Commits settlements in groups, each group as soon as the previous one is written.

    ``write`` makes one group durable (one transaction). It is awaited by one writer task
    at a time, so a backend needs no lock of its own around it.
    """

    def __init__(self, write: Callable[[list[JournalSettlement]], Awaitable[None]]) -> None:
        self._write = write
        self._gathering: list[JournalSettlement] = []
        self._gathered: asyncio.Future[None] | None = None  # done when _gathering is durable
        self._writing: asyncio.Future[None] | None = None  # done when the running commit is
        self._writer: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None

    async def settle(self, settlements: Sequence[JournalSettlement]) -> None:
        """Record outcomes; returns once they are committed (raises if that failed).

        Cancelling the caller does not withdraw them: they are committed all the same.
        """
        if self._failure is not None:
            raise self._failure
        if not settlements:
            return
        self._gathering.extend(settlements)
        done = self._gathered
        if done is None:
            done = self._gathered = asyncio.get_running_loop().create_future()
            done.add_done_callback(_retrieved)
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._commit_all())
        await asyncio.shield(done)

    async def _commit_all(self) -> None:
        try:
            while self._gathering:
                batch, done = self._gathering, self._gathered
                self._gathering, self._gathered = [], None
                self._writing = done
                assert done is not None  # noqa: S101  created with the first gathered outcome
                try:
                    await self._write(batch)
                except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001  to every waiter
                    self._fail(exc, done)
                    return
                done.set_result(None)
        finally:
            self._writer = self._writing = None

    def _fail(self, exc: Exception | asyncio.CancelledError, done: asyncio.Future[None]) -> None:
        failure: BaseException = exc
        if isinstance(exc, asyncio.CancelledError):
            from .._errors import JournalError  # noqa: PLC0415  only on this rare path

            failure = JournalError("the journal was closed before these outcomes were written")
        self._failure = failure
        for future in (done, self._gathered):
            if future is not None and not future.done():
                future.set_exception(failure)
        self._gathering, self._gathered = [], None

    async def drain(self) -> None:
        """Wait until every outcome recorded so far is committed (raises if one failed)."""
        while self._writer is not None:
            await asyncio.shield(self._writer)
        if self._failure is not None:
            raise self._failure

    @property
    def failed(self) -> BaseException | None:
        """The error that stopped committing, if any."""
        return self._failure
