"""AsyncPhygitals' shipping endpoints: quote, order, and follow an order to its door."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from ._errors import ConfigurationError
from ._http import Call, Retry, Transport
from ._models import (
    Address,
    Item,
    OrderStatus,
    ShipmentCreated,
    ShippingOrder,
    ShippingQuote,
    ShippingRate,
)
from ._polling import Poll, Schedule
from ._validation import destination_json, item_ids_of, path_segment, quote_id_of, require_id

__all__ = ["ShippingEndpoints"]

_TERMINAL_ORDER = frozenset({OrderStatus.CANCELLED, OrderStatus.FAILED})


class ShippingEndpoints:
    """The shipping methods of :class:`AsyncPhygitals`, which mixes them in."""

    # The seam every call leaves through, set by AsyncPhygitals.__init__.
    _transport: Transport

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
        until: str | Collection[str] = (OrderStatus.SHIPPED, OrderStatus.DELIVERED),
        interval: float = 30.0,
        max_interval: float = 300.0,
        timeout: float = 3600.0,
        on_status: Callable[[ShippingOrder], object] | None = None,
    ) -> Poll[ShippingOrder]:
        """Start polling an order until its status is in ``until``, or cancelled/failed.

        ``until`` is one status (``"shipped"``, ``OrderStatus.SHIPPED``) or several.

        Returns an awaitable handle with ``cancel()`` and ``done()``; after ``timeout``
        seconds it raises :class:`PollTimeoutError` carrying the last order seen.

        ``on_status`` is called with every status read (the decoded answer), in order,
        before the poll decides whether to go on; it may be a coroutine function. What it
        raises ends the poll with that exception. A slow callback delays the next check,
        not the deadline. With the blocking client it runs on the client's event loop
        thread, not the caller's: it must not call the client (that is a LoopThreadError).
        """
        require_id("order_id", order_id)
        # One status is one, not its letters: a str is a Collection[str] too.
        wanted = frozenset([str(until)] if isinstance(until, str) else map(str, until))
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
        until: str | Collection[str] = (OrderStatus.SHIPPED, OrderStatus.DELIVERED),
        interval: float = 30.0,
        max_interval: float = 300.0,
        timeout: float = 3600.0,
        on_status: Callable[[ShippingOrder], object] | None = None,
    ) -> ShippingOrder:
        """Poll an order until its status is in ``until`` (or it is cancelled/failed).

        ``until`` is one status (``"shipped"``, ``OrderStatus.SHIPPED``) or several.

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
