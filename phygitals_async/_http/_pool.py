"""A client's own session and its connection pool, and the proxy it goes through."""

from __future__ import annotations

import asyncio
import urllib.request

import aiohttp
import yarl

from .._config import Settings
from .._limits import MAX_BODY_BYTES as MAX_BODY

__all__ = [
    "MAX_BODY",
    "BodyTooLargeError",
    "ConnectorClosedError",
    "PoolConnector",
    "env_proxy",
    "own_session",
    "read_body",
]


class BodyTooLargeError(aiohttp.ClientPayloadError):
    """An answer's body is larger than ``MAX_BODY_BYTES``: it was not read to its end."""


async def read_body(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The response's body, at most ``limit`` bytes (else :class:`BodyTooLargeError`).

    Read piece by piece and counted as it is unpacked, so an endless body, or a small
    compressed one that unpacks to gigabytes, costs ``limit`` bytes of memory, not all the
    server can send before the call's deadline. A plain body whose stated length is
    beyond ``limit`` is refused before reading.
    """
    too_large = f"the answer's body is larger than {limit} bytes; it was not read"
    length = response.content_length
    if length is not None and length > limit and "Content-Encoding" not in response.headers:
        raise BodyTooLargeError(too_large)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(too_large)
        chunks.append(chunk)
    return b"".join(chunks)


def own_session(settings: Settings) -> aiohttp.ClientSession:
    """The session a client opens for itself (a caller's ``http_session`` is used as given).

    aiohttp resends a GET, PUT, DELETE, HEAD, OPTIONS or TRACE once by itself when the
    connection drops before an answer, behind the client's back: a read would be sent more
    often than ``max_retries`` allows, and a PUT or DELETE that ``client.request`` marks as
    never resent could reach the server twice. Turned off here: every resend is the
    client's own, by its retry rules.
    """
    session = aiohttp.ClientSession(
        connector=PoolConnector(limit=settings.max_connections, ssl=settings.ssl),
        headers=dict(settings.headers),
        # Proxies come from env_proxy, read once: aiohttp's trust_env would look them (and
        # .netrc) up in a thread on every request, tripling the latency.
        trust_env=False,
        trace_configs=list(settings.trace_configs) or None,
    )
    if hasattr(session, "_retry_connection"):  # no public switch (aiohttp 3.14)
        session._retry_connection = False  # noqa: SLF001
    return session


def env_proxy(base_url: str) -> str | None:
    """The proxy for ``base_url`` from ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``, if any."""
    url = yarl.URL(base_url)
    proxy = urllib.request.getproxies().get(url.scheme)
    if not proxy or (url.host and urllib.request.proxy_bypass(url.host)):
        return None
    return proxy


class ConnectorClosedError(aiohttp.ClientConnectionError):
    """A new connection was asked for after :meth:`Transport.aclose`; none was opened."""


class PoolConnector(aiohttp.TCPConnector):
    """A connector that opens no connection once closed.

    aiohttp asks the connector for a connection even after ``close()`` closed the pool
    under a request (its own resend of a dropped idempotent request did, where it is on):
    closing a client with a call in flight would open a socket the close never waits for,
    left half-open when the event loop stops.
    """

    async def connect(
        self,
        req: aiohttp.ClientRequest,
        traces: list[aiohttp.tracing.Trace],
        timeout: aiohttp.ClientTimeout,
    ) -> aiohttp.connector.Connection:
        if self.closed:
            raise ConnectorClosedError("the connection pool is closed")
        try:
            return await super().connect(req, traces, timeout)
        except (asyncio.CancelledError, aiohttp.ClientConnectionError):
            # Closed while this request waited for a free connection (aiohttp cancels the
            # waiters) or opened one (aiohttp refuses it): it never left, so say closed.
            if not self.closed:
                raise
        raise ConnectorClosedError("the connection pool was closed before the request left")
