"""Rendering models for people (tables) and for machines (exact JSON), used by the CLI.

Progress (bars and "waiting for" lines) is drawn on stderr only when it is a terminal, so
pipes, files and CI logs get the results and nothing else; colour is used only on a
terminal, never when ``NO_COLOR`` is set (https://no-color.org) or ``TERM`` is ``dumb``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TextIO

from .._decode import to_builtins
from .._models import Item

__all__ = [
    "ProgressBar",
    "WaitProgress",
    "colour",
    "interactive",
    "items_table",
    "money",
    "print_json",
    "print_json_line",
    "table",
    "to_jsonable",
    "when",
]

# Beyond this many digits before the point an amount is shown in scientific notation: a
# hostile price such as 1e999999999 would otherwise be expanded to a billion digits.
_MONEY_DIGITS = 18


def to_jsonable(value: object) -> Any:
    """Models as plain JSON values, exactly as ``Model.to_dict()`` writes them."""
    return to_builtins(value)


def print_json(value: object, out: TextIO | None = None) -> None:
    """Write ``value`` as indented JSON."""
    json.dump(to_jsonable(value), out or sys.stdout, indent=2, sort_keys=False)
    (out or sys.stdout).write("\n")


def print_json_line(value: object, out: TextIO | None = None) -> None:
    """Write ``value`` as one line of compact JSON (JSON Lines) and flush it at once."""
    stream = out or sys.stdout
    stream.write(json.dumps(to_jsonable(value), separators=(",", ":")) + "\n")
    stream.flush()


def money(value: Decimal | None) -> str:
    """USD with two decimals, e.g. ``$1,234.50``; absurd amounts in scientific notation."""
    if value is None:
        return "-"
    if not value.is_finite():
        return str(value)
    if value.adjusted() >= _MONEY_DIGITS:
        return f"${value:.3E}"
    return f"${value:,.2f}"


def when(value: datetime | None) -> str:
    """A time in the local time zone, to the minute."""
    return "-" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M %Z")


def table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], out: TextIO | None = None
) -> None:
    """Print an aligned text table; numbers and money are right-aligned."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    right = [bool(cells) and all(_numeric(row[i]) for row in cells) for i in range(len(headers))]
    stream = out or sys.stdout

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)
        ).rstrip()

    stream.write(line(headers) + "\n")
    stream.write("  ".join("-" * w for w in widths) + "\n")
    for row in cells:
        stream.write(line(row) + "\n")
    if not cells:
        stream.write("(none)\n")


def items_table(items: Iterable[Item], out: TextIO | None = None, *, expiry: bool = False) -> None:
    """The table of pulled or owned items: id, card, buyback price (and sell-by time)."""
    if expiry:
        table(
            ["item", "card", "buyback", "sell by"],
            [(i.id, i.name, money(i.buyback_price), when(i.buyback_expires_at)) for i in items],
            out,
        )
    else:
        table(
            ["item", "card", "buyback"],
            [(i.id, i.name, money(i.buyback_price)) for i in items],
            out,
        )


def _numeric(text: str) -> bool:
    stripped = text.replace("$", "").replace(",", "").replace(".", "").replace("-", "")
    return stripped.isdigit()


def interactive(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal a person watches (so progress may be drawn there)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def colour(stream: TextIO) -> bool:
    """Whether colour may be written to ``stream``: a terminal, no ``NO_COLOR``, not dumb."""
    return (
        interactive(stream)
        and not os.environ.get("NO_COLOR")
        and os.environ.get("TERM", "") != "dumb"
    )


class _Line:
    """A line redrawn in place on a terminal; stops drawing if the terminal goes away."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = interactive(self.stream)

    def _fit(self, text: str) -> str:
        """``text`` cut to the terminal's width: a wrapped line cannot be redrawn in place."""
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, ValueError, OSError):  # not a real terminal: keep it whole
            return text
        if columns <= 0:  # a terminal that does not know its size
            return text
        return text[: max(columns - 1, 20)]

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            # Progress is a courtesy: a closed terminal must never stop the work it reports.
            self.enabled = False


class ProgressBar(_Line):
    """A one-line progress bar on a terminal; silent when the stream is not a TTY."""

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        super().__init__(stream)
        self.label = label
        self.width = width

    def __call__(self, done: int, total: int) -> None:
        """Redraw for ``done`` of ``total``."""
        if not self.enabled:
            return
        filled = self.width if total == 0 else self.width * done // total
        bar = "#" * filled + "." * (self.width - filled)
        self._write(f"\r{self.label} [{bar}] {done}/{total}" + ("\n" if done >= total else ""))


class WaitProgress(_Line):
    """``waiting for <what>: <status> (3 s of 60 s)``, redrawn on a terminal, else silent.

    The line is erased when the wait ends, so the result or the error prints on a clean line.
    Times are seconds, measured with ``clock`` (monotonic by default).
    """

    def __init__(
        self,
        what: str,
        timeout: float,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(stream)
        self.what = what
        self.timeout = timeout
        self.clock = clock
        self.started = clock()
        self._drawn = 0

    def __call__(self, status: str | None) -> None:
        """Redraw with the last status seen (``None`` before the first answer)."""
        if not self.enabled:
            return
        elapsed = self.clock() - self.started
        text = self._fit(
            f"waiting for {self.what}: {status or 'checking'} "
            f"({elapsed:.0f} s of {self.timeout:g} s, Ctrl+C to stop)"
        )
        self._write("\r" + text.ljust(self._drawn))
        self._drawn = len(text)

    def close(self) -> None:
        """Erase the line (if one was drawn)."""
        if self.enabled and self._drawn:
            self._write("\r" + " " * self._drawn + "\r")
        self._drawn = 0
