"""Running the local sandbox on a loopback port."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import random
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from .._client import AsyncPhygitals
from .._sync import Phygitals
from ._app import make_app
from ._clock import SandboxClock
from ._control import SandboxControl
from ._dashboard import DASHBOARD_PATH
from ._faults import Fault, FaultPlan
from ._ledger import Ledger
from ._state import ProductionBehaviours, SandboxState

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
        dashboard: serve the live dashboard page at :attr:`dashboard_url` and its JSON
            control API under ``/_sandbox/api/``; on unless turned off.
        initial_faults: fault rules active from the start, and again after :meth:`reset`.
        production: production-only behaviours from the start (and after :meth:`reset`).
    """

    def __init__(  # noqa: PLR0913  keyword-only options of a test double, each defaulted
        self,
        *,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        start_time: datetime | None = None,
        api_keys: frozenset[str] | None = None,
        admin: bool = False,
        dashboard: bool = True,
        initial_faults: Sequence[Fault] = (),
        production: ProductionBehaviours | None = None,
    ) -> None:
        self.clock: SandboxClock = SandboxClock(start_time)
        self.state: SandboxState = SandboxState(seed=seed, clock=self.clock)
        if production is not None:
            self.state.production = production
        self.faults: FaultPlan = FaultPlan(random.Random(seed + 1))  # noqa: S311  repeatable test faults
        self.control: SandboxControl = SandboxControl(
            self.state, self.faults, initial_faults=initial_faults
        )
        self.host = host
        self.port: int = port
        self._api_keys = api_keys
        self._admin = admin
        self._dashboard = dashboard
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

    @property
    def dashboard_url(self) -> str:
        """The live dashboard page, ``http://host:port/_sandbox/`` (see the README)."""
        if not self._dashboard:
            msg = "this sandbox was started with dashboard=False"
            raise RuntimeError(msg)
        return self.root_url + DASHBOARD_PATH

    def reset(self) -> None:
        """Back to a fresh sandbox with the same seed: no users, purchases, sales or orders.

        The clock returns to its start, the faults to ``initial_faults`` and the production
        behaviours to those given at construction; the dashboard's "Reset" does the same.
        """
        self.control.reset()

    def seed_items(self, user_id: str, count: int = 1) -> list[str]:
        """Give ``user_id`` ``count`` (1 to 1000) new items, as if bought now; their ids.

        No purchase is recorded in the ledger: the items are simply there, so a test can
        start from a stocked inventory. The dashboard's "Seed items" does the same.
        """
        return self.control.seed_items(user_id, count)

    async def start(self) -> None:
        """Listen on the configured (or a free) port."""
        app = make_app(
            self.state,
            self.faults,
            api_keys=self._api_keys,
            admin=self._admin,
            dashboard=self._dashboard,
            control=self.control,
        )
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
    sandbox = LocalSandbox(**options)
    started: concurrent.futures.Future[Callable[[], object]] = concurrent.futures.Future()
    stopped: concurrent.futures.Future[None] = concurrent.futures.Future()

    def serve() -> None:
        # As asyncio.run: at the end, tasks still pending (requests the server holds) are
        # cancelled and awaited before the loop closes.
        with asyncio.Runner() as runner:
            try:
                runner.run(sandbox.start())
            except BaseException as exc:  # noqa: BLE001  raised in the caller's thread
                started.set_exception(exc)
                return
            loop, ended = runner.get_loop(), asyncio.Event()
            started.set_result(lambda: loop.call_soon_threadsafe(ended.set))
            runner.run(ended.wait())  # until the block ends
            try:
                runner.run(sandbox.stop())
            except BaseException as exc:  # noqa: BLE001  raised in the caller's thread
                stopped.set_exception(exc)
            else:
                stopped.set_result(None)

    parent = os.getpid()
    thread = threading.Thread(target=serve, name="phygitals-sandbox", daemon=True)
    thread.start()
    end = started.result()
    try:
        yield sandbox
    finally:
        # A child forked inside the block has no copy of the server's thread: the server
        # is the parent's to stop, and waiting for that thread here would never end.
        if os.getpid() == parent:
            end()
            thread.join()
            stopped.result()
