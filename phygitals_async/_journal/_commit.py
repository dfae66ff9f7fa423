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


class GroupCommit:
    """Commits settlements in groups, each group as soon as the previous one is written.

    ``write`` makes one group durable (one transaction). It is awaited by one writer task
    at a time, so a backend needs no lock of its own around it. Each caller waits on a
    future of its own: a caller cancelled meanwhile cancels only that future, and the
    outcomes it recorded are committed all the same.
    """

    def __init__(self, write: Callable[[list[JournalSettlement]], Awaitable[None]]) -> None:
        self._write = write
        self._gathering: list[JournalSettlement] = []
        self._waiting: list[asyncio.Future[None]] = []  # done once _gathering is durable
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
        done = asyncio.get_running_loop().create_future()
        self._waiting.append(done)
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._commit_all())
        await done

    async def _commit_all(self) -> None:
        try:
            while self._gathering:
                batch, waiting = self._gathering, self._waiting
                self._gathering, self._waiting = [], []
                try:
                    await self._write(batch)
                except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001  to every waiter
                    self._fail(exc, waiting)
                    return
                for done in waiting:
                    if not done.done():  # its caller was cancelled meanwhile
                        done.set_result(None)
        finally:
            self._writer = None

    def _fail(
        self, exc: Exception | asyncio.CancelledError, waiting: list[asyncio.Future[None]]
    ) -> None:
        failure: BaseException = exc
        if isinstance(exc, asyncio.CancelledError):
            from .._errors import JournalError  # noqa: PLC0415  only on this rare path

            failure = JournalError("the journal was closed before these outcomes were written")
        self._failure = failure
        for done in (*waiting, *self._waiting):
            if not done.done():
                done.set_exception(failure)
                # Marked as seen: a caller cancelled meanwhile never reads it, and the run
                # hears of the failure from the next call.
                done.exception()
        self._gathering, self._waiting = [], []

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
