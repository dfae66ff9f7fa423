"""Reading what people type: durations (``90m``, ``8d``, ``80ms``) and fault rules.

Shared by the dashboard's control API and ``phygitals sandbox``'s start-up options, so a
duration or a fault reads the same wherever it is typed. Every error is a
:class:`SpecError` (a ``ValueError``) whose message says what was expected.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ._faults import Fault, FaultKind

__all__ = ["FAULT_ROUTES", "MAX_DURATION", "SpecError", "fault_from_json", "parse_duration"]
__all__ += ["parse_fault_spec", "parse_times"]

# The routes a fault can target, named by their path after /api/v1/ (as Fault's `route`).
FAULT_ROUTES = (
    "vm/available",
    "vm/recent-pulls",
    "vm/buy/init",
    "vm/buy/status",
    "inventory",
    "card",
    "vm/buyback",
    "ship/quote",
    "ship/request",
    "ship/order",
)
FAULT_KINDS = tuple(kind.value for kind in FaultKind)
# Ten years: far past any window the sandbox has (7-day buybacks, 15-minute quotes), and
# small enough that a datetime plus it never overflows.
MAX_DURATION = 3650 * 86400.0
MAX_TIMES = 1_000_000
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"\s*(\d{1,12}(?:\.\d{1,9})?)\s*(ms|s|m|h|d)?\s*", re.IGNORECASE)
_DEFAULT_STATUS = {FaultKind.STATUS: 503, FaultKind.HTML_ERROR: 502}
DURATION_HELP = "a duration such as 90m, 8d, 1.5h, 80ms or a number of seconds"


class SpecError(ValueError):
    """What was typed cannot be read; the message says what was expected."""


def parse_duration(value: object, *, what: str = "duration") -> float:
    """Seconds (a float) from ``90m``, ``8d``, ``1.5h``, ``80ms``, ``30s`` or a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (found := _DURATION.fullmatch(value)):
        seconds = float(found[1]) * _UNITS[(found[2] or "s").lower()]
    else:
        msg = f"{what} must be {DURATION_HELP}, not {_shown(value)}"
        raise SpecError(msg)
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_DURATION:
        msg = f"{what} must be between 0 and 3650 days, not {_shown(value)}"
        raise SpecError(msg)
    return seconds


def parse_times(value: object) -> int:
    """How many requests a fault applies to: a whole number from 1."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TIMES:
        msg = f"times must be a whole number from 1 to {MAX_TIMES}, not {_shown(value)}"
        raise SpecError(msg)
    return value


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _route(value: object) -> str | None:
    if value in {None, "*"}:
        return None
    if value not in FAULT_ROUTES:
        msg = f"unknown route {_shown(value)}; one of {', '.join(FAULT_ROUTES)} (or * for all)"
        raise SpecError(msg)
    return str(value)


def _kind(value: object) -> FaultKind:
    if value not in FAULT_KINDS:
        msg = f"unknown fault {_shown(value)}; one of {', '.join(FAULT_KINDS)}"
        raise SpecError(msg)
    return FaultKind(value)


def _status(value: object, kind: FaultKind) -> int:
    if value is None:
        return _DEFAULT_STATUS.get(kind, 503)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 400 <= value <= 599:
        msg = f"status must be an HTTP error status from 400 to 599, not {_shown(value)}"
        raise SpecError(msg)
    return value


def _build(kind: FaultKind, route: str | None, value: object, match: dict[str, Any]) -> Fault:
    if kind is FaultKind.LATENCY:
        seconds = 1.0 if value is None else parse_duration(value, what="latency")
        return Fault.latency(seconds, route=route, **match)
    if kind is FaultKind.STATUS:
        return Fault.status(_status(value, kind), route=route, **match)
    if kind is FaultKind.HTML_ERROR:
        return Fault.html_error(_status(value, kind), route=route, **match)
    if value is not None:
        msg = f"the {kind.value} fault takes no value, got {_shown(value)}"
        raise SpecError(msg)
    return Fault(kind, route=route, **match)


def fault_from_json(data: dict[str, Any]) -> Fault:
    """A fault from the control API's JSON.

    ``{"route": "vm/buyback", "fault": "drop_after", "times": 1}``; ``times`` defaults
    to 1, ``"probability": 0.05`` fires on that share of requests instead, ``"every":
    true`` on every request (one of the three, or it is refused). ``latency`` takes
    ``"seconds"`` (a duration, default 1s); ``status`` and ``html_error`` take
    ``"status"`` (default 503 and 502).
    """
    kind = _kind(data.get("fault"))
    route = _route(data.get("route"))
    given = [k for k in ("times", "probability", "every") if _given(data.get(k))]
    if len(given) > 1:
        msg = f"give one of times, probability and every, not {' and '.join(given)}"
        raise SpecError(msg)
    match: dict[str, Any] = {}
    if data.get("probability") is not None:
        match["probability"] = _probability(data["probability"])
    elif data.get("every") is not True:
        match["count"] = parse_times(data.get("times", 1))
    value = data.get("seconds") if kind is FaultKind.LATENCY else data.get("status")
    return _build(kind, route, value, match)


def _given(value: object) -> bool:
    # 0 is given (and refused as such); only null and false are not (``0 == False``).
    return value is not None and value is not False


def _probability(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        msg = f"probability must be a number above 0 and at most 1, not {_shown(value)}"
        raise SpecError(msg)
    return float(value)


def parse_fault_spec(text: str) -> Fault:
    """A fault from ``ROUTE:FAULT[=VALUE][:HOW_OFTEN]``, as ``phygitals sandbox --fault`` takes.

    ``ROUTE`` is a fault route or ``*``; ``VALUE`` is the latency's duration or the status
    code; ``HOW_OFTEN`` is ``N`` (the next N requests) or ``P%`` (that share of requests),
    every request when left out. Examples: ``vm/buyback:drop_after:5%``,
    ``inventory:status=503:2``, ``*:latency=200ms``.
    """
    parts = text.split(":")
    if not 2 <= len(parts) <= 3:
        msg = f"a fault is ROUTE:FAULT[=VALUE][:N|P%], e.g. vm/buyback:drop_after:5%; got {text!r}"
        raise SpecError(msg)
    kind_text, _, value = parts[1].partition("=")
    kind = _kind(kind_text)
    match: dict[str, Any] = {}
    if len(parts) == 3:
        often = parts[2].strip()
        if often.endswith("%"):
            try:
                share = float(often[:-1]) / 100
            except ValueError:
                share = math.nan
            match["probability"] = _probability(share if math.isfinite(share) else often)
        else:
            match["count"] = parse_times(often)
    return _build(kind, _route(parts[0]), value or None, match)
