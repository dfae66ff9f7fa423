"""Optional OpenTelemetry spans and the WARNING log lines of retries and lost outcomes.

With the ``otel`` extra (``opentelemetry-api``) installed, every logical call (one SDK
method call, all its attempts and waits) is one span ``phygitals.<method>``:

- attributes: ``phygitals.operation``, ``http.request.method``, ``url.full`` (no key:
  the key travels only in a request header, which is never recorded),
  ``http.response.status_code`` (the last response), ``phygitals.retry_count``,
  ``phygitals.outcome`` (``"ok"`` or ``"error"``) and, on failure, ``error.type`` (the
  exception's class name) with the span status set to ERROR;
- one event ``phygitals.attempt`` per attempt, with its number and its status code or
  error class, and between attempts one event ``phygitals.retry`` with the wait
  (``phygitals.retry_delay_s``, seconds) and whether ``Retry-After`` set it
  (``phygitals.retry_after``).

Calls made of many requests (``poll_purchase``/``wait_for_purchase``, ``poll_shipment``/
``wait_for_shipment``, ``sell_back_many``) are one span too (``phygitals.poll_purchase``,
``phygitals.poll_shipment``, ``phygitals.sell_back_many``), the parent of their requests'
spans, with the outcome and error class; a bulk job's span also counts its outcomes.

Without the extra, or with it but no tracer provider configured, nothing here costs more
than a check per call: no span is started. Spans go to the provider the application sets
(``trace.set_tracer_provider``), also when it sets it after creating the client.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from opentelemetry.trace import Span

try:
    from opentelemetry import trace as _otel
    from opentelemetry.trace import ProxyTracerProvider, SpanKind, StatusCode
except ImportError:  # the optional `otel` extra is not installed
    _otel = None  # type: ignore[assignment]

__all__ = ["CallTrace", "call_span", "enabled", "log", "operation_span", "redacted"]

log = logging.getLogger("phygitals_async")

# A proxy: spans reach the provider the application sets, even if it is set later.
_tracer = _otel.get_tracer("phygitals_async", __version__) if _otel is not None else None


# Where opentelemetry-api keeps the provider once one is set (in code, or loaded from the
# OTEL_PYTHON_TRACER_PROVIDER variable on first use): while it is empty and that variable
# was not set at import, nothing is traced, known without a lookup in os.environ per call.
_SET_PROVIDER = "_TRACER_PROVIDER"
_QUICK = (
    _otel is not None
    and hasattr(_otel, _SET_PROVIDER)
    and "OTEL_PYTHON_TRACER_PROVIDER" not in os.environ
)


def enabled() -> bool:
    """Whether calls are traced: the extra is installed and a tracer provider is set."""
    # Until the application sets a provider the global one is a proxy whose spans do
    # nothing: starting them would only cost time on every call.
    if _otel is None or (_QUICK and getattr(_otel, _SET_PROVIDER) is None):
        return False
    return not isinstance(_otel.get_tracer_provider(), ProxyTracerProvider)


def redacted(text: str, secret: str) -> str:
    """``text`` with every occurrence of ``secret`` (the API key) replaced."""
    return text.replace(secret, "[redacted]") if secret and secret in text else text


class CallTrace:
    """The span of one logical call; every method is a no-op when tracing is off."""

    __slots__ = ("_attempts", "_span", "_status")

    def __init__(self, span: Span | None) -> None:
        self._span = span
        self._attempts = 0
        self._status: int | None = None

    def attempt(self, *, status: int | None = None, error: str | None = None) -> None:
        """Record one attempt's answer: its status code, or the class of its failure."""
        if self._span is None:  # the shared no-op trace keeps no state
            return
        self._attempts += 1
        attributes: dict[str, Any] = {"phygitals.attempt": self._attempts}
        if status is not None:
            self._status = status
            attributes["http.response.status_code"] = status
        if error is not None:
            attributes["error.type"] = error
        self._span.add_event("phygitals.attempt", attributes)

    def retry(self, delay: float, *, retry_after: bool) -> None:
        """Record the wait (seconds) before the next attempt, and whether the server set it."""
        if self._span is None:
            return
        self._span.add_event(
            "phygitals.retry",
            {"phygitals.retry_delay_s": delay, "phygitals.retry_after": retry_after},
        )

    def finish(self, error: BaseException | None) -> None:
        """Close the books on the call: retries, outcome, error class."""
        span = self._span
        if span is None:
            return
        span.set_attribute("phygitals.retry_count", max(0, self._attempts - 1))
        if self._status is not None:
            span.set_attribute("http.response.status_code", self._status)
        if error is None:
            span.set_attribute("phygitals.outcome", "ok")
            return
        name = type(error).__name__
        span.set_attribute("phygitals.outcome", "error")
        span.set_attribute("error.type", name)
        span.set_status(StatusCode.ERROR, name)


@contextlib.contextmanager
def call_span(operation: str, method: str, url: str) -> Iterator[CallTrace]:
    """One span around a logical call (a no-op trace when tracing is off)."""
    if _tracer is None:
        yield CallTrace(None)
        return
    with _tracer.start_as_current_span(
        f"phygitals.{operation}",
        kind=SpanKind.CLIENT,
        attributes={
            "phygitals.operation": operation,
            "http.request.method": method,
            "url.full": url,
        },
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        trace = CallTrace(span)
        try:
            yield trace
        except BaseException as exc:
            trace.finish(exc)
            raise
        trace.finish(None)


@contextlib.contextmanager
def operation_span(operation: str) -> Iterator[Span | None]:
    """The span of a call made of many requests; ``None`` when tracing is off."""
    if _tracer is None or not enabled():
        yield None
        return
    with _tracer.start_as_current_span(
        f"phygitals.{operation}",
        kind=SpanKind.INTERNAL,
        attributes={"phygitals.operation": operation},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            name = type(exc).__name__
            span.set_attribute("phygitals.outcome", "error")
            span.set_attribute("error.type", name)
            span.set_status(StatusCode.ERROR, name)
            raise
        span.set_attribute("phygitals.outcome", "ok")
