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

__all__ = ["GroupCommit", "done_future", "failed_future"]


class GroupCommit:
    """Commits settlements in groups, each group as soon as the previous one is written.

    ``write`` makes one group durable (one transaction). It is awaited by one writer task
    at a time, so a backend needs no lock of its own around it. The callers of one group
    share a future that is done once it is durable; a caller cancelled meanwhile withdraws
    nothing: the outcomes it recorded are committed all the same.
    """

    def __init__(self, write: Callable[[list[JournalSettlement]], Awaitable[None]]) -> None:
        self._write = write
        self._gathering: list[JournalSettlement] = []
        self._done: asyncio.Future[None] | None = None  # done once _gathering is durable
        self._writer: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None

    async def settle(self, settlements: Sequence[JournalSettlement]) -> None:
        """Record outcomes; returns once they are committed (raises if that failed).

        Cancelling the caller does not withdraw them: they are committed all the same.
        """
        await asyncio.shield(self.submit(settlements))

    def submit(self, settlements: Sequence[JournalSettlement]) -> asyncio.Future[None]:
        """Record outcomes now; the future is done once they are committed."""
        loop = asyncio.get_running_loop()
        if self._failure is not None:
            return failed_future(loop, self._failure)
        if not settlements:
            return done_future(loop)
        if self._done is None:
            self._done = loop.create_future()
        done = self._done
        self._gathering.extend(settlements)
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._commit_all())
        return done

    async def _commit_all(self) -> None:
        try:
            while self._done is not None:
                batch, done = self._gathering, self._done
                self._gathering, self._done = [], None
                try:
                    await self._write(batch)  # never empty: submit() adds before _done
                except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001  to every waiter
                    self._fail(exc, done)
                    return
                if not done.done():  # else one of its callers cancelled it; it stands
                    done.set_result(None)
        finally:
            self._writer = None

    def _fail(self, exc: Exception | asyncio.CancelledError, done: asyncio.Future[None]) -> None:
        failure: BaseException = exc
        if isinstance(exc, asyncio.CancelledError):
            from .._errors import JournalError  # noqa: PLC0415  only on this rare path

            failure = JournalError("the journal was closed before these outcomes were written")
        self._failure = failure
        for waiting in (done, self._done):
            if waiting is not None and not waiting.done():
                waiting.set_exception(failure)
                # Marked as seen: a caller cancelled meanwhile never reads it, and the run
                # hears of the failure from the next call.
                waiting.exception()
        self._gathering, self._done = [], None

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


def failed_future(loop: asyncio.AbstractEventLoop, failure: BaseException) -> asyncio.Future[None]:
    """A future failed with ``failure``, marked as seen (its caller may never await it)."""
    done: asyncio.Future[None] = loop.create_future()
    done.set_exception(failure)
    done.exception()
    return done


def done_future(loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
    """A future already done: nothing was left to wait for."""
    done: asyncio.Future[None] = loop.create_future()
    done.set_result(None)
    return done
