"""``phygitals sandbox``: serve a local sandbox until interrupted, for another process's app.

It lives with the sandbox so that the command line is the only production module that
reaches into :mod:`phygitals_async.testing`, and only for the sandbox commands.
"""

from __future__ import annotations

import asyncio
import errno
import sys

from .._cli_common import CommandError
from .._output import print_json_line
from ._server import LocalSandbox

__all__ = ["serve"]


async def serve(
    *,
    host: str,
    port: int,
    seed: int,
    admin: bool = False,
    json_lines: bool,
    serve_for: float | None,
) -> None:
    """Serve on ``host:port`` until cancelled, or for ``serve_for`` seconds when given.

    Prints where it listens (a JSON line with ``json_lines``) once it is ready; a port in
    use or an address that cannot be bound is a :class:`CommandError`. With ``admin`` the
    ledger is served at ``GET /_sandbox/ledger`` too, and its URL printed.
    """
    sandbox = LocalSandbox(host=host, port=port, seed=seed, admin=admin)
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
        raise CommandError(msg) from exc
    try:
        ledger_url = f"{sandbox.root_url}/_sandbox/ledger" if admin else None
        if json_lines:
            info = {"url": sandbox.url, "root_url": sandbox.root_url, "api_key": "sandbox-local"}
            print_json_line(info if ledger_url is None else {**info, "ledger_url": ledger_url})
        else:
            print(f"local sandbox on {sandbox.root_url} (also under /_); any 'sandbox-' key works")
            print(f"  export PHYGITALS_API_KEY=sandbox-local PHYGITALS_BASE_URL={sandbox.url}")
            if ledger_url is not None:
                print(f"  ledger: GET {ledger_url} (fetch_ledger reads it)")
        sys.stdout.flush()
        if serve_for is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(serve_for)
    finally:
        await sandbox.stop()
