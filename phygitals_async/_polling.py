"""Polling as a cancellable task: :class:`PurchasePoll` and the loop behind it.

Intervals and deadlines are seconds as float. The loop sleeps through the transport's
injectable ``sleep`` and reads its ``clock``, so tests never wait on real time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator
from typing import Generic, TypeVar

from ._errors import APITimeoutError, PollTimeoutError
from ._models import PurchaseResult

__all__ = ["LAST_CHECK_SECONDS", "Poll", "PurchasePoll", "poll_until"]

T = TypeVar("T")
S = TypeVar("S")


# The budget of the status check made at the deadline itself (capped by the client's
# timeout): long enough for one answer, short enough that the deadline still means it.
LAST_CHECK_SECONDS = 5.0


async def poll_until(  # noqa: PLR0913  the knobs of one loop, all keyword-only at the call site
    fetch: Callable[[float], Awaitable[S]],
    is_done: Callable[[S], bool],
    *,
    interval: float,
    max_interval: float,
    timeout: float,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]],
    what: str,
    on_status: Callable[[S], None] | None = None,
) -> S:
    """Call ``fetch(budget)`` until ``is_done``; the wait grows 1.5x up to ``max_interval``.

    The last wait is cut short so that the last check is made at the deadline itself, not
    one interval before it; that check may take up to :data:`LAST_CHECK_SECONDS`.

    Raises:
        PollTimeoutError: ``timeout`` passed first; it carries the last status seen.
    """
    deadline = clock() + timeout
    last: S | None = None
    delay = interval
    while True:
        remaining = deadline - clock()
        try:
            status = await fetch(remaining if remaining > 0 else LAST_CHECK_SECONDS)
        except APITimeoutError as exc:
            if clock() < deadline:
                raise
            raise PollTimeoutError(
                f"{what} did not finish within {timeout:g} s", last_status=last
            ) from exc
        if on_status is not None:
            on_status(status)
        if is_done(status):
            return status
        last = status
        remaining = deadline - clock()
        if remaining <= 0:
            break
        await sleep(min(delay, remaining))
        delay = min(max_interval, delay * 1.5)
    raise PollTimeoutError(f"{what} did not finish within {timeout:g} s", last_status=last)


class Poll(Generic[T]):
    """A running poll: await it for the result, or ``cancel()`` it.

    Cancelling stops the task and any request in flight; nothing is left running.
    """

    def __init__(
        self, run: Callable[[Callable[[object], None]], Awaitable[T]], *, name: str
    ) -> None:
        """Start ``run(record)`` as a task; ``record`` keeps each status in ``last_status``."""
        self.last_status: object = None
        self._task: asyncio.Task[T] = asyncio.ensure_future(run(self._record))
        self._task.set_name(name)

    def _record(self, status: object) -> None:
        self.last_status = status

    def __await__(self) -> Generator[object, None, T]:
        return self._task.__await__()

    def cancel(self) -> bool:
        """Stop polling; returns ``False`` when it had already finished."""
        return self._task.cancel()

    def done(self) -> bool:
        """Whether polling has finished (with a result, an error, or cancelled)."""
        return self._task.done()

    def cancelled(self) -> bool:
        """Whether polling was cancelled (by :meth:`cancel` or the loop shutting down)."""
        return self._task.cancelled()

    def result(self) -> T:
        """The result of a finished poll; raises its error, or ``InvalidStateError`` if running."""
        return self._task.result()

    async def wait_cancelled(self) -> None:
        """Cancel and wait until the task and its request are gone."""
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
        except Exception:  # noqa: BLE001, S110  the poll's own outcome is not ours to raise
            pass


class PurchasePoll(Poll[PurchaseResult]):
    """The handle ``poll_purchase`` returns; ``session_id`` names the purchase polled."""

    def __init__(
        self,
        run: Callable[[Callable[[object], None]], Awaitable[PurchaseResult]],
        *,
        session_id: str,
    ) -> None:
        super().__init__(run, name=f"phygitals-poll-purchase-{session_id}")
        self.session_id = session_id
