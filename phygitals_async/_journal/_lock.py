"""The run lock of a journal file: one run at a time, released when its process ends.

An OS lock (``flock``) on ``JOURNAL.lock`` beside the journal, which records its holder
(pid, host, since) for the message a second run gets. The kernel drops the lock when the
holding process ends, however it ends, so a ``kill -9`` never leaves a stale lock behind.
A run's writer process holds the lock too, until its last commit is written: a run that
finds the lock held by a process that has died waits a moment for that writer to end.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._errors import JournalBusyError, JournalError

try:
    import fcntl
except ImportError:  # pragma: no cover  not POSIX: runs are not locked there
    fcntl = None  # type: ignore[assignment]

__all__ = ["release_run_lock", "take_run_lock"]

_UNKNOWN = "holder unknown"
_WRITER_ENDS_WITHIN = 2.0


# The run locks this process holds. A forked child closes its copies at once: a copy kept
# open would hold the lock for as long as the child lives, after the run has let go.
_HELD: set[int] = set()


def _forget_in_child() -> None:
    for fd in _HELD:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


if hasattr(os, "register_at_fork"):  # pragma: no branch  POSIX
    os.register_at_fork(after_in_child=_forget_in_child)


def release_run_lock(fd: int) -> None:
    """Let go of a run lock taken by :func:`take_run_lock` (not in a forked child: done)."""
    if fd in _HELD:
        _HELD.discard(fd)
        os.close(fd)


def take_run_lock(journal: str, lock_path: str) -> int | None:
    """Lock ``lock_path`` for this process; its descriptor (:func:`release_run_lock` it).

    ``None`` where the platform has no ``flock`` (runs are not locked there).

    Raises:
        JournalBusyError: another run holds it (named in the message).
        JournalError: the lock file cannot be made or locked.
    """
    if fcntl is None:  # pragma: no cover  not POSIX
        return None
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        msg = f"journal {journal!r} cannot be written: {exc.strerror or exc}"
        raise JournalError(msg) from exc
    try:
        _lock_or_wait_for_writer(fd)
    except BlockingIOError:
        holder = _wait_for_holder(fd)
        os.close(fd)
        msg = f"journal {journal!r} is in use by another run ({holder}); nothing was sent"
        raise JournalBusyError(msg) from None
    except OSError as exc:  # pragma: no cover  a file system without locks
        os.close(fd)
        msg = f"journal {journal!r} cannot be locked: {exc.strerror or exc}"
        raise JournalError(msg) from exc
    with contextlib.suppress(OSError):  # who holds it is for messages only
        since = datetime.now(UTC).isoformat(timespec="milliseconds")
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": since}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
    _HELD.add(fd)
    return fd


def _lock_or_wait_for_writer(fd: int) -> None:
    """Lock, or raise :class:`BlockingIOError` while a live run holds the lock.

    A holder that died leaves its writer process finishing its last commit: that takes
    milliseconds, so the lock is tried again for up to :data:`_WRITER_ENDS_WITHIN` seconds.
    """
    deadline = time.monotonic() + _WRITER_ENDS_WITHIN
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if _holder_alive(fd) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
        else:
            return


def _holder_alive(fd: int) -> bool:
    """Whether the process that wrote itself down as holder may still run."""
    holder = _holder(fd)
    try:
        if holder["host"] != socket.gethostname():
            return True  # another machine's process: not ours to know
        pid = int(holder["pid"])
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, ValueError, KeyError, TypeError):
        return True  # unknown, or alive but not ours to signal
    return not _ended(pid)


def _ended(pid: int) -> bool:
    """Whether ``pid`` has ended and only waits to be reaped (a zombie), where /proc says."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def _wait_for_holder(fd: int) -> str:
    """The holder of a run lock, given a moment to write itself down after taking it."""
    for _ in range(20):  # 0.1 s at most: a holder writes within microseconds of locking
        holder = _read_holder(fd)
        if holder != _UNKNOWN:
            return holder
        time.sleep(0.005)
    return _UNKNOWN


def _read_holder(fd: int) -> str:
    """Who holds a run lock, as its holder wrote it: "pid 12, host h, since ..."."""
    holder = _holder(fd)
    try:
        return f"pid {holder['pid']} on {holder['host']}, since {holder['since']}"
    except (KeyError, TypeError):
        return _UNKNOWN


def _holder(fd: int) -> dict[str, Any]:
    """The record a run lock's holder wrote (pid, host, since); empty if none can be read."""
    try:
        record = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}
