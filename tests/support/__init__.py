"""What the tests share: the sandbox's pack ids, fake time, a recording server, helpers.

Imported by name (``from support import TOPPS``); the fixtures that use these live in
``tests/conftest.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from typing import Any

import attrs
from aiohttp import web

from phygitals_async import testing

TOPPS = "BSG6DyEihFFtfvxtL9mKYsvTwiZXB1rq5gARMTJC2xAM"


DIGITAL = "D1g1ta1LegendsEnftPackQw3rTy8uIoP4sDfGhJkLzXc"


RETIRED = "Ret1redPackDisab1edXx9Yy8Zz7Ww6Vv5Uu4Tt3Ss2Rr"


SOLD_OUT = "So1dOutPackEmptyShe1fAa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8"


ADDRESS = {
    "name": "Jane Doe",
    "line1": "123 Main St",
    "line2": "Apt 4B",
    "city": "Austin",
    "state": "TX",
    "postal_code": "78701",
    "country": "US",
}


class FakeTime(testing.FakeTime):
    """The public fake time, plus hooks run after each wait with the number of waits so far."""

    def __init__(self, *, jitter: float | None = None) -> None:
        super().__init__(jitter=jitter)
        self.on_sleep: list[Callable[[int], None]] = []

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds)
        for hook in self.on_sleep:
            hook(len(self.sleeps))


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    """Block until ``predicate()`` holds (another thread's or process's state), 10 s at most."""
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.002)


def run_script(
    script: str, *flags: str, env: dict[str, str] | None = None, drop: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (dedented) in a fresh interpreter, 60 s at most; it must exit 0.

    ``flags`` go to the interpreter (``-X dev``); ``env`` is added to this process's
    environment, and the names in ``drop`` are taken out of it.
    """
    environ = {k: v for k, v in os.environ.items() if k not in drop} | (env or {})
    result = subprocess.run(  # noqa: S603  our own interpreter
        [sys.executable, *flags, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=environ,
    )
    assert result.returncode == 0, result.stderr
    return result


@attrs.frozen
class Recorded:
    """One request as the recording server saw it."""

    method: str
    raw_path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Recorder:
    """A loopback server answering canned responses and recording every request."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], list[web.Response]] = {}
        self.requests: list[Recorded] = []
        self.url = ""

    def add(
        self,
        method: str,
        raw_path: str,
        *,
        status: int = 200,
        json_body: Any = None,
        text: str | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests to ``raw_path`` (percent-encoded, no query).

        The answer is ``body`` as given, else ``text``, else ``json_body`` as JSON.
        """
        if body is None:
            body = (text if text is not None else json.dumps(json_body)).encode()
        for _ in range(times):
            self.answers.setdefault((method, raw_path), []).append(
                web.Response(status=status, body=body, content_type=content_type, headers=headers)
            )

    def only(self) -> Recorded:
        assert len(self.requests) == 1, self.requests
        return self.requests[0]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw_path = request.raw_path.split("?", 1)[0]
        self.requests.append(
            Recorded(
                request.method,
                raw_path,
                list(request.query.items()),
                dict(request.headers),
                await request.read(),
            )
        )
        queue = self.answers.get((request.method, raw_path))
        if not queue:
            return web.json_response(
                {"error": f"unexpected {request.method} {raw_path}"}, status=599
            )
        return queue.pop(0)


def with_job(url: str, job: str, **options: object) -> str:
    """``url`` with the journal's ``job`` (and other) query parameters added."""
    query = "&".join(f"{k}={v}" for k, v in {"job": job, **options}.items())
    return f"{url}{'&' if '?' in url else '?'}{query}"
