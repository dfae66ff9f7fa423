"""AsyncPhygitals: one thin method per partner endpoint, over the one HTTP seam.

This module holds what every call shares (the settings, the seam, views, closing, the
generic ``request``) and the pack endpoints; the other endpoint groups are mixins in their
own modules (``_client_purchases``, ``_client_sellback``, ``_client_shipping``). The order
of the bases is the order of the public API: scripts/gen_sync.py copies the methods in
that order into the blocking client.
"""

from __future__ import annotations

import copy
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, ParamSpec, Self, TypeVar, overload

import aiohttp

from ._client_purchases import PurchaseEndpoints
from ._client_sellback import SellbackEndpoints
from ._client_shipping import ShippingEndpoints
from ._config import (
    DEFAULT_TIMEOUT,
    PRODUCTION_URL,
    SANDBOX_URL,
    Settings,
    request_headers,
    resolve_base_url,
    resolve_key,
)
from ._http import (
    APIResponse,
    Call,
    Params,
    Retry,
    RetryPolicy,
    Transport,
    configure_logging,
    raw_call,
    request_call,
)
from ._models import Pack, Pull
from ._validation import require_id, require_int

__all__ = ["PRODUCTION_URL", "SANDBOX_URL", "AsyncPhygitals"]

T = TypeVar("T")
P = ParamSpec("P")


class AsyncPhygitals(PurchaseEndpoints, SellbackEndpoints, ShippingEndpoints):
    """The async client for the Phygitals partner API.

    One client per process (and per event loop) is the intended use: it holds a connection
    pool and is safe to share between concurrent tasks. Times are seconds as float.

    Example::

        async with AsyncPhygitals(api_key="sandbox-...") as client:
            packs = await client.list_packs()
            purchase = await client.buy(packs[0].id, amount=2, user_id="u1")
            result = await client.wait_for_purchase(purchase.session_id, timeout=60)

    Args:
        api_key: the partner key; defaults to ``$PHYGITALS_API_KEY``. Keys starting with
            ``sandbox-`` select the sandbox.
        base_url: overrides the URL chosen from the key (e.g. a local sandbox); defaults to
            ``$PHYGITALS_BASE_URL`` when set.
        timeout: the default deadline of one call, covering every retry and wait.
        max_retries: how many times a call may be resent when its retry class allows.
        max_connections: the size of the connection pool.
        connect_timeout: the limit on opening one connection (``None``: only the deadline).
        read_timeout: the limit on a silent socket during one attempt (``None``: only the
            deadline).
        ssl: ``True`` to verify with the system CAs, an ``SSLContext`` for a custom CA.
        trust_env: use the proxy from ``HTTPS_PROXY``/``HTTP_PROXY`` (honouring ``NO_PROXY``),
            read once when the first request is made.
        retry_backoff: the first backoff step; each retry doubles it, with jitter.
        retry_backoff_max: the cap on one backoff step.
        max_retry_wait: the longest single wait before a retry (default 10 s). A
            ``Retry-After`` asking for longer is not waited: the ``RateLimitError`` or
            ``ServerError`` is raised at once, carrying ``.retry_after``.
        http_session: a caller-owned ``aiohttp.ClientSession`` to send requests through
            (its connector, limits and trace configs apply; ``max_connections``, ``ssl``
            and ``trace_configs`` here do not). The client never closes it.
        trace_configs: ``aiohttp.TraceConfig`` hooks for the session the client creates.
        default_headers: extra headers sent with every request (not ``X-API-Key`` or
            ``User-Agent``, which the client sets).
        app_name: your application's name, appended to the User-Agent
            (``phygitals-async/0.1.0 myapp/1.2``) so the API team can tell integrations apart.
        app_version: your application's version, appended after ``app_name``.

    Raises:
        ConfigurationError: no key, a malformed base URL, a key and base URL of different
            environments, a production key over plain ``http://`` to a host that is not
            loopback, or an option out of range.
    """

    def __init__(  # noqa: PLR0913  each option is a documented setting
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        max_connections: int = 100,
        connect_timeout: float | None = 10.0,
        read_timeout: float | None = None,
        ssl: ssl_module.SSLContext | bool = True,
        trust_env: bool = True,
        retry_backoff: float = 0.5,
        retry_backoff_max: float = 8.0,
        max_retry_wait: float = 10.0,
        http_session: aiohttp.ClientSession | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] | None = None,
        default_headers: Mapping[str, str] | None = None,
        app_name: str | None = None,
        app_version: str | None = None,
    ) -> None:
        try:
            key = resolve_key(api_key)
            configure_logging()
            settings = Settings(
                api_key=key,
                base_url=resolve_base_url(base_url, key),
                headers=request_headers(key, default_headers, app_name, app_version),
                timeout=timeout,
                max_retries=max_retries,
                max_connections=max_connections,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                ssl=ssl,
                trust_env=trust_env,
                retry_backoff=retry_backoff,
                retry_backoff_max=retry_backoff_max,
                max_retry_wait=max_retry_wait,
                http_session=http_session,
                trace_configs=trace_configs,
            )
        except Exception as exc:  # noqa: BLE001  re-raised as it is, without its frames
            # Error trackers print the locals of every frame of a traceback (Sentry, rich):
            # the error leaves without the frames below, and this one lets go of the key.
            api_key = key = default_headers = None  # type: ignore[assignment]
            raise exc.with_traceback(None)  # noqa: B904  the same error, context kept
        self._transport = Transport(settings)

    def with_options(self, *, timeout: float | None = None, max_retries: int | None = None) -> Self:
        """A view of this client with other defaults, sharing its session and pool.

        The view is cheap (make one per request if you like); closing it does nothing,
        closing the original closes both. Options left ``None`` keep the client's value.

        Example::

            fast = client.with_options(timeout=5, max_retries=0)
            inventory = await fast.inventory("u1")
        """
        view = copy.copy(self)
        # A copy of this same class: its private state is ours to set.
        view._transport = self._transport.with_options(  # noqa: SLF001
            timeout=timeout, max_retries=max_retries
        )
        return view

    def with_raw_response(
        self, method: Callable[P, Awaitable[T]]
    ) -> Callable[P, Awaitable[APIResponse[T]]]:
        """Wrap a method so that it returns the HTTP response's metadata with its value.

        The wrapped call returns an :class:`APIResponse` (``status_code``, ``headers``,
        ``request_id``, ``parse()`` for the usual return value); the method itself keeps
        its return type. The metadata belongs to that one call, whatever other tasks do
        with the client at the same time, which a ``last_response`` attribute on a shared
        client could not promise. For a method that makes several requests it describes
        the last one.

        Example::

            response = await client.with_raw_response(client.inventory)("u1")
            print(response.status_code, response.request_id)
            inventory = response.parse()
        """
        return raw_call(method)

    @property
    def base_url(self) -> str:
        """The URL every path is appended to."""
        return self._transport.base_url

    @property
    def http_session(self) -> aiohttp.ClientSession | None:
        """The caller-owned session passed as ``http_session=``, else ``None``."""
        return self._transport.external_session

    @property
    def is_sandbox(self) -> bool:
        """Whether this client talks to a sandbox (the hosted one or a local one)."""
        return self._transport.base_url.endswith("/_")

    def __repr__(self) -> str:
        if not hasattr(self, "_transport"):  # its construction was refused
            return f"{type(self).__name__}(not configured)"
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool. Calls made after this raise; closing twice is fine.

        Calls in flight in other tasks fail: a purchase, sellback or shipment request that
        may have reached the server raises :class:`OutcomeUnknownError` saying the client was
        closed while it was in flight; a read, or a request that never left, raises
        :class:`ClientClosedError`.
        """
        await self._transport.aclose()

    # -- any call ------------------------------------------------------------------------

    @overload
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Mapping[str, Any] | None = None,
        into: None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> Any: ...

    @overload
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Mapping[str, Any] | None = None,
        into: type[T],
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> T: ...

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Mapping[str, Any] | None = None,
        into: type[T] | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Call an endpoint this SDK has no method for, through the same seam as the others.

        The key, the deadline, retries, error mapping (a documented message is its typed
        error) and :class:`OutcomeUnknownError` work as for every method. ``path`` is a path
        under :attr:`base_url` (an absolute URL elsewhere is an :class:`InvalidRequestError`:
        the key goes nowhere else); ``params`` is the query. With ``into=None`` the answer is
        the parsed JSON, numbers with a fraction as exact ``Decimal``; ``into=Model`` or
        ``list[Model]`` decodes it into the SDK's models. ``retry`` is a :class:`Retry`
        policy; by default ``Retry.SAFE`` for GET, ``Retry.UNSAFE`` (never resent once it
        may have reached the server) for any other method.

        Example::

            packs = await client.request("GET", "/api/v1/vm/available", into=list[Pack])
            raw = await client.request("POST", "/api/v1/vm/buy/status", json={"session_id": s})
        """
        call = request_call(
            self.base_url, method, path, params=params, json=json, into=into, retry=retry
        )
        return await self._transport.request(call, timeout=timeout)

    # -- packs -------------------------------------------------------------------------

    async def list_packs(
        self,
        platform: str = "mainnet",
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> list[Pack]:
        """Every pack that can be bought now (``GET /vm/available``)."""
        params = [("platform", require_id("platform", platform))]
        call = Call.get("list_packs", "/api/v1/vm/available", Retry.SAFE, list[Pack], params=params)
        return await self._transport.request(call, timeout=timeout, max_retries=max_retries)

    async def recent_pulls(
        self,
        claw_ids: Sequence[str] | None = None,
        limit: int = 20,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> list[Pull]:
        """The newest pulls, across all packs or the packs in ``claw_ids`` (``limit`` 1-100)."""
        if isinstance(claw_ids, str):
            claw_ids = [claw_ids]
        params = [("claw_ids", require_id("claw_id", c)) for c in claw_ids or ()]
        params.append(("limit", str(require_int("limit", limit, minimum=1, maximum=100))))
        call = Call.get(
            "recent_pulls", "/api/v1/vm/recent-pulls", Retry.SAFE, list[Pull], params=params
        )
        return await self._transport.request(call, timeout=timeout, max_retries=max_retries)
