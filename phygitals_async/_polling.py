"""Polling as a cancellable task: :class:`Poll`, :class:`PurchasePoll` and the loop behind them.

Intervals and deadlines are seconds as float. The loop waits with the client's
:class:`~._config.Settings` ``sleep`` and reads its ``clock``, so tests never wait on real
time (:class:`phygitals_async.testing.FakeTime`).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Generator
from typing import Generic, TypeVar

import attrs

from ._config import Settings
from ._errors import APITimeoutError, PollTimeoutError
from ._models import PurchasePending, PurchaseResult
from ._tracing import operation_span
from ._validation import require_seconds

__all__ = ["LAST_CHECK_SECONDS", "Poll", "PurchasePoll", "Schedule"]

T = TypeVar("T")
S = TypeVar("S")


# The budget of the status check made at the deadline itself (capped by the client's
# timeout): long enough for one answer, short enough that the deadline still means it.
LAST_CHECK_SECONDS = 5.0


def _seconds(_: object, attribute: attrs.Attribute[float], value: object) -> None:
    require_seconds(attribute.name, value, allow_zero=True)


@attrs.frozen(kw_only=True)
class Schedule:
    """When to look: the first wait, the longest wait, and the deadline, in seconds.

    The wait grows 1.5x after each look, up to ``max_interval``.

    Raises:
        InvalidRequestError: a value that is not a finite number of seconds >= 0.
    """

    interval: float = attrs.field(validator=_seconds)
    max_interval: float = attrs.field(validator=_seconds)
    timeout: float = attrs.field(validator=_seconds)


async def _poll_until(
    fetch: Callable[[float], Awaitable[S]],
    finished: Callable[[S], T | None],
    schedule: Schedule,
    settings: Settings,
    what: str,
    on_status: Callable[[S], object],
) -> T:
    """Call ``fetch(budget)`` until ``finished`` turns a status into the result.

    ``on_status`` sees every status first (awaited when it returns an awaitable); what it
    raises ends the poll. The deadline is fixed at the start, so a slow ``on_status``
    delays the next check, never the deadline.

    The last wait is cut short so that the last check is made at the deadline itself, not
    one interval before it; that check may take up to :data:`LAST_CHECK_SECONDS`. Each
    request's budget is also capped by the client's ``timeout``.

    Raises:
        PollTimeoutError: the deadline passed first; it carries the last status seen.
    """
    clock = settings.clock
    deadline = clock() + schedule.timeout
    last: S | None = None
    delay = schedule.interval
    while True:
        remaining = deadline - clock()
        budget = remaining if remaining > 0 else LAST_CHECK_SECONDS
        try:
            status = await fetch(min(budget, settings.timeout))
        except APITimeoutError as exc:
            if clock() < deadline:
                raise
            raise PollTimeoutError(
                f"{what} did not finish within {schedule.timeout:g} s", last_status=last
            ) from exc
        seen = on_status(status)
        if inspect.isawaitable(seen):
            await seen
        result = finished(status)
        if result is not None:
            return result
        last = status
        remaining = deadline - clock()
        if remaining <= 0:
            break
        await settings.sleep(min(delay, remaining))
        delay = min(schedule.max_interval, delay * 1.5)
    raise PollTimeoutError(f"{what} did not finish within {schedule.timeout:g} s", last_status=last)


class Poll(Generic[T]):
    """A running poll: await it for the result, or ``cancel()`` it.

    Cancelling stops the task and any request in flight; nothing is left running.
    ``last_status`` is the last status seen (``None`` before the first answer).
    """

    def __init__(
        self,
        fetch: Callable[[float], Awaitable[S]],
        finished: Callable[[S], T | None],
        *,
        schedule: Schedule,
        settings: Settings,
        operation: str,
        what: str,
        name: str,
        on_status: Callable[[S], object] | None = None,
    ) -> None:
        """Start polling in a task: ``fetch(budget)`` until ``finished(status)`` is not None.

        ``on_status(status)`` is called with every status read, in order, before the poll
        decides whether to go on. Must be called inside a running event loop.
        """
        self.last_status: object = None

        def record(status: S) -> object:
            self.last_status = status
            return None if on_status is None else on_status(status)

        async def run() -> T:
            with operation_span(operation):
                return await _poll_until(fetch, finished, schedule, settings, what, record)

        self._task: asyncio.Task[T] = asyncio.ensure_future(run())
        self._task.set_name(name)

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


def _fulfilled(status: PurchaseResult | PurchasePending) -> PurchaseResult | None:
    return status if isinstance(status, PurchaseResult) else None


class PurchasePoll(Poll[PurchaseResult]):
    """The handle ``poll_purchase`` returns; ``session_id`` names the purchase polled."""

    def __init__(
        self,
        fetch: Callable[[float], Awaitable[PurchaseResult | PurchasePending]],
        *,
        schedule: Schedule,
        settings: Settings,
        session_id: str,
        on_status: Callable[[PurchaseResult | PurchasePending], object] | None = None,
    ) -> None:
        """Poll ``fetch`` (the purchase's status) until the purchase is fulfilled."""
        super().__init__(
            fetch,
            _fulfilled,
            schedule=schedule,
            settings=settings,
            operation="poll_purchase",
            what=f"purchase {session_id}",
            name=f"phygitals-poll-purchase-{session_id}",
            on_status=on_status,
        )
        self.session_id = session_id
