"""Running the local sandbox on a loopback port."""

from __future__ import annotations

import contextlib
import random
import socket
from collections.abc import Iterator
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from anyio.from_thread import start_blocking_portal

from .._client import AsyncPhygitals
from .._sync import Phygitals
from ._app import make_app
from ._faults import FaultPlan
from ._state import Ledger, ProductionBehaviours, SandboxClock, SandboxState

__all__ = ["DEFAULT_KEY", "LocalSandbox", "sandbox_in_thread"]

DEFAULT_KEY = "sandbox-local"


class LocalSandbox:
    """A local Phygitals sandbox on a loopback port, with the hosted sandbox's rules.

    Example::

        async with LocalSandbox(seed=7) as sandbox:
            async with sandbox.client() as client:
                packs = await client.list_packs()
            sandbox.clock.advance(days=8)          # every item is now past its window
            sandbox.faults.add(Fault.drop_after(route="vm/buyback", count=1))
            assert sandbox.ledger.amount_paid == 0

    Args:
        seed: makes pulls, ids and probabilistic faults repeatable.
        host: the address to listen on (loopback by default).
        port: the port; 0 picks a free one.
        start_time: a fixed sandbox time; by default the real time (plus any ``advance``).
        api_keys: the keys accepted; by default any key starting with ``sandbox-``.
        admin: also serve ``GET /_sandbox/ledger``, so tests in another process can read
            the ledger (see :func:`fetch_ledger`); off unless asked.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        start_time: datetime | None = None,
        api_keys: frozenset[str] | None = None,
        admin: bool = False,
    ) -> None:
        self.clock: SandboxClock = SandboxClock(start_time)
        self.state: SandboxState = SandboxState(seed=seed, clock=self.clock)
        self.faults: FaultPlan = FaultPlan(random.Random(seed + 1))  # noqa: S311  repeatable test faults
        self.host = host
        self.port: int = port
        self._api_keys = api_keys
        self._admin = admin
        self._runner: web.AppRunner | None = None

    @property
    def ledger(self) -> Ledger:
        """What the sandbox actually executed (purchases, sales, amounts, requests)."""
        return self.state.ledger

    @property
    def production(self) -> ProductionBehaviours:
        """Switches for production-only behaviours (pending polls, 429s, failures)."""
        return self.state.production

    @property
    def root_url(self) -> str:
        """``http://host:port``, serving ``/api/v1`` and ``/_/api/v1``."""
        if self._runner is None:
            msg = "the sandbox is not running; use 'async with LocalSandbox()' or start()"
            raise RuntimeError(msg)
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The base URL for a client: the sandbox prefix, as the hosted sandbox has."""
        return self.root_url + "/_"

    async def start(self) -> None:
        """Listen on the configured (or a free) port."""
        app = make_app(self.state, self.faults, api_keys=self._api_keys, admin=self._admin)
        # A test server stops at once: handlers stalled by injected latency are not awaited.
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.1)
        await runner.setup()
        try:
            sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((self.host, self.port))
                port = int(sock.getsockname()[1])
                await web.SockSite(runner, sock).start()
            except BaseException:
                sock.close()  # a busy port must not leave the socket open behind the error
                raise
        except BaseException:
            await runner.cleanup()
            raise
        self.port = port
        self._runner = runner

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def client(self, api_key: str = DEFAULT_KEY, **options: Any) -> AsyncPhygitals:
        """An :class:`AsyncPhygitals` pointed at this sandbox (options as the constructor's)."""
        options.setdefault("base_url", self.url)
        return AsyncPhygitals(api_key=api_key, **options)

    def sync_client(self, api_key: str = DEFAULT_KEY, **options: Any) -> Phygitals:
        """A blocking :class:`Phygitals` pointed at this sandbox.

        The sandbox must run in another thread than the caller's (see
        :func:`sandbox_in_thread`), or the blocked caller would stall the server too.
        """
        options.setdefault("base_url", self.url)
        return Phygitals(api_key=api_key, **options)


@contextlib.contextmanager
def sandbox_in_thread(**options: Any) -> Iterator[LocalSandbox]:
    """Run a :class:`LocalSandbox` on its own event loop thread, for blocking code's tests.

    Example::

        with sandbox_in_thread(seed=3) as sandbox, sandbox.sync_client() as client:
            client.list_packs()
    """
    with start_blocking_portal("asyncio") as portal:
        sandbox = LocalSandbox(**options)
        portal.call(sandbox.start)
        try:
            yield sandbox
        finally:
            portal.call(sandbox.stop)
