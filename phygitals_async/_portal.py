"""The machinery under the blocking facade: one anyio portal (an event loop in a thread).

``Phygitals`` (generated into ``_sync.py``) owns one :class:`SyncRuntime`. Every blocking
call is submitted to the portal's loop, where the one :class:`AsyncPhygitals` and its
aiohttp session live, and waits for the result. Any number of threads may call at once.

The portal starts on the first call, not in the constructor, so a client created at import
time in a parent that forks (Celery prefork, ``gunicorn --preload``) starts no thread there.
In a forked child the parent's portal and session are left untouched (see ``_fork``) and the
first call starts the child's own.

Closing ends every call still in flight before the loop stops (:func:`_close_in_loop`), so
each caller hears what happened to its call: a money-moving POST that may have reached the
server raises :class:`OutcomeUnknownError`, never :class:`ClientClosedError`.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
import warnings
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import AbstractContextManager
from typing import Any, Generic, ParamSpec, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from . import _fork
from ._client import AsyncPhygitals
from ._errors import (
    ClientClosedError,
    ConfigurationError,
    LoopThreadError,
)

__all__ = ["SyncRuntime"]

T = TypeVar("T")
P = ParamSpec("P")


class _Runner:
    """One started portal: its context manager, the portal, its loop and the loop's thread.

    ``calls`` holds the tasks of the blocking calls running in the loop, ``drains`` those of
    them that end by themselves once the client is closed (bulk runs, which then return
    their report); only the loop's own thread touches them.
    """

    __slots__ = ("calls", "cm", "drains", "loop", "portal", "sources", "thread")

    def __init__(self) -> None:
        self.cm: AbstractContextManager[BlockingPortal] = start_blocking_portal("asyncio")
        self.portal = self.cm.__enter__()
        self.thread: int = self.portal.call(threading.get_ident)
        self.loop = self.portal.call(asyncio.get_running_loop)
        self.calls: set[asyncio.Task[Any]] = set()
        self.drains: set[asyncio.Task[Any]] = set()
        # The async iterators behind blocking ones still open: close() closes them too.
        self.sources: set[AsyncIterator[Any]] = set()


def _abandon(runner: _Runner, client: AsyncPhygitals) -> None:
    try:
        warnings.warn(
            "a Phygitals client was never closed; use 'with Phygitals(...)' or call close()",
            ResourceWarning,
            stacklevel=2,
        )
    finally:  # even when warnings are errors: a thread left running would hang the exit
        _shutdown(runner, client)


def _shutdown(runner: _Runner, client: AsyncPhygitals) -> None:
    if threading.get_ident() == runner.thread:
        # Collected inside one of the loop's own callbacks: a thread cannot join itself.
        threading.Thread(target=_shutdown, args=(runner, client), daemon=True).start()
        return
    try:
        runner.portal.call(_close_in_loop, client, runner)
    finally:
        runner.cm.__exit__(None, None, None)


async def _close_in_loop(client: AsyncPhygitals, runner: _Runner) -> None:
    """Close the client, then end the blocking calls still running, before the loop stops.

    ``aclose()`` drops every connection, so a request that had left fails on its own with
    its real outcome; the calls left (waiting to retry, polling, opening a connection, or
    not yet resumed by the loop) are cancelled here. The seam reports a money-moving POST
    cancelled after its connection was open as :class:`OutcomeUnknownError`, so it never
    reads as "nothing happened". Left to asyncio's own shutdown, those calls would be
    cancelled after the loop stopped, where no caller hears their outcome. Iterators left
    open (a blocking ``iter_sell_back`` not run to its end) are closed last, so what they
    hold (a journal's thread, file and lock) is released before the loop stops.
    """
    try:
        await client.aclose()
    finally:
        # A bulk run ends by itself once its requests fail (it starts nothing more) and
        # returns its report: it is given a moment for that before being cancelled.
        draining = [task for task in runner.drains if not task.done()]
        if draining:
            await asyncio.wait(draining, timeout=_DRAIN_SECONDS)
        running = [task for task in runner.calls if not task.done()]
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running)
        for source in list(runner.sources):
            await _close_source(runner, source, None)


async def _close_source(runner: _Runner, source: AsyncIterator[Any], last: Any) -> None:
    """Close a blocking iterator's source, once its last step (``last``, a task) has ended.

    An interrupted step is cancelled but may still be running: closing the generator under
    it would fail with "asynchronous generator is already running".
    """
    if isinstance(last, asyncio.Task) and not last.done():
        await asyncio.wait([last])
    runner.sources.discard(source)
    aclose = getattr(source, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):  # its own error was raised to the caller
            await aclose()


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


class _Handoff(Generic[T]):
    """One coroutine run as a task in the portal's loop, waited for on a plain lock.

    Leaner than ``asyncio.run_coroutine_threadsafe`` (no chained futures, no condition
    variable): about 50 us less per blocking call here (benchmarks case 3).
    """

    __slots__ = ("_calls", "_coro", "_done", "_loop", "_task")

    # ``calls`` are the runner's running calls (close() ends them), or those and its
    # ``drains`` for a call that ends by itself once the client is closed.

    check_interval = 1.0  # seconds between checks that the loop is still alive

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        coro: Coroutine[object, object, T],
        *calls: set[asyncio.Task[Any]],
    ) -> None:
        self._loop = loop
        self._coro = coro
        self._calls = calls
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
        for running in self._calls:
            running.add(self._task)
        self._task.add_done_callback(self._finish)

    def _finish(self, task: asyncio.Task[T]) -> None:
        for running in self._calls:
            running.discard(task)
        self._done.release()

    @property
    def task(self) -> asyncio.Task[T] | None:
        """The task running the coroutine, once the loop has started it."""
        return self._task

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
            # Not cancelled by this caller (that path re-raised above): close() ended it. A
            # money POST that may have left ends with OutcomeUnknownError instead, not here.
            raise ClientClosedError(_CLOSED_IN_FLIGHT)
        return self._task.result()


_DRAIN_SECONDS = 5.0  # how long close() lets a bulk run end by itself with its report
_CLOSED = "this Phygitals client is closed; create a new one"
_FORKED_ITERATOR = (
    "this iterator was started in the parent process, before a fork; its run is there. "
    "Start a new one in this process (the client works here)"
)
_CLOSED_IN_FLIGHT = "this Phygitals client was closed while the call was in flight"
_LOOP_THREAD = (
    "Phygitals (the blocking client) was called from its own event loop thread, e.g. inside "
    "an on_progress callback; this would deadlock, so nothing was done. Use AsyncPhygitals "
    "in async code, or act after the blocking call returns."
)


class SyncRuntime:
    """Owns the portal thread (started on first use, per process) and the async client."""

    def __init__(self, client: AsyncPhygitals) -> None:
        if client.http_session is not None:
            # An aiohttp session belongs to the loop it was made in; this client's loop is
            # its own thread's, which the caller's session can never be bound to.
            msg = (
                "http_session= is for AsyncPhygitals; the blocking client runs its own event "
                "loop and session (trace_configs= and default_headers= work here)"
            )
            raise ConfigurationError(msg)
        self.client = client
        self._closed = False
        self._lock = threading.Lock()
        self._runner: _Runner | None = None
        self._finalizer: weakref.finalize[[_Runner, AsyncPhygitals], SyncRuntime] | None = None
        _fork.register(self)

    def _current(self) -> _Runner:
        """The running portal (started if need be), checked not to be the caller's thread."""
        runner = self._runner
        if runner is None:
            runner = self._start()
        if threading.get_ident() == runner.thread:
            raise LoopThreadError(_LOOP_THREAD)
        return runner

    def _start(self) -> _Runner:
        with self._lock:
            if self._closed:
                raise ClientClosedError(_CLOSED)
            if self._runner is None:
                runner = _Runner()
                self._finalizer = weakref.finalize(self, _abandon, runner, self.client)
                # At interpreter exit _close_at_exit closes it quietly instead: a client
                # left open at module level (Django, gunicorn) is the intended use.
                self._finalizer.atexit = False
                self._runner = runner
                _open.add(self)
            return self._runner

    def after_fork_in_child(self) -> None:
        """In a forked child: drop (never stop) the parent's portal; the next call starts one."""
        # The parent may have held the lock at the fork; no other thread exists here now.
        self._lock = threading.Lock()
        runner, self._runner = self._runner, None
        if runner is not None:
            _fork.abandon(runner)
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None

    def call(self, func: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``func(*args, **kwargs)`` in the portal's loop and block for its result.

        A KeyboardInterrupt (or any exception) while waiting cancels the coroutine.
        """
        runner = self._current()
        # Handed straight to the portal's asyncio loop: anyio's start_task_soon wraps each
        # call in more machinery and costs 20-60 us more per call (benchmarks case 3).
        awaitable = func(*args, **kwargs)
        coro = awaitable if asyncio.iscoroutine(awaitable) else _awaited(awaitable)
        return _Handoff(runner.loop, coro, runner.calls).result()

    def call_to_the_end(
        self, func: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """:meth:`call` for a bulk run: ``close()`` lets it end by itself with its report.

        Closing the client fails its requests in flight and it starts no more, so it
        returns its report at once; it is cancelled only if it has not within a few seconds.
        """
        runner = self._current()
        awaitable = func(*args, **kwargs)
        coro = awaitable if asyncio.iscoroutine(awaitable) else _awaited(awaitable)
        return _Handoff(runner.loop, coro, runner.calls, runner.drains).result()

    def call_overloaded(self, func: Callable[..., Awaitable[Any]], /, **kwargs: Any) -> Any:
        """:meth:`call` for an overloaded method: the blocking twin's overloads type it."""
        return self.call(func, **kwargs)

    def call_sync(self, func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a plain function in the portal's loop thread (for code that needs the loop).

        Its return value comes back as is, even when it is awaitable (a poll handle).
        """
        runner = self._current()

        def boxed() -> tuple[T]:
            # portal.call would await an awaitable result; the tuple keeps it untouched.
            return (func(*args, **kwargs),)

        return runner.portal.call(boxed)[0]

    def iterate(self, iterator: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
        """A blocking iterator over an async iterator created inside the loop.

        Ended early (``break``, an exception, Ctrl+C), it closes the async iterator once
        its interrupted step has ended; left open, ``close()`` of the client closes it.
        """
        runner = self._current()

        def opened() -> AsyncIterator[T]:
            source = iterator()
            runner.sources.add(source)
            return source

        source = self.call_sync(opened)
        step: _Handoff[T] | None = None
        try:
            while True:
                if self._current() is not runner:  # a forked child: the loop is the parent's
                    raise ConfigurationError(_FORKED_ITERATOR)
                step = _Handoff(runner.loop, _awaited(anext(source)), runner.calls)
                try:
                    item = step.result()
                except StopAsyncIteration:
                    return
                yield item
        finally:
            if not self._closed and self._runner is runner:
                last = None if step is None else step.task
                self.call(_close_source, runner, source, last)

    def close(self) -> None:
        """Close the client inside its loop, end the calls in flight, stop the loop. Idempotent.

        A call in flight ends with its own outcome: :class:`OutcomeUnknownError` for a
        money-moving POST that may have reached the server, :class:`ClientClosedError` for a
        GET or a request that never left.

        Raises:
            LoopThreadError: called from the loop's own thread (a callback); nothing changed.
        """
        runner = self._runner
        if runner is not None and threading.get_ident() == runner.thread:
            raise LoopThreadError(_LOOP_THREAD)
        with self._lock:
            if self._closed:
                return
            self._closed = True
            runner, self._runner = self._runner, None
            finalizer, self._finalizer = self._finalizer, None
        _open.discard(self)
        if finalizer is not None:
            finalizer.detach()
        if runner is not None:
            _shutdown(runner, self.client)


# The runtimes whose loop thread is running, closed at interpreter exit.
_open: weakref.WeakSet[SyncRuntime] = weakref.WeakSet()


@atexit.register
def _close_at_exit() -> None:
    """Close every blocking client still open when the interpreter exits, without warning.

    A module-level client (the recommended setup for Django or gunicorn) is never closed
    by the application; at exit its calls are over, and closing it is all that is left.
    """
    for runtime in list(_open):
        with contextlib.suppress(Exception):
            runtime.close()
