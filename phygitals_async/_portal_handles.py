"""The handles the blocking client gives out over its portal: polls and raw responses.

:class:`SyncPoll` is the blocking twin of a poll handle; :func:`raw_caller` makes the
blocking ``with_raw_response``. Both run their work in a :class:`SyncRuntime`'s loop.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Awaitable, Callable
from typing import Any, Generic, ParamSpec, TypeVar

from ._client import AsyncPhygitals
from ._errors import ConfigurationError, InvalidRequestError, PollCancelledError
from ._http import APIResponse
from ._polling import Poll
from ._portal import SyncRuntime

__all__ = ["SyncPoll", "raw_caller"]

T = TypeVar("T")
P = ParamSpec("P")


class SyncPoll(Generic[T]):
    """A blocking handle on a poll running in the portal: ``result()``, ``cancel()``, ``done()``.

    Any thread may use it. After ``cancel()`` every ``result()`` (waiting or later) raises
    :class:`PollCancelledError`.
    """

    def __init__(self, runtime: SyncRuntime, poll: Poll[T]) -> None:
        self._runtime = runtime
        self._poll = poll
        self._pid = os.getpid()

    @property
    def last_status(self) -> object:
        """The last status the poll saw."""
        return self._poll.last_status

    @property
    def session_id(self) -> str | None:
        """The purchase polled, as :attr:`PurchasePoll.session_id`; ``None`` for an order."""
        session_id: object = getattr(self._poll, "session_id", None)
        return session_id if isinstance(session_id, str) else None

    def _runs_here(self) -> SyncRuntime:
        if os.getpid() != self._pid:
            msg = (
                "this poll handle was started in the parent process, before a fork; its poll "
                "runs there. Start a new poll in this process (the client works here)"
            )
            raise ConfigurationError(msg)
        return self._runtime

    def _finished(self) -> bool:
        # Read without the portal: a poll that ended keeps its outcome after close(), as a
        # concurrent.futures.Future does. A finished task never changes again, so reading
        # its state from this thread is safe; a cancelled one goes through the portal,
        # which says whether the client's close() was the cause.
        return self._poll.done() and not self._poll.cancelled()

    def result(self, timeout: float | None = None) -> T:
        """Block until the poll finishes (seconds; ``None`` waits as long as the poll does).

        Raises the poll's own error, :class:`PollCancelledError` once it is cancelled, or
        :class:`TimeoutError` if ``timeout`` passes first (the poll keeps running). A poll
        that finished keeps its result (or error) after the client is closed.
        """
        runtime = self._runs_here()
        if self._finished():
            return self._poll.result()
        return runtime.call(self._wait, timeout)

    async def _wait(self, timeout: float | None) -> T:
        try:
            # The poll's own task, shielded: a wait that times out leaves no task behind
            # whose error nobody would read.
            task = self._poll._task  # noqa: SLF001  the runtime's own poll
            return await asyncio.wait_for(asyncio.shield(task), timeout)
        except asyncio.CancelledError:
            waiter = asyncio.current_task()
            # The poll was cancelled, not this wait (Ctrl+C in the caller, or close()).
            if self._poll.cancelled() and not (waiter is not None and waiter.cancelling()):
                raise PollCancelledError("the poll was cancelled") from None
            raise

    # A poll that ended (finished or cancelled, by cancel() or by the client's close())
    # answers these three from its task's final state, so cleanup after close() works.

    def cancel(self) -> bool:
        """Stop the poll and its request; returns ``False`` if it had already finished."""
        runtime = self._runs_here()
        if self._poll.done() or runtime.call_sync(self._poll.done):
            return False
        runtime.call(self._poll.wait_cancelled)
        return True

    def cancelled(self) -> bool:
        """Whether the poll was cancelled."""
        runtime = self._runs_here()
        if self._poll.done():
            return self._poll.cancelled()
        return runtime.call_sync(self._poll.cancelled)

    def done(self) -> bool:
        """Whether the poll has finished."""
        runtime = self._runs_here()
        return self._poll.done() or runtime.call_sync(self._poll.done)


def raw_caller(runtime: SyncRuntime, method: Callable[P, T]) -> Callable[P, APIResponse[T]]:
    """The blocking ``with_raw_response``: ``method`` is a request method of a client.

    The async twin of ``method`` runs wrapped in the portal's loop, where the response
    metadata is captured; the caller's thread gets the :class:`APIResponse`.
    """
    owner = getattr(method, "__self__", None)
    client = getattr(owner, "_client", None)
    target = getattr(client, getattr(method, "__name__", ""), None)
    if (
        getattr(owner, "_runtime", None) is not runtime
        or not isinstance(client, AsyncPhygitals)
        or not inspect.iscoroutinefunction(target)
    ):
        msg = (
            "with_raw_response takes a request method of this client, e.g. client.inventory, "
            f"got {method!r}"
        )
        raise InvalidRequestError(msg)
    wrapped: Callable[..., Awaitable[APIResponse[Any]]] = client.with_raw_response(target)

    def call(*args: P.args, **kwargs: P.kwargs) -> APIResponse[T]:
        response: APIResponse[T] = runtime.call(wrapped, *args, **kwargs)
        return response

    return call
