"""AsyncPhygitals: one thin method per partner endpoint, over the one HTTP seam."""

from __future__ import annotations

import asyncio
import copy
import os
import ssl as ssl_module
import threading
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Mapping,
    Sequence,
)
from types import TracebackType
from typing import Any, ParamSpec, Self, TypeVar, overload

import aiohttp

from . import _bulk
from ._config import (
    DEFAULT_TIMEOUT,
    PRODUCTION_URL,
    SANDBOX_URL,
    Settings,
    request_headers,
    resolve_base_url,
    resolve_key,
)
from ._errors import ConfigurationError
from ._http import (
    APIResponse,
    Call,
    OneOf,
    Params,
    Retry,
    RetryPolicy,
    Transport,
    configure_logging,
    raw_call,
    request_call,
)
from ._journal import Journal
from ._models import (
    Address,
    BulkSellbackReport,
    BuybackAnswer,
    Card,
    FailedSellback,
    Inventory,
    Item,
    OrderStatus,
    Pack,
    Pull,
    Purchase,
    PurchasePending,
    PurchaseResult,
    Sellback,
    ShipmentCreated,
    ShippingOrder,
    ShippingQuote,
    ShippingRate,
    UnconfirmedSellback,
    owned,
)
from ._polling import Poll, PurchasePoll, Schedule
from ._tracing import operation_span
from ._validation import (
    MAX_JSON_INT,
    destination_json,
    item_id_of,
    item_ids_of,
    path_segment,
    quote_id_of,
    require_id,
    require_int,
)

__all__ = ["PRODUCTION_URL", "SANDBOX_URL", "AsyncPhygitals"]

T = TypeVar("T")
P = ParamSpec("P")

_TERMINAL_ORDER = frozenset({OrderStatus.CANCELLED, OrderStatus.FAILED})
# buy/status answers the result, or that it is still pending.
_PURCHASE_STATE = OneOf.either(PurchaseResult, PurchasePending)


class AsyncPhygitals:
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

    # -- purchase ------------------------------------------------------------------------

    async def buy(
        self,
        pack_id: str,
        *,
        amount: int,
        user_id: str,
        timeout: float | None = None,
    ) -> Purchase:
        """Buy ``amount`` pulls of a pack for ``user_id`` (``POST /vm/buy/init``).

        Never resent once it may have reached the server: an ambiguous failure raises
        :class:`OutcomeUnknownError`; check ``inventory(user_id)`` before buying again.
        An ``amount`` below 1 or above the pack's ``max_per_mint`` is the API's
        :class:`InvalidAmountError`; one that is not an int is :class:`InvalidRequestError`.
        """
        body = {
            "id": require_id("pack_id", pack_id),
            # Only the type is checked here: the API judges the value, so amount=0 is the
            # documented InvalidAmountError ("Amount must be greater than 0") as the
            # README's table says, like an amount above the pack's max_per_mint.
            "amount": require_int("amount", amount, minimum=-MAX_JSON_INT),
            "user_id": require_id("user_id", user_id),
        }
        arguments = {"pack_id": pack_id, "amount": amount, "user_id": user_id}
        call = Call.post(
            "buy", "/api/v1/vm/buy/init", Retry.UNSAFE, Purchase, json=body, arguments=arguments
        )
        purchase = await self._transport.request(call, timeout=timeout)
        owned(purchase.nfts, user_id)
        return purchase

    async def purchase_status(
        self,
        session_id: str,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> PurchaseResult | PurchasePending:
        """One look at a purchase (``POST /vm/buy/status``): the result, or pending."""
        body = {"session_id": require_id("session_id", session_id)}
        call = Call.post(
            "purchase_status", "/api/v1/vm/buy/status", Retry.SAFE, _PURCHASE_STATE, json=body
        )
        return await self._transport.request(call, timeout=timeout, max_retries=max_retries)

    def poll_purchase(
        self,
        session_id: str,
        *,
        interval: float = 1.0,
        max_interval: float = 10.0,
        timeout: float = 120.0,
        on_status: Callable[[PurchaseResult | PurchasePending], object] | None = None,
    ) -> PurchasePoll:
        """Start polling a purchase in a task and return its handle at once.

        The handle is awaitable (the :class:`PurchaseResult`), and has ``cancel()`` and
        ``done()``. The wait between polls starts at ``interval`` and grows to
        ``max_interval``; after ``timeout`` it raises :class:`PollTimeoutError`. A failed
        purchase raises :class:`TransactionFailedError`. Must be called inside a running loop.

        ``on_status`` is called with every status read (the decoded answer), in order,
        before the poll decides whether to go on; it may be a coroutine function. What it
        raises ends the poll with that exception. A slow callback delays the next check,
        not the deadline. With the blocking client it runs on the client's event loop
        thread, not the caller's: it must not call the client (that is a LoopThreadError).
        """
        require_id("session_id", session_id)
        return PurchasePoll(
            lambda budget: self.purchase_status(session_id, timeout=budget),
            schedule=Schedule(interval=interval, max_interval=max_interval, timeout=timeout),
            settings=self._transport.settings,
            session_id=session_id,
            on_status=on_status,
        )

    async def wait_for_purchase(
        self,
        session_id: str,
        *,
        interval: float = 1.0,
        max_interval: float = 10.0,
        timeout: float = 120.0,
        on_status: Callable[[PurchaseResult | PurchasePending], object] | None = None,
    ) -> PurchaseResult:
        """Poll until the purchase is fulfilled; ``await poll_purchase(...)``.

        ``on_status`` is called with every status read (the decoded answer), in order,
        before the poll decides whether to go on; it may be a coroutine function. What it
        raises ends the poll with that exception. A slow callback delays the next check,
        not the deadline. With the blocking client it runs on the client's event loop
        thread, not the caller's: it must not call the client (that is a LoopThreadError).

        Example::

            result = await client.wait_for_purchase(session_id, on_status=print)
        """
        return await self.poll_purchase(
            session_id,
            interval=interval,
            max_interval=max_interval,
            timeout=timeout,
            on_status=on_status,
        )

    # -- inventory, cards, sellback -------------------------------------------------------

    async def inventory(
        self,
        user_id: str,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> Inventory:
        """The user's items not yet sold back or shipped (``GET /inventory/:user_id``)."""
        path = "/api/v1/inventory/" + path_segment(require_id("user_id", user_id))
        call = Call.get("inventory", path, Retry.SAFE, Inventory)
        inventory = await self._transport.request(call, timeout=timeout, max_retries=max_retries)
        owned(inventory.items, user_id)  # a bulk sellback of them then knows whose they are
        return inventory

    async def card(
        self,
        item_id: str | Item,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> Card:
        """Card details with fair-market value (``GET /card/:item_id``)."""
        path = "/api/v1/card/" + path_segment(item_id_of(item_id))
        call = Call.get("card", path, Retry.SAFE, Card)
        return await self._transport.request(call, timeout=timeout, max_retries=max_retries)

    async def sell_back(
        self,
        item_id: str | Item,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> Sellback:
        """Sell an item back at its buyback price (``POST /vm/buyback``).

        Resent only on 429 ("already being processed") or when it never left this machine;
        otherwise an ambiguous failure raises :class:`OutcomeUnknownError`.
        """
        body = {"item_id": item_id_of(item_id)}
        call = Call.post("sell_back", "/api/v1/vm/buyback", Retry.BUYBACK, BuybackAnswer, json=body)
        answer = await self._transport.request(call, timeout=timeout, max_retries=max_retries)
        return Sellback(item_id=body["item_id"], amount=answer.amount)

    async def sell_back_many(
        self,
        items_or_ids: Inventory | Iterable[str | Item] | None = None,
        *,
        concurrency: int = 8,
        journal: str | os.PathLike[str] | Journal | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        user_id: str | None = None,
        timeout: float | None = None,
        extend: bool = False,
        stop: asyncio.Event | threading.Event | None = None,
    ) -> BulkSellbackReport:
        """Sell many items back; every item ends with one outcome, and none is lost.

        Never stops at the first failure; at most ``concurrency`` sellbacks are in flight;
        duplicates are sold once. Each item ends sold (``report.succeeded``, with the
        amount), sold with its amount unconfirmed (``report.unconfirmed``: the answer was
        lost, the item has left the owner's inventory), failed (``report.failed``, with the
        typed error) or unknown (``report.unknown``: never guessed).

        ``journal`` (an SQLite file path, a ``postgresql://...?job=NAME`` URL, or a
        :class:`Journal` object) records the job: its items, each item's state, every
        outcome. A rerun with the same journal resumes the job whatever it is given (the
        original items, today's inventory, or none at all) and reports the whole job, with
        ``report.this_run`` for what this run settled. Items the job did not include are
        added to it while it is unfinished; a completed job refuses them
        (:class:`JournalCompletedError`: one journal per job) unless ``extend=True``.
        Outcomes are committed as they arrive, so a crash loses at most the one commit in
        progress, and only one run at a time may hold an SQLite journal
        (:class:`JournalBusyError`). Reconciling a lost answer needs the owner: items read
        by ``inventory(user_id)`` carry it (:attr:`Item.owner`); for bare ids pass
        ``user_id=`` (the journal remembers it). On a PostgreSQL journal any number of
        processes run the same job: each claims items nobody holds, and the run returns when
        no worker holds any (see :class:`PostgresJournal`). A 429 halves the run's
        concurrency, which then grows back. ``on_progress(done, total)`` is called at the
        start and after each item's outcome is committed. ``timeout`` (seconds) bounds each
        request the job makes.

        ``stop`` (an ``asyncio.Event``, or a ``threading.Event`` for the blocking client)
        stops the run gracefully once set: no item is started after it, the requests
        already sent finish (within their deadline) and are committed, and the report
        counts the rest in ``report.remaining`` for the next run. Cancelling the call
        instead stops at once: requests in flight are then settled by the next run.

        Example::

            report = await client.sell_back_many(
                await client.inventory("u1"), concurrency=16, journal="sellback.db"
            )
            print(report.total_amount, report.unconfirmed_amount, len(report.failed))

        Raises:
            InvalidRequestError: bad arguments, before anything is sent.
            JournalError: the journal cannot be used (see its subclasses), before anything
                is sent; :class:`JournalUnavailableError` also when a shared journal's
                database goes away mid-job (what was sent is settled by the next run).
        """
        with operation_span("sell_back_many") as span:
            report = await _bulk.sell_back_many(
                self if timeout is None else self.with_options(timeout=timeout),
                items_or_ids,
                concurrency=concurrency,
                journal=journal,
                on_progress=on_progress,
                user_id=user_id,
                extend=extend,
                stop=stop,
            )
            if span is not None:
                span.set_attributes(_bulk.span_attributes(report))
            return report

    def iter_sell_back(
        self,
        items_or_ids: Inventory | Iterable[str | Item] | None = None,
        *,
        concurrency: int = 8,
        journal: str | os.PathLike[str] | Journal | None = None,
        user_id: str | None = None,
        timeout: float | None = None,
        extend: bool = False,
        stop: asyncio.Event | threading.Event | None = None,
    ) -> AsyncIterator[Sellback | UnconfirmedSellback | FailedSellback]:
        """Like :meth:`sell_back_many`, yielding each item's outcome as it is settled.

        Outcomes settled by earlier runs of the journal's job come first. Leaving the loop
        early cancels the sellbacks still in flight (their items stay pending in the
        journal, and the next run settles them). ``timeout`` bounds each request (seconds);
        ``extend`` and ``stop`` are as for :meth:`sell_back_many`.
        """
        return _bulk.iter_sell_back(
            self if timeout is None else self.with_options(timeout=timeout),
            items_or_ids,
            concurrency=concurrency,
            journal=journal,
            user_id=user_id,
            extend=extend,
            stop=stop,
        )

    # -- shipping ------------------------------------------------------------------------

    async def ship_quote(
        self,
        item_ids: Sequence[str | Item],
        *,
        destination: Address | Mapping[str, Any],
        timeout: float | None = None,
    ) -> ShippingQuote:
        """Shipping rates for items to an address (``POST /ship/quote``)."""
        body = {"item_ids": item_ids_of(item_ids), "destination": destination_json(destination)}
        call = Call.post("ship_quote", "/api/v1/ship/quote", Retry.UNSAFE, ShippingQuote, json=body)
        return await self._transport.request(call, timeout=timeout)

    async def ship_request(
        self,
        quote_id: str | ShippingRate,
        *,
        timeout: float | None = None,
    ) -> ShipmentCreated:
        """Create a shipping order from one rate of a quote (``POST /ship/request``).

        Never resent once it may have reached the server; on :class:`OutcomeUnknownError`
        check the user's inventory (shipped items leave it) before asking again.
        """
        body = {"quote_id": quote_id_of(quote_id)}
        call = Call.post(
            "ship_request", "/api/v1/ship/request", Retry.UNSAFE, ShipmentCreated, json=body
        )
        return await self._transport.request(call, timeout=timeout)

    async def ship_order(
        self,
        order_id: str,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> ShippingOrder:
        """A shipping order's status and tracking (``GET /ship/order/:order_id``)."""
        path = "/api/v1/ship/order/" + path_segment(require_id("order_id", order_id))
        call = Call.get("ship_order", path, Retry.SAFE, ShippingOrder)
        return await self._transport.request(call, timeout=timeout, max_retries=max_retries)

    def poll_shipment(
        self,
        order_id: str,
        *,
        until: Collection[str] = (OrderStatus.SHIPPED, OrderStatus.DELIVERED),
        interval: float = 30.0,
        max_interval: float = 300.0,
        timeout: float = 3600.0,
        on_status: Callable[[ShippingOrder], object] | None = None,
    ) -> Poll[ShippingOrder]:
        """Start polling an order until its status is in ``until``, or cancelled/failed.

        Returns an awaitable handle with ``cancel()`` and ``done()``; after ``timeout``
        seconds it raises :class:`PollTimeoutError` carrying the last order seen.

        ``on_status`` is called with every status read (the decoded answer), in order,
        before the poll decides whether to go on; it may be a coroutine function. What it
        raises ends the poll with that exception. A slow callback delays the next check,
        not the deadline. With the blocking client it runs on the client's event loop
        thread, not the caller's: it must not call the client (that is a LoopThreadError).
        """
        require_id("order_id", order_id)
        wanted = frozenset(str(s) for s in until)
        if not wanted:
            msg = "until must name at least one order status"
            raise ConfigurationError(msg)
        schedule = Schedule(interval=interval, max_interval=max_interval, timeout=timeout)

        def arrived(order: ShippingOrder) -> ShippingOrder | None:
            ended = str(order.status) in wanted or order.status in _TERMINAL_ORDER
            return order if ended else None

        return Poll(
            lambda budget: self.ship_order(order_id, timeout=budget),
            arrived,
            schedule=schedule,
            settings=self._transport.settings,
            operation="poll_shipment",
            what=f"order {order_id}",
            name=f"phygitals-poll-order-{order_id}",
            on_status=on_status,
        )

    async def wait_for_shipment(
        self,
        order_id: str,
        *,
        until: Collection[str] = (OrderStatus.SHIPPED, OrderStatus.DELIVERED),
        interval: float = 30.0,
        max_interval: float = 300.0,
        timeout: float = 3600.0,
        on_status: Callable[[ShippingOrder], object] | None = None,
    ) -> ShippingOrder:
        """Poll an order until its status is in ``until`` (or it is cancelled/failed).

        ``on_status`` is called with every status read (the decoded answer), in order,
        before the poll decides whether to go on; it may be a coroutine function. What it
        raises ends the poll with that exception. A slow callback delays the next check,
        not the deadline. With the blocking client it runs on the client's event loop
        thread, not the caller's: it must not call the client (that is a LoopThreadError).
        """
        return await self.poll_shipment(
            order_id,
            until=until,
            interval=interval,
            max_interval=max_interval,
            timeout=timeout,
            on_status=on_status,
        )
