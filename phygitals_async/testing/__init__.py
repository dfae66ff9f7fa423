"""A local Phygitals sandbox for tests and demos: real HTTP on loopback, no key, no network.

It implements every partner endpoint with the hosted sandbox's rules and exact error
strings, keeps state in memory, and adds what the hosted sandbox cannot: a controllable
clock, production-only behaviours on request, fault injection, and a ledger of what was
actually executed.

Example::

    from phygitals_async.testing import Fault, LocalSandbox

    async with LocalSandbox(seed=1) as sandbox, sandbox.client() as client:
        packs = await client.list_packs()
        sandbox.faults.add(Fault.status(503, route="inventory", count=1))

For pytest, add ``pytest_plugins = ["phygitals_async.testing.pytest_plugin"]`` to a
``conftest.py`` to get the ``phygitals_sandbox`` and ``phygitals_client`` fixtures.
"""

from ._app import make_app
from ._faults import Fault, FaultKind, FaultPlan
from ._postgres import TemporaryPostgres, find_postgres_bin
from ._server import DEFAULT_KEY, LocalSandbox, sandbox_in_thread
from ._state import Ledger, ProductionBehaviours, Reject, SandboxClock, SandboxState

__all__ = [
    "DEFAULT_KEY",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "Ledger",
    "LocalSandbox",
    "ProductionBehaviours",
    "Reject",
    "SandboxClock",
    "SandboxState",
    "TemporaryPostgres",
    "find_postgres_bin",
    "make_app",
    "sandbox_in_thread",
]
