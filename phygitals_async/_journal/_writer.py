"""The SQLite journal's commits, made by a process of their own (``_writer_main``).

A writer thread shares the interpreter's lock with the event loop: every commit waited for
the loop to let go of it, a few milliseconds each under load, and its work was taken from
the loop's. A process of its own commits in a fraction of a millisecond and takes nothing
from the loop but two pipe writes.

The process holds the run lock's descriptor as well, so the lock lasts until its last
commit is written, even when the run itself was killed. Where no such process can be
started (a frozen application, an interpreter that is not Python's own, no ``fork``), the
journal keeps its thread: :meth:`WriterProcess.start` returns ``None``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import sqlite3
import sys
from pathlib import Path

from .._errors import JournalError
from . import _sqlite_sql as _sql

__all__ = ["WriterProcess"]

log = logging.getLogger("phygitals_async")

_SCRIPT = Path(__file__).with_name("_writer_main.py")
_READY_WITHIN = 10.0  # seconds for the process to start and open the journal


def _python() -> str | None:
    """This interpreter's executable, where it can run a script (not a frozen app's binary)."""
    executable = sys.executable
    if getattr(sys, "frozen", False) or not executable or not _SCRIPT.is_file():
        return None
    name = Path(executable).name.lower()
    return executable if name.startswith(("python", "pypy")) else None


def _frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


class WriterProcess:
    """One journal's writer process; commits are answered in the order they were sent."""

    def __init__(self, path: str, process: asyncio.subprocess.Process) -> None:
        self._path = path
        self._process = process
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self._ended: JournalError | None = None
        self._reader = asyncio.ensure_future(self._read_answers())

    @classmethod
    async def start(cls, path: str, lock: int | None) -> WriterProcess | None:
        """Start a writer for the journal at ``path``, or ``None`` where none can run.

        ``lock`` is the run lock's descriptor: the process holds it until it ends.
        """
        python = _python()
        if python is None:
            return None
        try:
            process = await asyncio.create_subprocess_exec(
                *(python, "-I", "-S", str(_SCRIPT), path),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                pass_fds=() if lock is None else (lock,),
                start_new_session=True,  # a Ctrl+C at the terminal is the run's to handle
            )
        except (OSError, RuntimeError, NotImplementedError) as exc:
            log.debug("journal %r: no writer process (%s); commits on a thread", path, exc)
            return None
        assert process.stdin is not None  # noqa: S101  piped above
        assert process.stdout is not None  # noqa: S101
        try:
            statements = {"begin": _sql.BEGIN, "settle": _sql.SETTLE_JSON}
            process.stdin.write(_frame(json.dumps(statements).encode()))
            answer = await asyncio.wait_for(process.stdout.readline(), _READY_WITHIN)
        except BaseException:
            await _end(process)
            raise
        if answer != b"ready\n":
            await _end(process)
            log.debug("journal %r: the writer process said %r; commits on a thread", path, answer)
            return None
        return cls(path, process)

    async def commit(self, kind: str, now: str, rows: str) -> None:
        """Commit one statement's rows (``B`` begins ids, ``S`` settles); returns once durable."""
        if self._ended is not None:
            raise self._ended
        stdin = self._process.stdin
        assert stdin is not None  # noqa: S101  piped at the start
        done = asyncio.get_running_loop().create_future()
        self._waiting.append(done)
        stdin.write(_frame(f"{kind}{now}\n{rows}".encode()))
        await done

    async def _read_answers(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None  # noqa: S101  piped at the start
        try:
            while line := await stdout.readline():
                done = self._waiting.popleft()
                if done.done():  # its caller was cancelled; the commit happened all the same
                    continue
                if line == b"ok\n":
                    done.set_result(None)
                else:
                    done.set_exception(self._failure(line))
        finally:
            self._ended = JournalError(
                f"journal {self._path!r} failed: its writer process ended unexpectedly"
            )
            while self._waiting:
                done = self._waiting.popleft()
                if not done.done():
                    done.set_exception(self._ended)

    def _failure(self, line: bytes) -> JournalError:
        """The error the process answered, as the thread would raise it (SQLite's as cause)."""
        try:
            kind, name, message = json.loads(line.removeprefix(b"error "))
        except ValueError:
            kind, name, message = "Error", None, line.decode(errors="replace").strip()
        cls = getattr(sqlite3, str(kind), sqlite3.Error)
        if not (isinstance(cls, type) and issubclass(cls, sqlite3.Error)):
            cls = sqlite3.Error
        cause = cls(message)
        cause.sqlite_errorname = name
        error = JournalError(f"journal {self._path!r} failed: {message}")
        error.__cause__ = cause
        return error

    async def close(self) -> None:
        """Let the process commit what it was sent, then end (it then lets go of the lock)."""
        await _end(self._process)
        await self._reader


async def _end(process: asyncio.subprocess.Process) -> None:
    """Close the process's input and wait for it to end; it commits what it has first."""
    if process.stdin is not None:
        process.stdin.close()  # what is still buffered is written first
    try:
        await asyncio.shield(process.wait())
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        raise
