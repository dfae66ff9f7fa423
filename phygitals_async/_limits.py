"""What the SDK accepts from the network, and how long its messages may be: one place.

A response is decoded by :func:`decode_json` and nothing else, success or error alike:

- numbers: at most :data:`MAX_NUMBER_CHARS` characters, checked on the text before any
  conversion; a decimal's exponent stays within ±:data:`MAX_EXPONENT` (so ``1e999999999``
  never becomes a billion-digit integer or string); money is finite (``NaN``, ``sNaN`` and
  ``Infinity`` are refused, as text or as the non-standard JSON constants).
- nesting: at most :data:`MAX_DEPTH` levels of arrays and objects.
- size: a body of more than :data:`MAX_BODY_BYTES` is not read to its end (the largest
  answer, an inventory, is about 800 bytes an item).
- messages: built from :func:`short_repr` of the values involved and capped by
  :func:`cap_message` at :data:`MAX_MESSAGE_CHARS`, so a 10 MB body gives a short message,
  quickly.

Any other decoder (a faster parser) applies the same bounds by calling
:func:`bounded_int`, :func:`bounded_decimal` and :func:`check_depth`.
"""

from __future__ import annotations

import json
import reprlib
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_MESSAGE_CHARS",
    "MAX_NUMBER_CHARS",
    "BodyError",
    "bounded_decimal",
    "bounded_int",
    "cap_message",
    "check_decimal",
    "check_depth",
    "decode_json",
    "short_repr",
]

MAX_NUMBER_CHARS = 100
MAX_EXPONENT = 100
MAX_DEPTH = 64
MAX_MESSAGE_CHARS = 2000
MAX_BODY_BYTES = 256 * 1024 * 1024  # about 300,000 inventory items


class BodyError(ValueError):
    """A body that is not JSON, or is JSON beyond the bounds above."""


class _NumberError(BodyError):
    def __init__(self, message: str, text: str) -> None:
        super().__init__(message)
        self.text = text


def bounded_int(text: str) -> int:
    """A JSON integer's text as an ``int``, refused above :data:`MAX_NUMBER_CHARS`."""
    if len(text) > MAX_NUMBER_CHARS:
        _too_long(text)
    return int(text)


def bounded_decimal(text: str) -> Decimal:
    """A number's text as a finite ``Decimal`` within the bounds, else :class:`BodyError`."""
    if len(text) > MAX_NUMBER_CHARS:
        _too_long(text)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _NumberError(f"not a number: {short_repr(text)}", text) from None
    # Without an exponent, 100 characters cannot leave the bounds: skip the checks.
    if "e" in text or "E" in text or not value.is_finite():
        check_decimal(value, text)
    return value


def check_decimal(value: Decimal, text: str | None = None) -> Decimal:
    """``value`` if it is finite with its exponent within ±:data:`MAX_EXPONENT`."""
    if not value.is_finite():
        raise _NumberError(f"not a finite number: {short_repr(text or str(value))}", text or "")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # noqa: S101  finite decimals have an int exponent
    if exponent < -MAX_EXPONENT or value.adjusted() > MAX_EXPONENT:
        shown = text if text is not None else f"{value:e}"
        msg = f"number out of range (exponent beyond ±{MAX_EXPONENT}): {short_repr(shown)}"
        raise _NumberError(msg, shown)
    return value


def _too_long(text: str) -> NoReturn:
    msg = f"number of {len(text)} characters (the limit is {MAX_NUMBER_CHARS}): {text[:20]}..."
    raise _NumberError(msg, text)


def _refuse_constant(name: str) -> NoReturn:
    msg = f"{name} is not standard JSON"
    raise _NumberError(msg, name)


def _json_decimal(text: str) -> Decimal:
    # bounded_decimal for the parser's number text, which the JSON grammar keeps finite
    # and well formed: only the length and an exponent need checking.
    if len(text) > MAX_NUMBER_CHARS:
        _too_long(text)
    value = Decimal(text)
    if "e" in text or "E" in text:
        check_decimal(value, text)
    return value


_DECODER = json.JSONDecoder(
    parse_float=_json_decimal, parse_int=bounded_int, parse_constant=_refuse_constant
)

# Everything but the characters that open or close a string, array or object.
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'"[]{}')))
_SQUARE = bytes.maketrans(b"{}", b"[]")


def check_depth(raw: bytes) -> None:
    """Refuse JSON text (UTF-8) nested more than :data:`MAX_DEPTH` levels.

    Runs in C-speed passes over the bytes (a pure-Python scan would cost more than the
    parse): escaped quotes and backslashes go, then every character but quotes and
    brackets, then the strings; each pass of ``[]`` removal peels one level, so
    ``MAX_DEPTH`` passes empty any body that is not nested deeper.
    """
    # Each level takes an opening bracket: a body with few cannot be too deep (most bodies).
    if len(raw) <= 2 * MAX_DEPTH or raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    marks = raw.translate(_SQUARE, _NOT_STRUCTURE)
    # Strings without brackets are now adjacent quote pairs; when no quote is left after
    # removing those, no string held a bracket. Otherwise keep what lies between strings.
    structure = marks.replace(b'""', b"")
    if b'"' in structure:
        structure = b"".join(marks.split(b'"')[::2])
    for _ in range(MAX_DEPTH):
        if not structure:
            return
        structure = structure.replace(b"[]", b"")
    if structure:
        msg = f"nested more than {MAX_DEPTH} levels"
        raise BodyError(msg)


def decode_json(raw: bytes) -> Any:
    """A body as JSON with exact ``Decimal`` numbers, within every bound of this module.

    UTF-8/16/32 are detected as ``json.loads`` does. Raises :class:`BodyError` (a
    ``ValueError``) saying what was wrong and where.
    """
    encoding = json.detect_encoding(raw)
    try:
        text = raw.decode(encoding, "surrogatepass")
    except UnicodeDecodeError as exc:
        msg = f"not {encoding} text at byte {exc.start}"
        raise BodyError(msg) from None
    try:
        data = _DECODER.decode(text)
    except _NumberError as exc:
        where = text.find(exc.text) if exc.text else -1
        msg = f"{exc} at character {where}" if where >= 0 else str(exc)
        raise BodyError(msg) from None
    except json.JSONDecodeError as exc:
        msg = f"not JSON ({exc.msg} at character {exc.pos})"
        raise BodyError(msg) from None
    except RecursionError:
        msg = f"nested more than {MAX_DEPTH} levels"
        raise BodyError(msg) from None
    check_depth(raw if encoding == "utf-8" else text.encode("utf-8", "surrogatepass"))
    return data


class _ShortRepr(reprlib.Repr):
    def repr_int(self, x: int, level: int) -> str:
        del level
        # repr() of an int over 4300 digits raises; a short size says more anyway.
        return f"<int of {x.bit_length()} bits>" if x.bit_length() > 128 else repr(x)


_REPR = _ShortRepr()
_REPR.maxlevel = 3
_REPR.maxstring = 80
_REPR.maxother = 80
_REPR.maxlong = 40


def short_repr(value: object) -> str:
    """A ``repr`` of at most a line, whatever ``value`` is (huge, deep, or hostile)."""
    try:
        return _REPR.repr(value)
    except Exception:  # noqa: BLE001  a value's own __repr__ may fail; its type still says enough
        return f"<{type(value).__name__}>"


def cap_message(message: str) -> str:
    """``message`` cut to :data:`MAX_MESSAGE_CHARS`, saying how much was left out."""
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    cut = MAX_MESSAGE_CHARS - 40
    return f"{message[:cut]}... ({len(message) - cut} more characters)"
