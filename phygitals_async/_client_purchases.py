"""AsyncPhygitals' purchase endpoints: buy pulls of a pack, then follow the purchase."""

from __future__ import annotations

from collections.abc import Callable

from ._http import Call, OneOf, Retry, Transport
from ._models import Purchase, PurchasePending, PurchaseResult, owned
from ._polling import PurchasePoll, Schedule
from ._validation import MAX_JSON_INT, require_id, require_int

__all__ = ["PurchaseEndpoints"]

# buy/status answers the result, or that it is still pending.
_PURCHASE_STATE = OneOf.either(PurchaseResult, PurchasePending)


class PurchaseEndpoints:
    """The purchase methods of :class:`AsyncPhygitals`, which mixes them in."""

    # The seam every call leaves through, set by AsyncPhygitals.__init__.
    _transport: Transport

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
