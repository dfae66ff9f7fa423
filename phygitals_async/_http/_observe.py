"""The seam's one observation hook: callers see each attempt of the calls they make.

A caller registers an observer for the calls made inside a block::

    with observe(seen):
        await client.sell_back(item_id)   # seen(Attempt(...)) for every attempt

The registration is scoped to the running task (a context variable), so concurrent calls on
one shared client each reach their own observers only. The seam calls every observer of
the context after each attempt, in registration order, and costs one lookup when there is
none. What uses it: ``with_raw_response`` (the metadata of the final response) and bulk
sellback (a 429 cuts its concurrency; a lost answer inside a job is the job's to
reconcile, so the seam logs it at DEBUG instead of as a WARNING).

An observer that holds something for its call (a :class:`LendingObserver`, such as a bulk
run's concurrency slot) lends it back while the seam waits to retry, and takes it again
before the next attempt leaves: a call waiting out a 429's backoff keeps no slot from
calls that can send.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar, Token
from typing import Protocol, runtime_checkable

import yarl

__all__ = ["Attempt", "LendingObserver", "Observer", "observe", "observers", "wait_to_retry"]

REQUEST_ID_HEADER = "X-Request-Id"


class Attempt:
    """One attempt of a call as the seam saw it (made for every attempt a hook observes).

    Attributes:
        method: the HTTP method.
        url: the request URL (it never holds the API key).
        status: the HTTP status, or ``None`` when no answer arrived.
        headers: the response headers as received (empty without an answer).
        lost: the request may have reached the server but its answer was lost, and it will
            not be resent (the outcome is unknown).
    """

    # A plain slotted class: it is built on the hot path of every observed attempt, and
    # its URL is written out only when someone reads it.
    __slots__ = ("_url", "headers", "lost", "method", "status")

    def __init__(
        self,
        method: str,
        url: str | yarl.URL,
        status: int | None,
        headers: Mapping[str, str],
        *,
        lost: bool = False,
    ) -> None:
        self.method = method
        self._url = url
        self.status = status
        self.headers = headers
        self.lost = lost

    @property
    def url(self) -> str:
        """The request URL (it never holds the API key)."""
        url = self._url
        if not isinstance(url, str):
            url = self._url = str(url)
        return url

    @property
    def request_id(self) -> str | None:
        """The ``X-Request-Id`` response header, when the answer had one."""
        return self.headers.get(REQUEST_ID_HEADER)

    def __repr__(self) -> str:
        return f"<Attempt {self.method} {self.url} -> {self.status} lost={self.lost}>"


#: Called with each attempt; returns ``True`` when it reconciles a lost answer itself.
Observer = Callable[[Attempt], bool | None]

_OBSERVERS: ContextVar[tuple[Observer, ...]] = ContextVar("phygitals_observers", default=())


#: The observers of the calls made in this context, oldest first (one lookup per attempt).
observers: Callable[[], tuple[Observer, ...]] = _OBSERVERS.get


@runtime_checkable
class LendingObserver(Protocol):
    """An observer that holds a resource for its call, lent back during waits to retry."""

    def __call__(self, attempt: Attempt) -> bool | None: ...

    def release(self) -> None:
        """Give the resource back: the seam is about to wait before retrying."""

    async def reacquire(self) -> None:
        """Take the resource again (waiting for it): the next attempt is about to leave."""


async def wait_to_retry(delay: float, sleep: Callable[[float], Awaitable[None]]) -> None:
    """Wait ``delay`` before a retry, the context's lending observers having lent back.

    Cancelled while waiting, a lender stays released: it knows not to give back twice.
    """
    lenders = [seen for seen in _OBSERVERS.get() if isinstance(seen, LendingObserver)]
    for lender in lenders:
        lender.release()
    await sleep(delay)
    for lender in lenders:
        await lender.reacquire()


class observe:  # noqa: N801  used like a function: ``with observe(callback):``
    """Register ``observer`` for the calls made inside the ``with`` block."""

    __slots__ = ("_observer", "_token")

    def __init__(self, observer: Observer) -> None:
        self._observer = observer

    def __enter__(self) -> None:
        self._token: Token[tuple[Observer, ...]] = _OBSERVERS.set(
            (*_OBSERVERS.get(), self._observer)
        )

    def __exit__(self, *_: object) -> None:
        _OBSERVERS.reset(self._token)


def tell(seen: tuple[Observer, ...], attempt: Attempt) -> bool:
    """Show ``attempt`` to every observer; whether one of them reconciles it."""
    reconciled = False
    for observer in seen:
        reconciled = bool(observer(attempt)) or reconciled
    return reconciled
