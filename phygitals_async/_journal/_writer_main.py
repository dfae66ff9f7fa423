"""The SQLite journal's writer process: group-commits what its run sends it, as it arrives.

Started by ``_writer`` as ``python -I -S _writer_main.py RUN_PID``; it imports nothing but the
standard library, so it starts in milliseconds. The protocol, over its stdin and stdout:

* in: frames of a 4-byte big-endian length and UTF-8 text. The first frame is the setup,
  as JSON ``{"path": hex of the journal's path bytes, "begin": SQL, "settle": SQL}``;
  each later one is a write: ``"B" or "S"``, the time, a newline, and a JSON array of
  item ids (``B``: begin them) or of settlement rows (``S``), bound with the time to the
  statement. An empty frame is the end: nothing follows.
* out: one line per frame, in order: ``ready`` for the setup (the file opened, both
  statements prepared), then ``ok`` once a write is durable, or ``error`` and a JSON
  ``[exception class, SQLite error name, SQLite error code, message]``.

Group commit without a window: everything that arrived while a commit ran is the next
commit, one transaction, its writes in the order they were sent. After a failed commit
every later write is refused, so the run never believes a write that followed a lost one.

The process ends at the end frame, or at the end of its input or its run's death (a copy
of the run made by ``fork`` may hold the input open), once what it was sent is written: a
run killed with ``-9`` still has every outcome it sent committed, answered or not.
Signals meant for the run (Ctrl+C at a terminal, a service manager's SIGTERM) do not end
it: it ends when its run is done with it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sqlite3
import sys
from pathlib import Path

_READ = 1 << 20  # bytes read at once: whatever has arrived, up to this
_LOOK_EVERY = 1.0  # seconds between looks at whether the run is still alive, while idle
_PARENT = int(sys.argv[1]) if len(sys.argv) > 1 else os.getppid()  # the run
_DEAF = False  # the run's end of the answers is closed: it died, or no longer listens


def _frames(buffer: bytearray, most: int = -1) -> list[bytes]:
    """Take the complete frames (``most`` of them, if given) off the front of ``buffer``."""
    frames: list[bytes] = []
    at = 0
    while len(buffer) - at >= 4 and len(frames) != most:
        size = int.from_bytes(buffer[at : at + 4], "big")
        if len(buffer) - at - 4 < size:
            break
        frames.append(bytes(buffer[at + 4 : at + 4 + size]))
        at += 4 + size
    del buffer[:at]
    return frames


def _error(exc: BaseException) -> bytes:
    name, code = getattr(exc, "sqlite_errorname", None), getattr(exc, "sqlite_errorcode", None)
    said = [type(exc).__name__, name, code, str(exc)]
    return b"error " + json.dumps(said).encode() + b"\n"


def _commit(db: sqlite3.Connection, sql: dict[str, str], frames: list[bytes]) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        for frame in frames:  # in the order sent: a later write of an item wins
            text = frame.decode()
            now, _, rows = text[1:].partition("\n")
            db.execute(sql["begin" if text[0] == "B" else "settle"], (now, rows))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _serve(db: sqlite3.Connection, sql: dict[str, str], buffer: bytearray) -> None:
    failed: bytes | None = None
    while True:
        frames = _frames(buffer)
        end = b"" in frames
        if end:
            frames = frames[: frames.index(b"")]
        if frames:
            if failed is None:
                try:
                    _commit(db, sql, frames)
                except sqlite3.Error as exc:
                    failed = _error(exc)
            _reply((b"ok\n" if failed is None else failed) * len(frames))
        if end:
            return
        chunk = _read()
        if not chunk:
            return
        buffer += chunk


def _read() -> bytes:
    """What has arrived on the input; empty at its end, or once the run has died.

    A copy of the run made by ``fork`` may hold the input open after the run died: the
    run's death (this process handed to another parent) ends the input as well.
    """
    while not select.select([0], [], [], _LOOK_EVERY)[0]:
        if os.getppid() != _PARENT:
            return b""
    return os.read(0, _READ)


def _setup(buffer: bytearray) -> bytes | None:
    """Read until the first frame is complete; ``None`` if the input ends first."""
    while not (first := _frames(buffer, most=1)):
        chunk = _read()
        if not chunk:
            return None
        buffer += chunk
    return first[0]


def _open(setup: bytes) -> tuple[sqlite3.Connection, dict[str, str]]:
    """The journal, opened as it is (never created), with both statements checked."""
    sql = json.loads(setup)
    path = os.fsdecode(bytes.fromhex(sql["path"]))
    if not Path(path).is_file():
        msg = f"unable to open database file {path!r}"
        raise sqlite3.OperationalError(msg)
    db = sqlite3.connect(path, isolation_level=None, timeout=5.0)
    db.execute("PRAGMA synchronous=NORMAL")  # per connection; WAL is the file's own
    for statement in (sql["begin"], sql["settle"]):  # this SQLite runs them, or we say so
        db.execute("EXPLAIN " + statement, ("", "[]")).fetchall()
    return db, sql


def main() -> int:
    """Serve writes until the end frame or the end of input; the exit status is 0."""
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    os.set_blocking(1, False)  # a full pipe nobody reads must not hold this process for ever
    buffer = bytearray()
    setup = _setup(buffer)
    if setup is None:
        return 0
    try:
        db, sql = _open(setup)
    except (sqlite3.Error, ValueError, KeyError, TypeError) as exc:
        _reply(_error(exc))
        return 0
    try:
        _reply(b"ready\n")
        _serve(db, sql, buffer)
    finally:
        db.close()
    return 0


def _reply(data: bytes) -> None:
    """Answer the run; once it is gone, answer nobody but go on committing what it sent.

    Gone is a closed pipe, or (a forked copy of the run holding the pipe, reading nothing)
    the run's death while the pipe is full.
    """
    global _DEAF  # noqa: PLW0603  one flag for the life of the process
    try:
        while data and not _DEAF:
            try:
                data = data[os.write(1, data) :]
            except BlockingIOError:
                _DEAF = os.getppid() != _PARENT
                select.select([], [1], [], _LOOK_EVERY)
    except BrokenPipeError:
        _DEAF = True


if __name__ == "__main__":
    sys.exit(main())
