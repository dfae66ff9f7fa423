"""Rendering models for people (tables) and for machines (exact JSON), used by the CLI."""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TextIO, cast

import attrs

from ._models import Item

__all__ = ["ProgressBar", "items_table", "money", "print_json", "table", "to_jsonable", "when"]


def to_jsonable(value: object) -> Any:
    """Models as plain JSON values: Decimal as an exact string, times as ISO 8601."""
    if attrs.has(type(value)):
        fields = attrs.fields(cast("Any", type(value)))
        return {f.name: to_jsonable(getattr(value, f.name)) for f in fields}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return _scalar(value)


def _scalar(value: object) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, BaseException):
        return {"type": type(value).__name__, "message": str(value)}
    return value


def print_json(value: object, out: TextIO | None = None) -> None:
    """Write ``value`` as indented JSON."""
    json.dump(to_jsonable(value), out or sys.stdout, indent=2, sort_keys=False)
    (out or sys.stdout).write("\n")


def money(value: Decimal | None) -> str:
    """USD with two decimals, e.g. ``$1,234.50``."""
    return "-" if value is None else f"${value:,.2f}"


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


class ProgressBar:
    """A one-line progress bar on a terminal; silent when the stream is not a TTY."""

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.enabled = self.stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        """Redraw for ``done`` of ``total``."""
        if not self.enabled:
            return
        filled = self.width if total == 0 else self.width * done // total
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
