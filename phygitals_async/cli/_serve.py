"""``phygitals sandbox``: serve a local sandbox until interrupted, for another process's app.

The command line is the only part of the package that imports
:mod:`phygitals_async.testing`, and only for the sandbox commands; the kit needs nothing of
the command line back. A failure to listen is a :class:`ServeError` that the command line
words as its own.
"""

from __future__ import annotations

import asyncio
import errno
import sys
from collections.abc import Sequence

from ..testing import DEFAULT_KEY, Fault, LocalSandbox, ProductionBehaviours
from ..testing._specs import parse_duration, parse_fault_spec
from ._output import print_json_line

__all__ = ["ServeError", "parse_duration", "parse_fault_spec", "serve"]


class ServeError(Exception):
    """The sandbox cannot listen where it was asked to; the message says what to do."""


async def serve(  # noqa: PLR0913  the command's options, passed through by name
    *,
    host: str,
    port: int,
    seed: int,
    admin: bool = False,
    json_lines: bool,
    serve_for: float | None,
    dashboard: bool = True,
    latency: float | None = None,
    faults: Sequence[Fault] = (),
    pending_polls: int = 0,
) -> None:
    """Serve on ``host:port`` until cancelled, or for ``serve_for`` seconds when given.

    Prints where it listens (a JSON line with ``json_lines``) once it is ready; a port in
    use or an address that cannot be bound is a :class:`ServeError`. With ``admin`` the
    ledger is served at ``GET /_sandbox/ledger`` too, and its URL printed. ``latency``
    (seconds), ``faults`` and ``pending_polls`` are active from the start and after a reset.
    """
    initial = [*([Fault.latency(latency)] if latency else []), *faults]
    sandbox = LocalSandbox(
        host=host,
        port=port,
        seed=seed,
        admin=admin,
        dashboard=dashboard,
        initial_faults=initial,
        production=ProductionBehaviours(pending_polls=pending_polls),
    )
    try:
        await sandbox.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            msg = (
                f"port {port} on {host} is already in use; "
                "choose another with --port (0 picks a free one)"
            )
        else:
            msg = f"cannot serve on {host} port {port}: {exc.strerror or exc}"
        raise ServeError(msg) from exc
    try:
        _announce(sandbox, admin=admin, dashboard=dashboard, json_lines=json_lines)
        if serve_for is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(serve_for)
    finally:
        await sandbox.stop()


def _announce(sandbox: LocalSandbox, *, admin: bool, dashboard: bool, json_lines: bool) -> None:
    ledger_url = f"{sandbox.root_url}/_sandbox/ledger" if admin else None
    dashboard_url = sandbox.dashboard_url if dashboard else None
    if json_lines:
        info = {"url": sandbox.url, "root_url": sandbox.root_url, "api_key": DEFAULT_KEY}
        if dashboard_url is not None:
            info["dashboard_url"] = dashboard_url
        print_json_line(info if ledger_url is None else {**info, "ledger_url": ledger_url})
    else:
        print(f"local sandbox on {sandbox.root_url} (also under /_); any 'sandbox-' key works")
        print(f"  export PHYGITALS_API_KEY={DEFAULT_KEY} PHYGITALS_BASE_URL={sandbox.url}")
        # The ledger's line keeps its place (third) from before the dashboard existed.
        if ledger_url is not None:
            print(f"  ledger: GET {ledger_url} (fetch_ledger reads it)")
        if dashboard_url is not None:
            print(f"  dashboard: {dashboard_url} (control API under {dashboard_url}api/)")
        for fault in sandbox.faults.rules:
            print(f"  fault: {fault.kind.value} on {fault.route or 'every route'}")
        if sandbox.production.pending_polls:
            print(f"  buy/status answers pending {sandbox.production.pending_polls} time(s)")
    sys.stdout.flush()
