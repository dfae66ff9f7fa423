"""Fake time for a client: its waits return at once and move a clock that only it reads."""

from __future__ import annotations

from typing import Self

import attrs

from .._client import AsyncPhygitals
from .._sync import Phygitals

__all__ = ["FakeTime"]


class FakeTime:
    """A clock that moves only when the client waits, so no test waits on real time.

    Attached to a client, every wait the client makes (backoff between retries, a
    ``Retry-After``, the interval between polls) returns at once and moves :attr:`now`
    forward by its length instead; deadlines (``timeout=``) are measured on the same clock.
    :attr:`sleeps` lists every wait, in order. Subclass and override :meth:`sleep` to act
    on each wait (e.g. let another task run first).

    ``jitter`` fixes the random part of backoff (0.0 gives the shortest step, 1.0 the
    longest); ``None`` keeps it random.

    Example::

        from phygitals_async.testing import FakeTime, Fault, LocalSandbox

        async with LocalSandbox() as sandbox, sandbox.client() as client:
            time = FakeTime(jitter=1.0).attach(client)
            sandbox.faults.add(Fault.status(503, route="vm/available", count=2))
            await client.list_packs()
            assert time.sleeps == [0.5, 1.0]
    """

    def __init__(self, *, start: float = 1000.0, jitter: float | None = None) -> None:
        self.now: float = start
        self.sleeps: list[float] = []
        self.jitter = jitter

    def clock(self) -> float:
        """The current fake time, in seconds."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Record the wait and move the clock past it, without waiting."""
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        """Move the clock forward, as if ``seconds`` had passed."""
        self.now += seconds

    def attach(self, client: AsyncPhygitals | Phygitals) -> Self:
        """Make ``client`` (async or blocking) wait and keep deadlines on this clock.

        Returns this fake time. Views made by ``with_options`` after this share the fake
        time; views made before keep their own.
        """
        # Ours to reach into: the blocking client holds one async client, which holds the
        # transport whose settings carry the time every deadline and wait uses.
        inner = client._client if isinstance(client, Phygitals) else client  # noqa: SLF001
        transport = inner._transport  # noqa: SLF001
        settings = attrs.evolve(transport.settings, clock=self.clock, sleep=self.sleep)
        if self.jitter is not None:
            fixed = self.jitter
            settings = attrs.evolve(settings, jitter=lambda: fixed)
        transport.settings = settings
        return self
