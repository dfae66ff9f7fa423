"""Pytest fixtures for the local sandbox (needs pytest-asyncio).

Enable in a ``conftest.py``::

    pytest_plugins = ["phygitals_async.testing.pytest_plugin"]

    async def test_inventory(phygitals_client, phygitals_sandbox):
        purchase = await phygitals_client.buy(PACK, amount=1, user_id="u1")
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from .._client import AsyncPhygitals
from ._server import LocalSandbox

__all__ = ["phygitals_client", "phygitals_sandbox"]


@pytest_asyncio.fixture
async def phygitals_sandbox() -> AsyncIterator[LocalSandbox]:
    """A running local sandbox, fresh for each test."""
    async with LocalSandbox() as sandbox:
        yield sandbox


@pytest_asyncio.fixture
async def phygitals_client(phygitals_sandbox: LocalSandbox) -> AsyncIterator[AsyncPhygitals]:
    """An :class:`AsyncPhygitals` pointed at ``phygitals_sandbox``; closed after the test."""
    async with phygitals_sandbox.client() as client:
        yield client
