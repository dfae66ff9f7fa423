"""The seam: every request leaves through :class:`Transport`, and every answer is read here.

A call is data (:class:`Call`, with its :class:`RetryPolicy`); the transport sends it with
retries under one deadline, and the reader turns the answer into the model or the typed
error. Callers that need to see the attempts register one hook, :func:`observe`, for the
calls they make; the seam knows nothing of who they are.
"""

from ._calls import Call, OneOf, Retry, RetryPolicy
from ._log import configure as configure_logging
from ._log import forced as forced_logging
from ._observe import Attempt, LendingObserver, Observer, observe, observers
from ._request import Params, request_call
from ._response import APIResponse, raw_call
from ._transport import Transport

__all__ = [
    "APIResponse",
    "Attempt",
    "Call",
    "LendingObserver",
    "Observer",
    "OneOf",
    "Params",
    "Retry",
    "RetryPolicy",
    "Transport",
    "configure_logging",
    "forced_logging",
    "observe",
    "observers",
    "raw_call",
    "request_call",
]
