"""Pytest fixtures for the local sandbox: ``pip install 'phygitals-async[testing]'``.

Installed, the plugin registers itself (a ``pytest11`` entry point), so the fixtures are
there in every test; with ``PYTEST_DISABLE_PLUGIN_AUTOLOAD`` set, add
``pytest_plugins = ["phygitals_async.testing.pytest_plugin"]`` to the root ``conftest.py``.

Fixtures (each test gets fresh ones):

- ``phygitals_sandbox``: a running :class:`LocalSandbox` on the test's event loop (async).
- ``phygitals_client``: an :class:`AsyncPhygitals` pointed at it, closed after the test.
- ``phygitals_threaded_sandbox``: a :class:`LocalSandbox` on its own thread, for blocking code.
- ``phygitals_sync_client``: a blocking :class:`Phygitals` pointed at that one.
- ``phygitals_sandbox_options``: the keyword arguments given to both sandboxes; override it
  in a ``conftest.py`` (e.g. ``return {"seed": 7}``).

The async fixtures run on pytest-asyncio, in its strict mode (mark async tests with
``@pytest.mark.asyncio``) or auto mode, on the loop scope the project configures. Example::

    import pytest

    @pytest.mark.asyncio
    async def test_sell_back(phygitals_client, phygitals_sandbox):
        packs = await phygitals_client.list_packs()
        purchase = await phygitals_client.buy(packs[0].id, amount=1, user_id="u1")
        sale = await phygitals_client.sell_back(purchase.nfts[0].id)
        assert phygitals_sandbox.ledger.amount_paid == sale.amount
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the testing extra installs it
    pytest_asyncio = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from .._client import AsyncPhygitals
    from .._sync import Phygitals
    from ._server import LocalSandbox

__all__ = [
    "phygitals_client",
    "phygitals_sandbox",
    "phygitals_sandbox_options",
    "phygitals_sync_client",
    "phygitals_threaded_sandbox",
]

# The fixtures that need a running event loop, and so pytest-asyncio.
_ASYNC_FIXTURES = frozenset({"phygitals_sandbox", "phygitals_client"})
# The names pytest-asyncio's plugin is registered under (entry point, or `-p module`).
_ASYNCIO_PLUGIN_NAMES = ("asyncio", "pytest_asyncio.plugin", "pytest_asyncio")
_INSTALL_HINT = "pip install 'phygitals-async[testing]'"

_F = TypeVar("_F", bound=Callable[..., Any])


def _async_fixture(func: _F) -> _F:
    # Without pytest-asyncio the async fixtures are still defined (plain pytest fixtures),
    # so a test using them reaches pytest_runtest_setup below and gets the install hint,
    # not an unknown-fixture error or pytest's "async def functions are not supported".
    decorate = pytest_asyncio.fixture if pytest_asyncio is not None else pytest.fixture
    return cast("_F", decorate(func))


def _uses_async_fixtures(item: pytest.Item) -> list[str]:
    return sorted(_ASYNC_FIXTURES.intersection(getattr(item, "fixturenames", ())))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail a test that uses the async fixtures without pytest-asyncio, saying what to do."""
    used = _uses_async_fixtures(item)
    plugins = item.config.pluginmanager
    if used and not any(plugins.has_plugin(name) for name in _ASYNCIO_PLUGIN_NAMES):
        pytest.fail(
            f"{item.name} uses {', '.join(used)}, which need pytest-asyncio: {_INSTALL_HINT}"
            " (blocking tests can use phygitals_threaded_sandbox and phygitals_sync_client)",
            pytrace=False,
        )


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> None:
    """Explain an async test that pytest-asyncio's strict mode left unrun.

    pytest-asyncio swaps a test it runs for a plain function, so a coroutine function
    still here was not picked up: in strict mode that means it lacks the mark, and
    pytest's own message ("install a suitable plugin") would point the wrong way.
    """
    if (
        inspect.iscoroutinefunction(pyfuncitem.obj)
        and pyfuncitem.get_closest_marker("anyio") is None
    ):
        used = _uses_async_fixtures(pyfuncitem)
        if used:
            pytest.fail(
                f"{pyfuncitem.name} is an async test using {', '.join(used)}, but "
                "pytest-asyncio did not run it: in strict mode (its default) mark it "
                '@pytest.mark.asyncio, or set asyncio_mode = "auto" in the pytest '
                "configuration",
                pytrace=False,
            )


@pytest.fixture
def phygitals_sandbox_options() -> dict[str, Any]:
    """Keyword arguments for every sandbox the fixtures start; override to change them.

    Example, in a ``conftest.py``::

        @pytest.fixture
        def phygitals_sandbox_options():
            return {"seed": 7}
    """
    return {}


@_async_fixture
async def phygitals_sandbox(
    phygitals_sandbox_options: dict[str, Any],
) -> AsyncIterator[LocalSandbox]:
    """A running local sandbox on the test's event loop, fresh for each test."""
    from ._server import LocalSandbox  # noqa: PLC0415  pytest loads the plugin everywhere

    async with LocalSandbox(**phygitals_sandbox_options) as sandbox:
        yield sandbox


@_async_fixture
async def phygitals_client(phygitals_sandbox: LocalSandbox) -> AsyncIterator[AsyncPhygitals]:
    """An :class:`AsyncPhygitals` pointed at ``phygitals_sandbox``; closed after the test."""
    async with phygitals_sandbox.client() as client:
        yield client


@pytest.fixture
def phygitals_threaded_sandbox(
    phygitals_sandbox_options: dict[str, Any],
) -> Iterator[LocalSandbox]:
    """A local sandbox on its own event loop thread, so blocking code can call it."""
    from ._server import sandbox_in_thread  # noqa: PLC0415  pytest loads the plugin everywhere

    with sandbox_in_thread(**phygitals_sandbox_options) as sandbox:
        yield sandbox


@pytest.fixture
def phygitals_sync_client(phygitals_threaded_sandbox: LocalSandbox) -> Iterator[Phygitals]:
    """A blocking :class:`Phygitals` pointed at ``phygitals_threaded_sandbox``; closed after."""
    with phygitals_threaded_sandbox.sync_client() as client:
        yield client
