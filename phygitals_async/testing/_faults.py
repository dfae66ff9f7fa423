"""Fault injection for the local sandbox: what a flaky network or proxy does to a request.

Example::

    sandbox.faults.add(Fault.drop_after(route="vm/buy/init", count=1))
    sandbox.faults.add(Fault.status(503, route="inventory", probability=0.2))

A fault fires for the next ``count`` matching requests, or with ``probability`` on each
(from the sandbox's seeded random generator), or on every matching request when neither
is given. Routes are named by their path after ``/api/v1/``: ``vm/available``,
``vm/recent-pulls``, ``vm/buy/init``, ``vm/buy/status``, ``inventory``, ``card``,
``vm/buyback``, ``ship/quote``, ``ship/request``, ``ship/order``.
"""

from __future__ import annotations

import enum
import random
from typing import Any

import attrs

__all__ = ["Fault", "FaultKind", "FaultPlan"]


class FaultKind(enum.Enum):
    """What the fault does to the request."""

    LATENCY = "latency"
    STATUS = "status"
    DROP_BEFORE = "drop_before"
    DROP_AFTER = "drop_after"
    MALFORMED_JSON = "malformed_json"
    HTML_ERROR = "html_error"

    @property
    def runs_handler(self) -> bool:
        """Whether the request is processed (its effects happen) before the fault acts."""
        return self in {FaultKind.LATENCY, FaultKind.DROP_AFTER, FaultKind.MALFORMED_JSON}


@attrs.define
class Fault:
    """One rule of fault injection; build it with the class methods."""

    kind: FaultKind
    route: str | None = None
    method: str | None = None
    count: int | None = None
    probability: float | None = None
    seconds: float = 0.0
    status_code: int = 503
    body: Any = None
    retry_after: str | None = None
    fired: int = 0

    @classmethod
    def latency(cls, seconds: float, **match: Any) -> Fault:
        """Delay the answer by ``seconds`` (the request is then processed normally)."""
        return cls(FaultKind.LATENCY, seconds=seconds, **match)

    @classmethod
    def status(
        cls,
        status_code: int = 503,
        *,
        body: Any = None,
        retry_after: float | str | None = None,
        **match: Any,
    ) -> Fault:
        """Answer ``status_code`` with a JSON ``body`` without processing the request."""
        if body is None:
            body = {"error": "An unexpected error occurred"}
        header = None if retry_after is None else str(retry_after)
        return cls(
            FaultKind.STATUS, status_code=status_code, body=body, retry_after=header, **match
        )

    @classmethod
    def drop_before(cls, **match: Any) -> Fault:
        """Close the connection without processing the request."""
        return cls(FaultKind.DROP_BEFORE, **match)

    @classmethod
    def drop_after(cls, **match: Any) -> Fault:
        """Process the request (its effects happen), then close without answering."""
        return cls(FaultKind.DROP_AFTER, **match)

    @classmethod
    def malformed_json(cls, **match: Any) -> Fault:
        """Process the request, then answer 200 with a truncated JSON body."""
        return cls(FaultKind.MALFORMED_JSON, **match)

    @classmethod
    def html_error(cls, status_code: int = 502, **match: Any) -> Fault:
        """Answer an HTML error page, as a proxy in front of the API would."""
        return cls(FaultKind.HTML_ERROR, status_code=status_code, **match)

    def matches(self, route: str, method: str) -> bool:
        """Whether this rule applies to the request at all."""
        if self.route is not None and self.route != route:
            return False
        return self.method is None or self.method.upper() == method

    def exhausted(self) -> bool:
        """Whether a counted rule has fired its last time."""
        return self.count is not None and self.fired >= self.count


class FaultPlan:
    """The active fault rules; ``add`` one, ``clear`` them all."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.rules: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        """Activate a rule and return it (its ``fired`` counts how often it acted)."""
        self.rules.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every rule."""
        self.rules.clear()

    def reset(self, rng: random.Random) -> None:
        """Remove every rule and draw probabilities from ``rng`` from now on."""
        self._rng = rng
        self.rules.clear()

    def pick(self, route: str, method: str) -> list[Fault]:
        """The rules that fire for this request: any latency, then at most one other fault."""
        chosen: list[Fault] = []
        for fault in self.rules:
            if not fault.matches(route, method) or fault.exhausted():
                continue
            if fault.probability is not None and self._rng.random() >= fault.probability:
                continue
            if fault.kind is not FaultKind.LATENCY and any(
                f.kind is not FaultKind.LATENCY for f in chosen
            ):
                continue
            fault.fired += 1
            chosen.append(fault)
        return chosen
