"""Response metadata of successful calls: :class:`APIResponse` and the capture behind it.

A call's return type stays the model; asking for the metadata is explicit::

    response = await client.with_raw_response(client.inventory)("u1")
    response.status_code, response.request_id   # 200, "req_..."
    inventory = response.parse()                 # the Inventory the call returned

Why a wrapper and not a ``last_response`` attribute or context variable: a client is
shared by many concurrent tasks (and the blocking client by many threads, whose calls run
in another thread's loop), so "the last response" of a shared object belongs to whichever
call finished last. The wrapper ties the metadata to the one call that produced it, and
keeps every method's return type unchanged.

Mechanism: the wrapper observes its one call (:func:`._observe.observe`) and keeps each
answer the seam reads; calls that are not wrapped pay one lookup for observers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Generic, ParamSpec, TypeVar

import attrs
from multidict import CIMultiDict, CIMultiDictProxy

from .._errors import InvalidRequestError
from ._observe import REQUEST_ID_HEADER, Attempt, observe

__all__ = ["APIResponse", "ResponseInfo", "capture", "frozen_headers", "raw_call"]

T = TypeVar("T")
P = ParamSpec("P")


@attrs.frozen
class ResponseInfo:
    """What the seam saw of one HTTP response (private; exposed through APIResponse)."""

    status_code: int
    headers: CIMultiDictProxy[str]
    method: str
    url: str


@contextmanager
def capture() -> Iterator[list[ResponseInfo]]:
    """Collect the responses read in this context while the block runs."""
    sink: list[ResponseInfo] = []

    def keep(attempt: Attempt) -> None:
        if attempt.status is not None:
            headers = frozen_headers(attempt.headers)
            sink.append(ResponseInfo(attempt.status, headers, attempt.method, attempt.url))

    with observe(keep):
        yield sink


def frozen_headers(headers: object) -> CIMultiDictProxy[str]:
    """A read-only, case-insensitive copy of response headers."""
    return CIMultiDictProxy(CIMultiDict(headers))  # type: ignore[arg-type]


class APIResponse(Generic[T]):
    """A successful call's result with the HTTP response it came from.

    Returned by ``client.with_raw_response(client.method)(...)``. When the call needed
    retries, the metadata is that of the final (successful) response; ``retries`` says how
    many responses came before it.

    Attributes:
        status_code: the HTTP status, e.g. ``200``.
        headers: the response headers, read-only and case-insensitive.
        method: the HTTP method.
        url: the request URL (it never holds the API key).
        retries: how many earlier responses were answered with a retryable error.
    """

    __slots__ = ("_value", "headers", "method", "retries", "status_code", "url")

    def __init__(self, value: T, info: ResponseInfo, *, retries: int = 0) -> None:
        self._value = value
        self.status_code: int = info.status_code
        self.headers: CIMultiDictProxy[str] = info.headers
        self.method: str = info.method
        self.url: str = info.url
        self.retries: int = retries

    @property
    def request_id(self) -> str | None:
        """The ``X-Request-Id`` response header, to quote to support; ``None`` when absent."""
        return self.headers.get(REQUEST_ID_HEADER)

    def parse(self) -> T:
        """The value the call returns without the wrapper (already decoded)."""
        return self._value

    def __repr__(self) -> str:
        return (
            f"<APIResponse {self.method} {self.url} -> {self.status_code}"
            f" request_id={self.request_id!r}>"
        )


def raw_call(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[APIResponse[T]]]:
    """``method`` wrapped to return its value with the response it came from."""
    if not callable(method):
        msg = f"with_raw_response takes a client method, got {method!r}"
        raise InvalidRequestError(msg)

    async def call(*args: P.args, **kwargs: P.kwargs) -> APIResponse[T]:
        with capture() as responses:
            value = await method(*args, **kwargs)
        if not responses:
            msg = f"{getattr(method, '__name__', method)!s} returned without an HTTP response"
            raise InvalidRequestError(msg)
        return APIResponse(value, responses[-1], retries=len(responses) - 1)

    return call
