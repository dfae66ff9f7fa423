"""Shared fixtures: a local sandbox over real loopback HTTP, and a client with fake time.

Decoding runs strict here by default, so a field the sandbox or a fixture sends that the
models do not know fails the test instead of being ignored. ``PHYGITALS_STRICT_DECODING=0``
runs the suite in production mode instead (the second pass of ``.ci/run`` does).
"""

from __future__ import annotations

import itertools
import os
import signal
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from aiohttp import web

os.environ.setdefault("PHYGITALS_STRICT_DECODING", "1")

from support import FakeTime, Recorder

from phygitals_async import AsyncPhygitals, Phygitals
from phygitals_async.testing import LocalSandbox, TemporaryPostgres, sandbox_in_thread

pytest_plugins = ["phygitals_async.testing.pytest_plugin"]


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


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest_asyncio.fixture
async def client(sandbox: LocalSandbox, fake_time: FakeTime) -> AsyncIterator[AsyncPhygitals]:
    """A sandbox client whose backoff and polling sleeps advance ``fake_time`` instantly."""
    async with sandbox.client() as c:
        fake_time.attach(c)
        yield c


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


@pytest.fixture(autouse=True, scope="session")
def _children_take_ctrl_c() -> Iterator[None]:
    """Child processes the tests interrupt start with Ctrl+C at its default.

    A process started in the background by a non-interactive shell (a CI runner, `cmd &`)
    inherits SIGINT ignored, and so would every child it starts: a signal sent to one
    would do nothing. With a handler here, children start with the default instead.
    """
    before = signal.getsignal(signal.SIGINT)
    if before is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if before is signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
