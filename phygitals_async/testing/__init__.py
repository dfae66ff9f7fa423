"""A local Phygitals sandbox for tests and demos: real HTTP on loopback, no key, no network.

It implements every partner endpoint with the hosted sandbox's rules and exact error
strings, keeps state in memory, and adds what the hosted sandbox cannot: a controllable
clock, production-only behaviours on request, fault injection, and a ledger of what was
actually executed. :class:`FakeTime` makes a client's own waits (backoff, polling) instant.

Example::

    from phygitals_async.testing import Fault, LocalSandbox

    async with LocalSandbox(seed=1) as sandbox, sandbox.client() as client:
        packs = await client.list_packs()
        sandbox.faults.add(Fault.status(503, route="inventory", count=1))

For pytest, ``pip install 'phygitals-async[testing]'``: the plugin registers itself and
provides the ``phygitals_sandbox``, ``phygitals_client``, ``phygitals_threaded_sandbox`` and
``phygitals_sync_client`` fixtures (see :mod:`phygitals_async.testing.pytest_plugin`).

A sandbox in another process (``phygitals sandbox --admin``) shows its ledger to
:func:`fetch_ledger`.
"""

from ._admin import fetch_ledger
from ._app import make_app
from ._clock import SandboxClock
from ._faults import Fault, FaultKind, FaultPlan
from ._ledger import Ledger
from ._postgres import TemporaryPostgres, find_postgres_bin
from ._server import DEFAULT_KEY, LocalSandbox, sandbox_in_thread
from ._state import ProductionBehaviours, Reject, SandboxState
from ._time import FakeTime

__all__ = [
    "DEFAULT_KEY",
    "FakeTime",
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
    "fetch_ledger",
    "find_postgres_bin",
    "make_app",
    "sandbox_in_thread",
]
