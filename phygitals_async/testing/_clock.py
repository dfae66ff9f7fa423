"""The local sandbox's clock: real time plus an offset that tests and the dashboard move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["SandboxClock"]


class SandboxClock:
    """The sandbox's notion of now: real UTC time plus an offset that tests move forward.

    Example: ``sandbox.clock.advance(days=8)`` expires every item bought before.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._fixed = start
        self._offset = timedelta()

    def now(self) -> datetime:
        """The current sandbox time (timezone-aware, UTC)."""
        base = self._fixed if self._fixed is not None else datetime.now(UTC)
        return base + self._offset

    def advance(self, seconds: float = 0.0, *, minutes: float = 0.0, days: float = 0.0) -> None:
        """Move time forward (seconds as float)."""
        self._offset += timedelta(seconds=seconds, minutes=minutes, days=days)

    def reset(self) -> None:
        """Undo every ``advance``: back to the start time (or the real time)."""
        self._offset = timedelta()
