"""The machinery under the blocking facade: one anyio portal (an event loop in a thread).

``Phygitals`` (generated into ``_sync.py``) owns one :class:`SyncRuntime`. Every blocking
call is submitted to the portal's loop, where the one :class:`AsyncPhygitals` and its
aiohttp session live, and waits for the result. Any number of threads may call at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import warnings
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import AbstractContextManager
from typing import Generic, ParamSpec, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from ._client import AsyncPhygitals
from ._errors import ClientClosedError
from ._polling import Poll

__all__ = ["SyncPoll", "SyncRuntime"]

T = TypeVar("T")
P = ParamSpec("P")


def _abandon(
    portal_cm: AbstractContextManager[BlockingPortal],
    portal: BlockingPortal,
    client: AsyncPhygitals,
) -> None:
    warnings.warn(
        "a Phygitals client was never closed; use 'with Phygitals(...)' or call close()",
        ResourceWarning,
        stacklevel=2,
    )
    _shutdown(portal_cm, portal, client)


def _shutdown(
    portal_cm: AbstractContextManager[BlockingPortal],
    portal: BlockingPortal,
    client: AsyncPhygitals,
) -> None:
    try:
        portal.call(client.aclose)
    finally:
        portal_cm.__exit__(None, None, None)


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


class _Handoff(Generic[T]):
    """One coroutine run as a task in the portal's loop, waited for on a plain lock.

    Leaner than ``asyncio.run_coroutine_threadsafe`` (no chained futures, no condition
    variable): about 50 us less per blocking call here (benchmarks case 3).
    """

    __slots__ = ("_coro", "_done", "_loop", "_task")

    check_interval = 1.0  # seconds between checks that the loop is still alive

    def __init__(self, loop: asyncio.AbstractEventLoop, coro: Coroutine[object, object, T]) -> None:
        self._loop = loop
        self._coro = coro
        self._task: asyncio.Task[T] | None = None
        self._done = threading.Lock()
        self._done.acquire()
        try:
            loop.call_soon_threadsafe(self._start)
        except RuntimeError:  # the loop has stopped: the client was closed meanwhile
            coro.close()
            raise ClientClosedError(_CLOSED) from None

    def _start(self) -> None:
        self._task = self._loop.create_task(self._coro)
        self._task.add_done_callback(self._finish)

    def _finish(self, _: object) -> None:
        self._done.release()

    def _cancel(self) -> None:
        # Runs after _start: the loop runs callbacks in the order they were scheduled.
        if self._task is not None:
            self._task.cancel()

    def _wait(self) -> None:
        while not self._done.acquire(timeout=self.check_interval):
            if self._loop.is_closed():
                if self._task is None:
                    self._coro.close()
                raise ClientClosedError(_CLOSED_IN_FLIGHT)

    def result(self) -> T:
        """Block until the task ends; an interrupt while waiting cancels it.

        A loop that closes without ever running the task (the client closed at that very
        moment) raises :class:`ClientClosedError` instead of leaving the caller waiting.
        """
        try:
            self._wait()
        except BaseException:
            with contextlib.suppress(RuntimeError):  # a stopped loop has nothing to cancel
                self._loop.call_soon_threadsafe(self._cancel)
            raise
        assert self._task is not None  # noqa: S101  released only by the task's callback
        if self._task.cancelled():
            # Not cancelled by this caller (that path re-raised above): the client closed.
            raise ClientClosedError(_CLOSED_IN_FLIGHT)
        return self._task.result()


_CLOSED = "this Phygitals client is closed; create a new one"
_CLOSED_IN_FLIGHT = "this Phygitals client was closed while the call was in flight"


class SyncRuntime:
    """Owns the portal thread and the async client inside it."""

    def __init__(self, client: AsyncPhygitals) -> None:
        self.client = client
        self._portal_cm = start_blocking_portal("asyncio")
        self._portal = self._portal_cm.__enter__()
        self._loop_thread: int | None = self._portal.call(threading.get_ident)
        self._loop = self._portal.call(asyncio.get_running_loop)
        self._closed = False
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(
            self, _abandon, self._portal_cm, self._portal, self.client
        )

    def _check(self) -> None:
        if self._closed:
            raise ClientClosedError(_CLOSED)
        if threading.get_ident() == self._loop_thread:
            msg = (
                "Phygitals (the blocking client) was called from its own event loop thread, "
                "e.g. inside an on_progress callback; this would deadlock. Use AsyncPhygitals "
                "in async code."
            )
            raise RuntimeError(msg)

    def call(self, func: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``func(*args, **kwargs)`` in the portal's loop and block for its result.

        A KeyboardInterrupt (or any exception) while waiting cancels the coroutine.
        """
        self._check()
        # Handed straight to the portal's asyncio loop: anyio's start_task_soon wraps each
        # call in more machinery and costs 20-60 us more per call (benchmarks case 3).
        awaitable = func(*args, **kwargs)
        coro = awaitable if asyncio.iscoroutine(awaitable) else _awaited(awaitable)
        return _Handoff(self._loop, coro).result()

    def call_sync(self, func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a plain function in the portal's loop thread (for code that needs the loop).

        Its return value comes back as is, even when it is awaitable (a poll handle).
        """
        self._check()

        def boxed() -> tuple[T]:
            # portal.call would await an awaitable result; the tuple keeps it untouched.
            return (func(*args, **kwargs),)

        return self._portal.call(boxed)[0]

    def iterate(self, iterator: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
        """A blocking iterator over an async iterator created inside the loop."""
        source = self.call_sync(iterator)
        try:
            while True:
                try:
                    item = self.call(anext, source)
                except StopAsyncIteration:
                    return
                yield item
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None and not self._closed:
                self.call(aclose)

    def close(self) -> None:
        """Close the client inside its loop, then stop the loop thread. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._finalizer.detach()
        _shutdown(self._portal_cm, self._portal, self.client)


class SyncPoll(Generic[T]):
    """A blocking handle on a poll running in the portal: ``result()``, ``cancel()``, ``done()``."""

    def __init__(self, runtime: SyncRuntime, poll: Poll[T]) -> None:
        self._runtime = runtime
        self._poll = poll

    @property
    def last_status(self) -> object:
        """The last status the poll saw."""
        return self._poll.last_status

    def result(self, timeout: float | None = None) -> T:
        """Block until the poll finishes (seconds; ``None`` waits as long as the poll does).

        Raises the poll's own error, or :class:`TimeoutError` if ``timeout`` passes first
        (the poll keeps running).
        """
        return self._runtime.call(self._wait, timeout)

    async def _wait(self, timeout: float | None) -> T:
        return await asyncio.wait_for(asyncio.shield(self._poll), timeout)

    def cancel(self) -> bool:
        """Stop the poll and its request; returns ``False`` if it had already finished."""
        if self._runtime.call_sync(self._poll.done):
            return False
        self._runtime.call(self._poll.wait_cancelled)
        return True

    def done(self) -> bool:
        """Whether the poll has finished."""
        return self._runtime.call_sync(self._poll.done)
