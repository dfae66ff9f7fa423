"""Shared fixtures: a local sandbox over real loopback HTTP, and a client with fake time.

Decoding runs strict here by default, so a field the sandbox or a fixture sends that the
models do not know fails the test instead of being ignored. ``PHYGITALS_STRICT_DECODING=0``
runs the suite in production mode instead (the second pass of ``.ci/run`` does).
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import attrs
import pytest
import pytest_asyncio
from aiohttp import web

os.environ.setdefault("PHYGITALS_STRICT_DECODING", "1")

from phygitals_async import AsyncPhygitals, Phygitals, testing
from phygitals_async.testing import LocalSandbox, TemporaryPostgres, sandbox_in_thread

pytest_plugins = ["phygitals_async.testing.pytest_plugin"]

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


@pytest_asyncio.fixture
async def sandbox() -> AsyncIterator[LocalSandbox]:
    async with LocalSandbox(seed=1234) as running:
        yield running


@pytest.fixture
def threaded() -> Iterator[LocalSandbox]:
    """A sandbox on its own thread, for blocking code."""
    with sandbox_in_thread(seed=99) as running:
        yield running


@pytest.fixture
def sync_client(threaded: LocalSandbox) -> Iterator[Phygitals]:
    """A blocking client of the threaded sandbox."""
    with threaded.sync_client() as c:
        yield c


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    """Block until ``predicate()`` holds (another thread's or process's state), 10 s at most."""
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.002)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest_asyncio.fixture
async def client(sandbox: LocalSandbox, fake_time: FakeTime) -> AsyncIterator[AsyncPhygitals]:
    """A sandbox client whose backoff and polling sleeps advance ``fake_time`` instantly."""
    async with sandbox.client() as c:
        fake_time.attach(c)
        yield c


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


@pytest_asyncio.fixture
async def recorder() -> AsyncIterator[Recorder]:
    rec = Recorder()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", rec.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    rec.url = f"http://127.0.0.1:{port}"
    yield rec
    await runner.cleanup()


@pytest.fixture(scope="session")
def postgres() -> Iterator[TemporaryPostgres]:
    """One throwaway PostgreSQL server for the session, removed at the end."""
    with TemporaryPostgres() as server:
        yield server


_schemas = itertools.count()


@pytest.fixture(scope="session")
def pg_database(postgres: TemporaryPostgres) -> str:
    """One database of the session's server for the tests' schemas."""
    return postgres.create_database("tests")


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """A ``postgresql://`` URL whose tables land in a fresh, empty schema of their own.

    A schema is created in milliseconds where a database takes most of a second here.
    """
    import psycopg  # noqa: PLC0415  only the PostgreSQL tests need the driver

    schema = f"test_{next(_schemas)}"
    with psycopg.connect(pg_database, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {schema}")
    return f"{pg_database}?options=-csearch_path%3D{schema}"


def with_job(url: str, job: str, **options: object) -> str:
    """``url`` with the journal's ``job`` (and other) query parameters added."""
    query = "&".join(f"{k}={v}" for k, v in {"job": job, **options}.items())
    return f"{url}{'&' if '?' in url else '?'}{query}"
