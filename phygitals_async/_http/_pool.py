"""The connection pool of a client's own session, and the proxy it goes through."""

from __future__ import annotations

import asyncio
import urllib.request

import aiohttp
import yarl

__all__ = ["ConnectorClosedError", "PoolConnector", "env_proxy"]


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

    aiohttp resends an idempotent request once when its pooled connection drops, and the
    resend asks the connector for a fresh connection even after ``close()`` closed the pool
    under it: closing a client with a GET in flight would open a socket the close never
    waits for, left half-open when the event loop stops.
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
