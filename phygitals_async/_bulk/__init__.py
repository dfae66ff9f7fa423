"""Bulk sellback: ``sell_back_many`` and ``iter_sell_back`` over a small client protocol.

A job is recorded in a journal (the ``_journal`` wing) before anything is sent; the run
sells its items with a concurrency that is cut on 429 and grows back (:class:`AdaptiveLimit`,
which observes its own requests through the seam's one hook), settles every item with an
outcome, and reconciles lost answers through the owner's inventory.
"""

from ._outcomes import Client, SellbackOutcome, StopFlag
from ._sellback import iter_sell_back, sell_back_many, span_attributes
from ._throttle import AdaptiveLimit

__all__ = [
    "AdaptiveLimit",
    "Client",
    "SellbackOutcome",
    "StopFlag",
    "iter_sell_back",
    "sell_back_many",
    "span_attributes",
]
