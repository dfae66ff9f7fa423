"""The SQLite journal's commits, made by a process of their own (``_writer_main``).

A writer thread shares the interpreter's lock with the event loop: every commit waited for
the loop to let go of it, a few milliseconds each under load, and its work was taken from
the loop's. A process of its own commits without either: the loop pays one pipe write per
turn and reads the answers. It group-commits what arrives while it commits, so an outcome
the run has written to it is committed even if the run is killed the moment after.

The process holds the run lock's descriptor as well, so the lock lasts until its last
commit is written. Where no such process can run (a frozen application, an interpreter
that is not a plain ``python``, an application that ignores ``SIGCHLD``, an SQLite without
JSON), the journal keeps its thread: :meth:`WriterProcess.start` returns ``None``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._errors import JournalError
from . import _sqlite_sql as _sql
from ._commit import failed_future

__all__ = ["WriterProcess"]

log = logging.getLogger("phygitals_async")

_SCRIPT = Path(__file__).with_name("_writer_main.py")
_READY_WITHIN = 10.0  # seconds for the process to start, open the journal and say so
_ENDS_WITHIN = 30.0  # seconds for it to write what it was sent and end, before it is killed
_END = (0).to_bytes(4, "big")  # the empty frame: nothing follows
_GRACE = 1.0  # seconds a cancelled close still gives the process to end by itself


def _python() -> str | None:
    """This interpreter's executable, where a writer process can run on it."""
    executable = sys.executable
    if getattr(sys, "frozen", False) or not executable or not _SCRIPT.is_file():
        return None
    if signal.getsignal(signal.SIGCHLD) is signal.SIG_IGN:
        return None  # the kernel reaps children at once: asyncio cannot wait for one
    name = Path(executable).name.lower()
    return executable if name.startswith(("python", "pypy")) else None


def _frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


class WriterProcess:
    """One journal's writer process; writes are answered in the order they were sent."""

    def __init__(self, path: str, process: asyncio.subprocess.Process) -> None:
        self._path = path
        self._process = process
        # Each frame sent, in order, as the future its callers share: one answer line each.
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        # This turn of the loop's writes, sent at its end: one frame per run of one kind.
        self._outbox: list[tuple[str, dict[str, Any], asyncio.Future[None]]] = []
        self._failed: JournalError | None = None  # every later write raises it
        self._reader = asyncio.ensure_future(self._read_answers())

    @classmethod
    async def start(cls, path: str, lock: int | None) -> WriterProcess | None:
        """Start a writer for the journal at ``path``, or ``None`` where none can run.

        ``lock`` is the run lock's descriptor: the process holds it until it ends.
        """
        python = _python()
        if python is None or not _sql.JSON:
            return None
        try:
            process = await asyncio.create_subprocess_exec(
                *(python, "-I", "-S", str(_SCRIPT), str(os.getpid())),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
                pass_fds=() if lock is None else (lock,),
                start_new_session=True,  # a Ctrl+C at the terminal is the run's to handle
            )
        except (OSError, RuntimeError, NotImplementedError) as exc:
            log.debug("journal %r: no writer process (%s); commits on a thread", path, exc)
            return None
        assert process.stdin is not None  # noqa: S101  piped above
        assert process.stdout is not None  # noqa: S101
        setup = {"path": os.fsencode(path).hex(), "begin": _sql.BEGIN, "settle": _sql.SETTLE_JSON}
        answer = b""
        try:
            process.stdin.write(_frame(json.dumps(setup).encode()))
            answer = await asyncio.wait_for(process.stdout.readline(), _READY_WITHIN)
        except Exception:  # noqa: BLE001  no answer in time, or not one of ours: the thread
            answer = b""
        finally:
            if answer != b"ready\n":
                await _end(process, within=0.0)
        if answer != b"ready\n":
            log.debug("journal %r: the writer process said %r; commits on a thread", path, answer)
            return None
        return cls(path, process)

    async def commit(self, kind: str, rows: Sequence[Any]) -> None:
        """Write rows (``B``: item ids to begin, ``S``: settlement rows); returns once durable.

        A caller cancelled meanwhile withdraws nothing: its write is made all the same.
        """
        await asyncio.shield(self.submit(kind, rows))

    def submit(self, kind: str, rows: Sequence[Any], *, now: bool = False) -> asyncio.Future[None]:
        """Hand rows over (see :meth:`commit`); the future is done once they are durable.

        Writes are not sent one by one: those of one turn of the event loop go as one frame
        at its end, or at once with ``now`` (a caller that gathered a turn's writes itself),
        and the process commits, in one transaction, all that arrived while its previous
        commit ran. The callers of one frame share its future.
        """
        loop = asyncio.get_running_loop()
        if self._failed is not None:
            return failed_future(loop, self._failed)
        outbox = self._outbox
        if not outbox:
            loop.call_soon(self._send)
        if kind == "B":
            keys = list(rows)
            if not outbox or outbox[-1][0] != kind or not outbox[-1][1].keys().isdisjoint(keys):
                # An item begun twice is begun twice: in two frames, as by two calls.
                outbox.append((kind, {}, loop.create_future()))
        else:
            keys = [row[0] for row in rows]
            if not outbox or outbox[-1][0] != kind:
                outbox.append((kind, {}, loop.create_future()))
        _, pending, done = outbox[-1]
        for key, row in zip(keys, rows, strict=True):  # the last write of an item wins
            pending.pop(key, None)
            pending[key] = row
        if now:
            self._send()
        return done

    def _send(self) -> None:
        outbox, self._outbox = self._outbox, []
        if not outbox:  # sent at once since this call was scheduled
            return
        if self._failed is not None:  # the process has ended: nobody will answer
            for _, _, done in outbox:
                _fail(done, self._failed)
            return
        now = _sql.now()
        frames = []
        for kind, pending, done in outbox:
            frames.append(_frame(f"{kind}{now}\n{json.dumps(list(pending.values()))}".encode()))
            self._waiting.append(done)
        stdin = self._process.stdin
        assert stdin is not None  # noqa: S101  piped at the start
        if not stdin.is_closing():  # else it has ended, and its answers' end fails them
            stdin.write(b"".join(frames))

    async def drain(self) -> None:
        """Wait until every write sent so far is durable (raises if one failed)."""
        pending = [done for _, _, done in self._outbox] + list(self._waiting)
        if pending:
            await asyncio.wait(pending)
        if self._failed is not None:
            raise self._failed

    async def _read_answers(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None  # noqa: S101  piped at the start
        try:
            while True:
                try:
                    line = await stdout.readline()
                except ValueError:  # not an answer of ours (too long): the writer is broken
                    break
                if not line.endswith(b"\n"):  # the end of its output
                    break
                done = self._waiting.popleft()
                if line != b"ok\n" and self._failed is None:
                    self._failed = self._failure(line)
                if line != b"ok\n":
                    _fail(done, self._failed or self._failure(line))
                elif not done.done():  # else a caller cancelled it; the write stands
                    done.set_result(None)
        finally:
            if self._failed is None:  # from now on every write raises this
                code = self._process.returncode
                how = "" if code is None else f" (exit status {code})"
                self._failed = JournalError(
                    f"journal {self._path!r} failed: its writer process ended unexpectedly{how}"
                )
            while self._waiting:
                _fail(self._waiting.popleft(), self._failed)

    def _failure(self, line: bytes) -> JournalError:
        """The error the process answered, as the thread would raise it (SQLite's as cause)."""
        try:
            kind, name, code, message = json.loads(line.removeprefix(b"error "))
        except ValueError:
            kind, name, code, message = "Error", None, None, line.decode(errors="replace").strip()
        cls = getattr(sqlite3, str(kind), sqlite3.Error)
        if not (isinstance(cls, type) and issubclass(cls, sqlite3.Error)):
            cls = sqlite3.Error
        cause = cls(message)
        cause.sqlite_errorname, cause.sqlite_errorcode = name, code
        error = JournalError(f"journal {self._path!r} failed: {message}")
        error.__cause__ = cause
        return error

    async def close(self) -> None:
        """Let the process write what it was sent and end (it then lets go of the lock)."""
        self._send()
        try:
            await _end(self._process, within=_ENDS_WITHIN)
        finally:
            # Its last answers are read to the end of its output, which came as it ended.
            await asyncio.wait([self._reader], timeout=_ENDS_WITHIN)
            if not self._reader.done():
                self._reader.cancel()
                await asyncio.wait([self._reader])


def _fail(done: asyncio.Future[None], error: JournalError) -> None:
    if not done.done():
        done.set_exception(error)
        done.exception()  # marked as seen: a cancelled caller never reads it


async def _end(process: asyncio.subprocess.Process, *, within: float) -> None:
    """Send the end frame and wait for the process to end; killed after ``within`` seconds.

    It writes what it was sent first (milliseconds). A cancellation shortens the wait to
    :data:`_GRACE` seconds but does not end it: the process is always reaped, so nothing
    is left running or unreaped, even where cancellation comes again each turn (anyio).
    """
    stdin = process.stdin
    if stdin is not None and not stdin.is_closing():
        stdin.write(_END)  # its end even if a forked copy of this process holds the pipe
        stdin.close()
    loop = asyncio.get_running_loop()
    waited = asyncio.ensure_future(process.wait())
    deadline, killed, cancelled = loop.time() + within, False, False
    while not waited.done():
        try:
            await asyncio.wait([waited], timeout=max(deadline - loop.time(), 0.0))
        except asyncio.CancelledError:
            cancelled = True
            deadline = min(deadline, loop.time() + _GRACE)
        if waited.done() or loop.time() < deadline:
            continue
        if killed:  # killed and still not reaped: asyncio's watcher will, if it ever can
            log.warning("journal writer process %d did not end", process.pid)
            break
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        killed, deadline = True, loop.time() + _ENDS_WITHIN
    if cancelled:
        raise asyncio.CancelledError
