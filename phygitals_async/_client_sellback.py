"""AsyncPhygitals' item endpoints: inventory, card details, and selling items back.

One item at a time, or many through the bulk run (the ``_bulk`` wing), which is handed the
client itself: it sells with :meth:`sell_back` and reconciles lost answers through
:meth:`inventory`.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Self

from . import _bulk, _errors
from ._http import Call, Retry, Transport
from ._journal import Journal
from ._models import (
    BulkSellbackReport,
    BuybackAnswer,
    Card,
    FailedSellback,
    Inventory,
    Item,
    Sellback,
    UnconfirmedSellback,
    owned,
)
from ._tracing import operation_span
from ._validation import item_id_of, path_segment, require_id

__all__ = ["SellbackEndpoints"]


class SellbackEndpoints:
    """The inventory, card and sellback methods of :class:`AsyncPhygitals`, which mixes them in."""

    # The seam every call leaves through, set by AsyncPhygitals.__init__.
    _transport: Transport

    if TYPE_CHECKING:
        # AsyncPhygitals' own: a bulk run is handed the whole client (a _bulk.Client), with
        # the run's timeout as a view of it.
        @property
        def base_url(self) -> str: ...

        def with_options(
            self, *, timeout: float | None = None, max_retries: int | None = None
        ) -> Self: ...

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
        no worker holds any (see :class:`PostgresJournal`). A 429 cuts the run's
        concurrency by a quarter, which then grows back. ``on_progress(done, total)`` is
        called at the start and after each item's outcome is committed. ``timeout``
        (seconds) bounds each request the job makes.

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
        self._refuse_if_closed()
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

    def _refuse_if_closed(self) -> None:
        # Before a job is opened or begun: a run on a closed client would start nothing
        # and report every item as left for later.
        session = self._transport.external_session
        if self._transport.closed or (session is not None and session.closed):
            msg = "this client is closed; create a new one"
            raise _errors.ClientClosedError(msg)

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
        self._refuse_if_closed()
        return _bulk.iter_sell_back(
            self if timeout is None else self.with_options(timeout=timeout),
            items_or_ids,
            concurrency=concurrency,
            journal=journal,
            user_id=user_id,
            extend=extend,
            stop=stop,
        )
