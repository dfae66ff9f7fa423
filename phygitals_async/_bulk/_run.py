"""One run of a bulk sellback job: begin, sell, and settle every answer without guessing.

1. Items are begun in groups (one durable journal commit per group), then sold by a fixed
   pool of ``concurrency`` workers.
2. An answer settles the item: sold with its amount, or failed with its typed error.
3. What an answer cannot settle without guessing is *ambiguous*: a lost answer, or any
   refusal of an item a buyback was begun for before (an earlier attempt may have sold
   it: the API refuses a second sale with "Item not found"). Ambiguous items are settled
   by the owner's inventory, read after their requests ended: gone means sold, amount
   unconfirmed; still there means not sold (the refusal stands; a lost answer is tried
   once more). Without an owner, or when the inventory cannot be read, they stay
   ``unknown`` and the next run checks them again.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from functools import partial

import anyio
import attrs

from .. import _errors
from .._http import observe
from .._journal import (
    NO_OWNER,
    Journal,
    JournalEntry,
    JournalSettlement,
    JournalState,
    SharedJournal,
    commits_instantly,
    is_shared,
    settles_soon,
)
from .._models import FailedSellback, Sellback, UnconfirmedSellback
from ._feed import Feed
from ._handed import Handed
from ._outcomes import (
    _RECONCILE_BATCH,
    _SOLD_UNCONFIRMED,
    Client,
    Fresh,
    SellbackOutcome,
    StopFlag,
    _Ambiguous,
    _failure,
    _lost,
    say_reconciled,
    say_who_holds,
    unknown_error,
)
from ._tasks import bounded, one_error
from ._throttle import AdaptiveLimit, Slot, settles_lost_answers

__all__ = ["Run"]

log = logging.getLogger("phygitals_async")

_CLAIM_POLL = 1.0  # seconds between looks at a shared job whose items others still hold
_SAY_EVERY = 5.0  # seconds between the INFO lines of a worker waiting on others


# -- the run -------------------------------------------------------------------------------


class Run:
    """One run of a job: sells the unsettled items and settles every ambiguous answer."""

    def __init__(
        self,
        client: Client,
        journal: Journal,
        owner: str | None,
        concurrency: int,
        emit: Callable[[SellbackOutcome], Awaitable[None]],
        *,
        keep_errors: bool = True,
        stop: StopFlag | None = None,
        fresh: Fresh | None = None,
    ) -> None:
        self.client = client
        self.stop = stop
        self.journal = journal
        # The journal as a fleet's (claims, leases), or None: asked once.
        self._shared: SharedJournal | None = journal if is_shared(journal) else None
        self.owner = owner
        self.concurrency = concurrency
        self.emit = emit
        # This run's failures with their full detail, for a report; a stream needs none.
        self.errors: dict[str, Exception] | None = {} if keep_errors else None
        self.ambiguous: list[_Ambiguous] = []
        # At most ``concurrency`` requests are in flight (fewer while 429s come back), and
        # a second worker per slot keeps the slots sending while a worker cannot: it waits
        # out a 429 (lending its slot), or (where the journal cannot take outcomes without
        # waiting, see ``_handed``) waits for its outcome's commit holding no slot. More
        # would keep them busier still, but every worker waiting for a commit is an answer
        # a crash can lose: measured at four per slot, three times as many sales came back
        # unconfirmed per kill -9.
        self.limit = AdaptiveLimit(concurrency)
        self._settle_soon = settles_soon(journal)
        self.workers = concurrency if commits_instantly(journal) else 2 * concurrency
        # Sales handed to the journal, while the workers of a round sell.
        self.handed: Handed | None = None
        # Lost answers this run settled, by how: for one summary line instead of a warning each.
        self.reconciled: collections.Counter[str] = collections.Counter()
        # A journal that failed mid-run: no item starts after it; answers still arriving
        # are kept here, to be named in the error.
        self.journal_failure: _errors.JournalError | None = None
        self.unrecorded: list[JournalSettlement] = []
        self.client_closed = False  # no item starts after: those left stay for a rerun
        # A job of this run alone, kept in memory: its first round sells straight from it.
        self.fresh = fresh

    @property
    def stopping(self) -> bool:
        """Whether to start no more items: asked to, the journal failed, the client closed."""
        failed = self.journal_failure is not None or self.client_closed
        return failed or (self.stop is not None and self.stop.is_set())

    def raise_journal_failure(self) -> None:
        """Raise the journal's failure, naming the answered sales it could not record."""
        failure = self.journal_failure
        if failure is None:
            return
        sold = [s for s in self.unrecorded if s.state is JournalState.SOLD]
        if not sold:
            raise failure
        named = ", ".join(f"{s.item_id} for {s.amount}" for s in sold[:20])
        more = f" and {len(sold) - 20} more" if len(sold) > 20 else ""
        msg = (
            f"{failure}; {len(sold)} sales answered meanwhile could not be recorded"
            f" ({named}{more}): a rerun with the journal settles them"
        )
        raise type(failure)(msg) from failure

    async def settle(self, settlement: JournalSettlement, error: Exception | None = None) -> None:
        if not await self._record(settlement):
            return
        item_id = settlement.item_id
        outcome: SellbackOutcome
        if settlement.state is JournalState.SOLD:
            assert settlement.amount is not None  # noqa: S101  a sale has its amount
            outcome = Sellback(item_id, settlement.amount)
        elif settlement.state is JournalState.UNCONFIRMED:
            outcome = UnconfirmedSellback(item_id, settlement.quoted_amount)
        else:
            assert error is not None  # noqa: S101  failures and unknowns carry their error
            if self.errors is not None:
                self.errors[item_id] = error
            outcome = FailedSellback(item_id, error)
        await self.emit(outcome)

    async def attempt(
        self, entry: JournalEntry, claimed_at: float = math.inf, slot: Slot | None = None
    ) -> _Ambiguous | None:
        """Send one begun item's buyback; settle it, or return why it is ambiguous.

        Right before the request leaves (once a slot is free) the item is sent only if the
        run is not stopping and, for a claimed item (``claimed_at``, on a shared journal),
        while the claim surely holds. An item not sent stays begun for a later run.
        """
        answer = await self._send(slot or self.limit.slot(), entry, claimed_at)
        if answer is None:
            return None
        if not isinstance(answer, Sellback):
            return await self._refused(entry, answer)
        if self.handed is not None and self.journal_failure is None:
            await self.handed.hand(answer)  # reported once durable; the worker goes on
            return None
        settlement = JournalSettlement(answer.item_id, JournalState.SOLD, answer.amount)
        if await self._record(settlement):
            await self.emit(answer)
        return None

    async def _send(
        self, slot: Slot, item: JournalEntry | str, claimed_at: float = math.inf
    ) -> Sellback | _errors.PhygitalsError | None:
        """Send one item's buyback once a slot is free: its answer, or ``None`` if not sent.

        Not sent when the run is stopping, nor when a claim (``claimed_at``) may have
        lapsed meanwhile: the item is given back for a claim again.
        """
        if not slot.enter_now():  # (without an await where a slot is free: every item asks)
            await slot.enter()
        try:
            if self.stopping:
                return None
            if claimed_at != math.inf and not self._still_held(claimed_at):
                assert isinstance(item, JournalEntry)  # noqa: S101  only entries are claimed
                await self._give_back(item)
                return None
            try:
                return await self.client.sell_back(
                    item.item_id if isinstance(item, JournalEntry) else item
                )
            except _errors.ClientClosedError as exc:  # it never left; nothing more starts
                self.client_closed = True
                # Sent before (a lost answer tried again): that attempt may have sold it.
                return exc if isinstance(item, JournalEntry) and item.attempts else None
            except _errors.PhygitalsError as exc:
                return exc
        finally:
            slot.leave()

    async def _refused(self, entry: JournalEntry, error: Exception) -> _Ambiguous | None:
        """Settle a refusal that is final; return a lost answer (or a repeat's refusal)."""
        if _lost(error) or entry.attempts > 0:
            return _Ambiguous(entry, error)
        await self.settle(_failure(entry.item_id, error, JournalState.FAILED), error)
        return None

    async def _record(self, settlement: JournalSettlement) -> bool:
        """Commit an outcome; on a journal failure, stop the run but keep what was answered.

        Requests already sent still finish; what they answer cannot be recorded, so each
        answered sale is logged at WARNING (item and amount) and named in the error the run
        raises at its end. A rerun settles those items by the no-guess rule.
        """
        if self.journal_failure is None:
            try:
                await self.journal.settle([settlement])
            except _errors.JournalError as exc:
                self._not_recorded(settlement, exc)
                return False
            else:
                return True
        self._not_recorded(settlement, self.journal_failure)
        return False

    def _journal_failed(self, error: _errors.JournalError) -> None:
        """The journal failed: no item starts after this (the first failure is the one)."""
        if self.journal_failure is None:
            self.journal_failure = error

    def _not_recorded(self, settlement: JournalSettlement, error: _errors.JournalError) -> None:
        """Keep an outcome the journal failed to record (see :meth:`_record`)."""
        self._journal_failed(error)
        self.unrecorded.append(settlement)
        if settlement.state is JournalState.SOLD:
            log.warning(
                "bulk sellback: %s sold for %s, but the journal could not record it",
                settlement.item_id,
                settlement.amount,
            )

    def lease_clock(self) -> float:
        """Now, on the clock the journal's leases are measured with."""
        return self._shared.lease_clock() if self._shared is not None else time.monotonic()

    def _still_held(self, claimed_at: float) -> bool:
        return self._shared is None or self._shared.still_held(claimed_at)

    async def _give_back(self, entry: JournalEntry) -> None:
        # This worker was stopped longer than its lease: another may have taken the item
        # (and sent it). Not sent here; if it is still ours, it is free for a claim again.
        log.info("bulk sellback: the claim on %s may have lapsed; not sent", entry.item_id)
        if self._shared is not None:
            await self._shared.release([entry.item_id])

    async def work(self, entry: JournalEntry, claimed_at: float, slot: Slot) -> None:
        ambiguous = await self.attempt(entry, claimed_at, slot)
        if ambiguous is not None:
            await self._hold(ambiguous)

    async def _hold(self, ambiguous: _Ambiguous) -> None:
        """Keep an ambiguous answer for the round's reconciliation."""
        self.ambiguous.append(ambiguous)
        if len(self.ambiguous) >= _RECONCILE_BATCH:
            # Settle a large backlog now (this worker only), so memory stays bounded.
            batch, self.ambiguous = self.ambiguous, []
            await self.reconcile(batch, concurrency=1)

    async def sold_already(self, entries: list[JournalEntry]) -> list[JournalEntry]:
        """Settle the earlier run's unknown items gone from the inventory; return the rest.

        Gone means sold (amount unconfirmed, at the quote if known): nothing is sent for it.
        The rest are still owned, or the inventory could not be read: they are sent again.
        """
        present = await self.present()
        if present is None:
            return entries
        rest: list[JournalEntry] = []
        for entry in entries:
            if entry.item_id in present:
                rest.append(entry)
                continue
            self.reconciled[_SOLD_UNCONFIRMED] += 1
            settlement = JournalSettlement(
                entry.item_id, JournalState.UNCONFIRMED, quoted_amount=entry.quoted_amount
            )
            await self.settle(settlement)
        return rest

    async def present(self) -> set[str] | None:
        """The ids in the owner's inventory now, or ``None`` when that cannot be known."""
        if self.owner is None:
            return None
        try:
            inventory = await self.client.inventory(self.owner)
        except _errors.PhygitalsError:
            return None
        return {item.id for item in inventory.items}

    async def reconcile(self, batch: list[_Ambiguous], *, concurrency: int) -> None:
        """Settle ambiguous answers by the inventory; a lost answer is tried once more.

        Once the run is asked to stop, nothing is sent again: an item still owned after a
        lost answer stays begun (pending), and the next run settles it.
        """
        again = await self._settle_by_inventory(batch, final=False)
        if not again or self.stopping:
            return
        # On a shared journal begin() claims the items: their lease runs from before it.
        at = self.lease_clock() if isinstance(self.journal, SharedJournal) else math.inf
        begun = set(await self.journal.begin([a.entry.item_id for a in again]))
        later: list[_Ambiguous] = []

        async def retry(ambiguous: _Ambiguous) -> None:
            # Counted as begun before: a refusal now may be the first attempt's sale.
            entry = attrs.evolve(ambiguous.entry, attempts=ambiguous.entry.attempts + 1)
            result = await self.attempt(entry, at)
            if result is not None:
                later.append(result)

        await bounded([a for a in again if a.entry.item_id in begun], concurrency, retry)
        await self._settle_by_inventory(later, final=True)

    async def _settle_by_inventory(
        self, batch: list[_Ambiguous], *, final: bool
    ) -> list[_Ambiguous]:
        if not batch:
            return []
        present = await self.present()
        again: list[_Ambiguous] = []
        for ambiguous in batch:
            # Each is an answer lost (in this run, or by an earlier attempt a crash cut
            # short): counted once, as it is settled, for the run's one summary line.
            how = await self._settle_ambiguous(ambiguous, present, final=final)
            if how is None:
                again.append(ambiguous)
            else:
                self.reconciled[how] += 1
        return again

    async def _settle_ambiguous(
        self, ambiguous: _Ambiguous, present: set[str] | None, *, final: bool
    ) -> str | None:
        """Settle one ambiguous answer by the inventory; how, or ``None`` to send it again."""
        item_id = ambiguous.entry.item_id
        if present is None:
            why = NO_OWNER if self.owner is None else "the owner's inventory could not be read"
            error = unknown_error(item_id, f"{why} ({ambiguous.error})")
            await self.settle(_failure(item_id, error, JournalState.UNKNOWN), error)
            return f"left unknown, {why}"
        if item_id not in present:
            quoted = ambiguous.entry.quoted_amount
            await self.settle(
                JournalSettlement(item_id, JournalState.UNCONFIRMED, quoted_amount=quoted)
            )
            return _SOLD_UNCONFIRMED
        if not ambiguous.lost:
            # Still owned: not sold, and the refusal stands.
            refusal = ambiguous.error
            await self.settle(_failure(item_id, refusal, JournalState.FAILED), refusal)
            return "not sold, the refusal stands"
        if not final:
            return None
        # Owned after a lost answer may be a sale still in progress: do not guess.
        error = unknown_error(item_id, f"still in the inventory ({ambiguous.error})")
        await self.settle(_failure(item_id, error, JournalState.UNKNOWN), error)
        return "left unknown, still in the inventory"

    async def run(self) -> None:
        """Begin and sell every unsettled item of the job, then settle the ambiguous ones.

        On a shared journal, rounds follow until no other worker holds an item of the job:
        each round claims until nothing is free and settles all it took, so this worker
        never holds an item while it waits for the others (no two wait on each other).
        """
        # Lost answers are reconciled here: the seam logs them at DEBUG, not one WARNING each.
        with observe(settles_lost_answers):
            await self._round()
            said = -math.inf
            while isinstance(self.journal, SharedJournal) and not self.stopping:
                held, expires_in = await self.journal.outstanding()
                if not held:
                    break
                if time.monotonic() - said >= _SAY_EVERY:
                    said = time.monotonic()
                    await say_who_holds(self._shared, held)
                # Others are working (they settle soon) or died (their leases run out):
                # look again when the soonest lease ends, or sooner.
                await asyncio.sleep(min(_CLAIM_POLL, max(expires_in or 0.0, 0.01)))
                await self._round()
        self.raise_journal_failure()
        say_reconciled(self.reconciled)

    async def _round(self) -> None:
        handed = None
        async with one_error(), anyio.create_task_group() as tasks:
            if self._settle_soon is not None:
                # Up to 2 * workers - 1 answered sales wait for their commit (the last of
                # each worker's beyond the room): as many as waited when each worker waited
                # for its own, and one more per worker. Half as much room measured 0.05x
                # slower: the workers waited for room while the writer's answers came back.
                self.handed = handed = Handed(
                    self._settle_soon,
                    self.emit,
                    self._not_recorded,
                    self._journal_failed,
                    room=self.workers,
                )
                tasks.start_soon(self.guarded, handed.run)
            try:
                await self._sell()
            finally:
                self.handed = None
                if handed is not None:
                    handed.close()
        if handed is not None:
            await handed.drain()  # what a reporting task that ended early left
        batch, self.ambiguous = self.ambiguous, []
        await self.guarded(partial(self.reconcile, batch, concurrency=self.concurrency))
        if self.journal_failure is None:
            await self.guarded(self.journal.flush)
        self.raise_journal_failure()

    async def _sell(self) -> None:
        """The round's sales: its workers, until they are done (or the run stops)."""
        fresh, self.fresh = self.fresh, None
        async with one_error(), anyio.create_task_group() as tasks:
            if fresh is not None:
                pending = iter(fresh.ids)
                for _ in range(min(self.workers, len(fresh.ids))):
                    tasks.start_soon(self.guarded, partial(self._sell_from, pending, fresh))
            else:
                feed = Feed(self)
                tasks.start_soon(self.guarded, feed.fill)
                for _ in range(self.workers):
                    tasks.start_soon(self.guarded, partial(self._work_from, feed))

    async def _sell_from(self, pending: Iterator[str], fresh: Fresh) -> None:
        """One worker of a fresh job: sells the ids the workers share until none is left.

        Each id is sent for the first time (a fresh job is in memory, nothing begun).
        """
        slot = self.limit.slot()
        with observe(slot):  # once for the worker's life, not once an item
            for item_id in pending:
                if self.stopping:
                    return
                # Nothing but the run reads such a job, so a sale goes straight to the
                # report: no entry is built and no journal written, unless the answer leaves
                # something to settle.
                answer = await self._send(slot, item_id)
                if isinstance(answer, Sellback):
                    await self.emit(answer)
                elif answer is not None:
                    ambiguous = await self._refused(fresh.entry(item_id), answer)
                    if ambiguous is not None:
                        await self._hold(ambiguous)

    async def _work_from(self, feed: Feed) -> None:
        """One worker of a journaled job: works what the feed hands out until it is empty."""
        slot = self.limit.slot()
        with observe(slot):
            while (taken := await feed.take()) is not None:
                await self.work(*taken, slot)

    async def guarded(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work``; a journal failure stops the run instead of cancelling the others.

        Tasks that are sending keep going: their requests end as they would, and what
        they answer is kept (see :meth:`_record`).
        """
        try:
            await work()
        except _errors.JournalError as exc:
            if self.journal_failure is None:
                self.journal_failure = exc
