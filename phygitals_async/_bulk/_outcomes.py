"""What a bulk sellback run works with: its client, outcomes, and ambiguous answers.

See ``_run`` for how each item is settled without guessing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Protocol

import attrs

from .. import _errors
from .._journal import NO_OWNER, JournalEntry, JournalSettlement, JournalState, SharedJournal
from .._models import FailedSellback, Inventory, Item, Sellback, UnconfirmedSellback

__all__ = [
    "DONE",
    "Client",
    "Fresh",
    "SellbackOutcome",
    "StopFlag",
    "outcome_of",
    "unknown_error",
]

log = logging.getLogger("phygitals_async")

SellbackOutcome = Sellback | UnconfirmedSellback | FailedSellback


@attrs.frozen
class Fresh:
    """A job only this run knows (in memory, nothing begun): its items in order."""

    ids: list[str]
    # An item's entry as the job holds it (its quote), for an answer left to settle.
    entry: Callable[[str], JournalEntry]


_RECONCILE_BATCH = 1000  # ambiguous items settled per inventory read
# Items begun per journal commit. Larger groups mean fewer commits; the cost is that a
# crash may leave up to a group of items marked begun that were never sent, which the
# next run settles by the same no-guess rule as any begun item.
_BEGIN_GROUP = 128
_WORK = frozenset({JournalState.PENDING, JournalState.UNKNOWN, JournalState.FAILED})
# States an earlier run settled for good (a failed item with ``retry`` is worked again).
DONE = frozenset({JournalState.SOLD, JournalState.UNCONFIRMED, JournalState.FAILED})


_HOW_TO_RESOLVE = {
    True: (
        "; pass user_id= (the items' owner) or the Inventory with the same journal to"
        " reconcile it: it is not resent until then"
    ),
    False: "; a rerun with the same journal checks it again",
}


class StopFlag(Protocol):
    """Anything with ``is_set()``: an ``asyncio.Event`` or a ``threading.Event``."""

    def is_set(self) -> bool:
        """Whether the run should stop starting items."""
        ...


class Client(Protocol):
    """What the bulk sellback needs from a client (``AsyncPhygitals`` has it)."""

    @property
    def base_url(self) -> str:
        """The API base URL: the environment a journal is bound to."""
        ...

    async def sell_back(self, item_id: str | Item) -> Sellback:
        """One buyback."""
        ...

    async def inventory(self, user_id: str) -> Inventory:
        """The owner's unsold, unshipped items."""
        ...


# -- outcomes ------------------------------------------------------------------------------


def _is_final(error: Exception) -> bool:
    # A 4xx about the item will answer the same next time; a busy or failing server may not.
    return isinstance(error, _errors.BadRequestError) and not isinstance(
        error, _errors.BuybackInProgressError
    )


def _lost(error: Exception) -> bool:
    # A 2xx we could not read is a sale whose answer was lost, like a dropped connection.
    return isinstance(error, _errors.OutcomeUnknownError | _errors.ResponseValidationError)


def unknown_error(item_id: str, why: str) -> _errors.OutcomeUnknownError:
    """The error of an item whose outcome could not be established, saying why and what to do."""
    how = _HOW_TO_RESOLVE[NO_OWNER in why]
    return _errors.OutcomeUnknownError(
        f"the sellback's outcome could not be established: {why}{how}",
        operation="sell_back",
        arguments={"item_id": item_id},
    )


def _failure(item_id: str, error: Exception, state: JournalState) -> JournalSettlement:
    return JournalSettlement(
        item_id,
        state,
        error_type=type(error).__name__,
        error_message=getattr(error, "message", None) or str(error),
        status_code=getattr(error, "status_code", None),
        retry=state is JournalState.FAILED and not _is_final(error),
    )


def _rebuild_error(entry: JournalEntry) -> Exception:
    """A typed error again from what the journal kept of it."""
    text = entry.error_message or ""
    if entry.state is JournalState.UNKNOWN:
        return _errors.OutcomeUnknownError(
            text or "the outcome was not established",
            operation="sell_back",
            arguments={"item_id": entry.item_id},
        )
    cls = getattr(_errors, entry.error_type or "", None)
    status = entry.status_code
    if isinstance(cls, type) and issubclass(cls, _errors.APIStatusError) and status is not None:
        return cls(text, status_code=status, body={"error": text}, method="POST", url="(journal)")
    if (
        isinstance(cls, type)
        and issubclass(cls, _errors.PhygitalsError)
        and cls.__init__ is (_errors.PhygitalsError.__init__)
    ):
        return cls(text)
    return _errors.PhygitalsError(f"{entry.error_type}: {text}")


def outcome_of(
    entry: JournalEntry, errors: dict[str, Exception] | None = None
) -> SellbackOutcome | None:
    """A journal entry as a report outcome (``None`` while pending).

    A failure this run saw is reported with its original exception from ``errors``; one
    an earlier run recorded is rebuilt from the journal as the same class.
    """
    if entry.state is JournalState.SOLD:
        assert entry.amount is not None  # noqa: S101  a sold row always has its amount
        return Sellback(entry.item_id, entry.amount)
    if entry.state is JournalState.UNCONFIRMED:
        return UnconfirmedSellback(entry.item_id, entry.quoted_amount)
    if entry.state is JournalState.PENDING:
        return None
    error = errors.get(entry.item_id) if errors is not None else None
    return FailedSellback(entry.item_id, error or _rebuild_error(entry))


@attrs.frozen
class _Ambiguous:
    """An answer that does not settle its item by itself; the inventory will."""

    entry: JournalEntry
    error: Exception

    @property
    def lost(self) -> bool:
        return _lost(self.error)


_SOLD_UNCONFIRMED = "sold, amount unconfirmed"  # how a lost answer ended: gone from the inventory


def say_reconciled(reconciled: Mapping[str, int]) -> None:
    """The run's one INFO line on the lost answers it reconciled: how many, and how."""
    if reconciled:
        count = sum(reconciled.values())
        log.info(
            "bulk sellback: %d lost answer%s reconciled (%s)",
            count,
            "" if count == 1 else "s",
            ", ".join(f"{n} {how}" for how, n in sorted(reconciled.items())),
        )


async def say_who_holds(shared: SharedJournal | None, held: int) -> None:
    """One INFO line: what this worker waits for, held by whom, until when."""
    who = ""
    if shared is not None:
        me = shared.worker
        others = [h for h in await shared.holders() if h.items and h.worker != me]
        who = "; ".join(
            f"{h.worker}: {h.items} until {h.lease_until:%H:%M:%S}"
            + (" (lease ended: settled by the next claim)" if h.expired else "")
            for h in others
        )
    log.info(
        "bulk sellback: waiting for %d items other workers hold%s",
        held,
        f" ({who})" if who else "",
    )
