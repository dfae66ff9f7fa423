"""The SQLite journal's writer process: commits what its run sends it, one message at a time.

Started by ``_writer`` as ``python -I -S _writer_main.py JOURNAL``; it imports nothing but
the standard library, so it starts in milliseconds. The protocol, over its stdin and stdout:

* in: frames of a 4-byte big-endian length and UTF-8 text. The first frame is the
  statements, as JSON ``{"begin": SQL, "settle": SQL}``; each later one is a commit:
  ``"B" or "S"``, the time, a newline, and a JSON array of item ids (``B``: begin them)
  or of settlement rows (``S``), bound with the time to the statement.
* out: one line per frame, in order: ``ready`` for the statements, then ``ok`` once a
  commit is durable, or ``error`` and a JSON
  ``[exception class, SQLite error name, message]``.

An end of input (its run closed the journal, or died) ends the process once the commit in
hand is written: a run killed with ``-9`` still has its last outcomes committed.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import sys
from typing import BinaryIO


def _frame(stream: BinaryIO) -> bytes | None:
    head = stream.read(4)
    if len(head) < 4:
        return None
    size = int.from_bytes(head, "big")
    body = stream.read(size)
    return body if len(body) == size else None


def _error(exc: BaseException) -> bytes:
    said = [type(exc).__name__, getattr(exc, "sqlite_errorname", None), str(exc)]
    return b"error " + json.dumps(said).encode() + b"\n"


def main(path: str, stdin: BinaryIO, stdout: BinaryIO) -> int:
    """Serve commits until the input ends; the exit status is 0."""
    # A Ctrl+C at the terminal is for the run, which drains through this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    setup = _frame(stdin)
    if setup is None:
        return 0
    try:
        statements = json.loads(setup)
        db = sqlite3.connect(path, isolation_level=None, timeout=5.0)
        db.execute("PRAGMA synchronous=NORMAL")  # per connection; WAL is the file's own
    except (sqlite3.Error, ValueError) as exc:
        _reply(stdout, _error(exc))
        return 0
    try:
        _reply(stdout, b"ready\n")
        while (message := _frame(stdin)) is not None:
            text = message.decode()
            now, _, rows = text[1:].partition("\n")
            statement = statements["begin" if text[0] == "B" else "settle"]
            try:
                db.execute(statement, (now, rows))
            except sqlite3.Error as exc:
                _reply(stdout, _error(exc))
            else:
                _reply(stdout, b"ok\n")
    except BrokenPipeError:
        pass  # the run is gone: what it sent is committed, and nobody waits for an answer
    finally:
        db.close()
    return 0


def _reply(stdout: BinaryIO, line: bytes) -> None:
    stdout.write(line)
    stdout.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.stdin.buffer, sys.stdout.buffer))
