"""One HTTP answer read: the call's result, a failure that may be resent, or a raised error.

Everything a server can send ends here as a model or a :class:`PhygitalsError`: 2xx bodies
through the fast decoder (the ``speedups`` extra) or the converter, error answers mapped to
the error tree by status and documented message. Bodies go through
:func:`._limits.decode_json` (bounded numbers and nesting) and messages through
:func:`._limits.cap_message`.
"""

from __future__ import annotations

import contextlib
import gc
import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar, cast

import attrs
import cattrs
import yarl

from .. import _errors
from .._decode import NOT_DECODED, FastDecoder, converter, explain, fast_decoder
from .._limits import BodyError, cap_message, decode_json, short_repr
from ._calls import Call

__all__ = ["GC_PAUSE_BYTES", "Reader", "Retryable", "gc_paused", "parse_retry_after"]

T = TypeVar("T")


@attrs.frozen
class Retryable:
    """An attempt's failure that the call's retry class allows resending after."""

    error: _errors.PhygitalsError
    retry_after: float | None
    cause: BaseException | None


# Bodies from this size up are decoded with the cyclic GC paused (see gc_paused).
GC_PAUSE_BYTES = 64 * 1024


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while a large body is parsed and turned into models.

    The parsed JSON holds no reference cycles, yet every few hundred allocations the GC
    rescans all of it: for a 10,000-item inventory that doubles the decode time. Decoding
    never awaits, so the pause is bounded by the decode itself. A GC the caller disabled
    stays disabled.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # "nan" and "inf" parse as floats but are no delay at all.
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class Reader:
    """Reads answers into results: owns the converter and the fast decoder.

    ``strict`` (``Settings.strict_decoding``) rejects response fields the models do not
    know. The fast decoder is the msgspec path of the ``speedups`` extra, ``None`` without
    it; the converter decides whatever it leaves.
    """

    __slots__ = ("converter", "fast", "strict")

    def __init__(self, *, strict: bool) -> None:
        self.strict = strict
        self.converter = converter(strict=strict)
        self.fast = fast_decoder(strict=strict)

    def read(
        self,
        call: Call[T],
        url: yarl.URL,
        status: int,
        headers: Mapping[str, str],
        raw: bytes,
    ) -> T | Retryable:
        """A response as the decoded result, a :class:`Retryable`, or a raised error."""
        if 200 <= status < 300:
            if len(raw) < GC_PAUSE_BYTES:
                return decode(call, url, raw, headers, self.converter, self.fast, self.strict)
            with gc_paused():
                return decode(call, url, raw, headers, self.converter, self.fast, self.strict)
        error = status_error(call, url, status, headers, raw)
        if not call.retry.retries_status(status):
            raise error
        retry_after = getattr(error, "retry_after", None) if call.retry.retry_after else None
        return Retryable(error, retry_after if isinstance(retry_after, float) else None, None)


def decode(
    call: Call[T],
    url: yarl.URL,
    raw: bytes,
    headers: Mapping[str, str],
    conv: cattrs.Converter,
    fast: FastDecoder | None,
    strict: bool | None = None,
) -> T | Retryable:
    """A 2xx body as ``call.into``, or a :class:`Retryable` for an unreadable body.

    ``strict`` is the converter's mode, for the explanation of a body that does not fit.
    """
    if fast is not None:
        result = fast(raw, call.form)
        if result is not NOT_DECODED:
            # Built from call.form, the runtime spelling of T.
            return cast("T", result)
    try:
        data = parse(call, url, raw, headers)
    except _errors.ResponseValidationError as exc:
        # A garbled body is worth another read only where resending is safe.
        if not call.retry.unreadable_2xx:
            raise
        return Retryable(exc, None, exc.__cause__)
    return structure(call, url, raw, data, conv, strict)


def parse(
    call: Call[Any],
    url: yarl.URL,
    raw: bytes,
    headers: Mapping[str, str] | None = None,
) -> Any:
    try:
        data = decode_json(raw)
    except BodyError as exc:
        text = raw.decode("utf-8", "replace")
        raise _errors.ResponseValidationError(
            cap_message(f"{call.operation}: unusable response ({exc}): {short_repr(text)}"),
            body=text,
            method=call.method,
            url=str(url),
        ) from exc
    if isinstance(data, dict) and data.get("status") == "error":
        # The documented error envelope: {"order_id": null, "status": "error", ...}.
        message = data.get("error_message") or data.get("error") or "error"
        if not isinstance(message, str):
            message = short_repr(message)
        raise _errors.APIStatusError(
            cap_message(message),
            status_code=200,
            body=data,
            method=call.method,
            url=str(url),
            headers=headers,
        )
    return data


def structure(
    call: Call[T],
    url: yarl.URL,
    raw: bytes,
    data: Any,
    conv: cattrs.Converter,
    strict: bool | None = None,
) -> T:
    try:
        # Built from call.form, the runtime spelling of T.
        return cast("T", conv.structure(data, call.form))
    except Exception as exc:  # whatever the shape breaks, it is one error to the caller
        reasons = explain(data, call.form, strict=strict)
        details = "; ".join(reasons) or f"{type(exc).__name__}: {exc}"
        raise _errors.ResponseValidationError(
            cap_message(
                f"{call.operation}: the response does not match the documented shape: {details}"
            ),
            body=raw.decode("utf-8", "replace"),
            method=call.method,
            url=str(url),
        ) from exc


def status_error(
    call: Call[Any],
    url: yarl.URL,
    status: int,
    headers: Mapping[str, str],
    raw: bytes,
) -> _errors.APIStatusError:
    text = raw.decode("utf-8", "replace")
    body: object = text
    try:
        # The same exact, bounded decoder as 2xx bodies: amounts stay Decimal.
        body = decode_json(raw)
    except BodyError:
        message = " ".join(text[:400].split())[:200]
    else:
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            message = body["error"]
        else:
            message = " ".join(text[:400].split())[:200]
    # Matched in full (a documented string is short), shown capped.
    cls = _errors.error_class_for(status, message)
    message = cap_message(message)
    fields: dict[str, Any] = {
        "status_code": status,
        "body": body,
        "method": call.method,
        "url": str(url),
        "headers": headers,
    }
    if issubclass(cls, _errors.RateLimitError | _errors.ServerError):
        fields["retry_after"] = parse_retry_after(headers.get("Retry-After"))
    return cls(message, **fields)
