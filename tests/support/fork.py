"""Running a test's body in a real forked child, killed if it hangs."""

from __future__ import annotations

import os
import pickle
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

CHILD_DEADLINE = 15.0  # seconds; a child alive after this is hung, and the test fails


def in_child(body: Callable[[], object], deadline: float = CHILD_DEADLINE) -> Any:
    """Run ``body`` in a forked child and return its result (or raise its exception)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover  (the child's coverage is not collected)
        os.close(read_end)
        try:
            try:
                outcome: tuple[bool, object] = (True, body())
            except Exception as exc:  # noqa: BLE001  the parent re-raises it
                outcome = (False, exc)
            os.write(write_end, pickle.dumps(outcome))
        finally:
            # Never return into pytest in the child; skip its exit handlers too.
            os._exit(0)
    os.close(write_end)
    started = time.monotonic()
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() - started > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read_end)
            pytest.fail(f"the forked child hung for more than {deadline:g} s")
        time.sleep(0.01)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    assert data, "the child died without reporting"
    ok, value = pickle.loads(data)  # noqa: S301  our own child's report
    if not ok:
        raise value
    return value
