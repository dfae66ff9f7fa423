"""A local sandbox in a process of its own, so it outlives the clients the crash tests kill.

``python tests/support/crash_sandbox.py --user U --items N [--faults]`` stocks U with N items,
prints its port, then serves until killed. ``GET /_ledger`` answers what was executed:
``{"sold": {item_id: amount}, "executions": n, "buybacks": n, "dropped_after": n}``;
``POST /_hold?on=1`` holds every buyback at the door (a stalled API) until ``on=0``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import sys
from collections.abc import Awaitable, Callable

from aiohttp import web

from phygitals_async.testing import Fault, FaultPlan, SandboxState, make_app

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

TOPPS = "BSG6DyEihFFtfvxtL9mKYsvTwiZXB1rq5gARMTJC2xAM"


def faults(seed: int) -> FaultPlan:
    """Answers lost after the sale, server errors and half-written 2xx bodies."""
    plan = FaultPlan(random.Random(seed))  # noqa: S311  repeatable test faults
    for fault in (
        Fault.drop_after(route="vm/buyback", probability=0.03),
        Fault.drop_before(route="vm/buyback", probability=0.02),
        Fault.status(503, route="vm/buyback", probability=0.03),
        Fault.malformed_json(route="vm/buyback", probability=0.03),
    ):
        plan.add(fault)
    return plan


async def serve(args: argparse.Namespace) -> None:
    state = SandboxState(seed=args.seed)
    for start in range(0, args.items, 10):
        state.buy({"id": TOPPS, "amount": min(10, args.items - start), "user_id": args.user})
    plan = faults(args.seed + 1) if args.faults else FaultPlan(random.Random(0))  # noqa: S311
    if args.latency:
        plan.add(Fault.latency(args.latency, route="vm/buyback"))
    dropped = (
        plan.add(Fault.drop_after(route="vm/buyback", probability=args.drop_after))
        if args.drop_after
        else None
    )
    held = asyncio.Event()  # set: buybacks wait at the door (a stalled API)
    held.set()

    @web.middleware
    async def hold(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.endswith("/vm/buyback"):
            await held.wait()
            if request.transport is None or request.transport.is_closing():
                # Its client died while it waited: it never reaches the sale.
                raise web.HTTPServiceUnavailable
        return await handler(request)

    app = make_app(state, plan)
    app.middlewares.insert(0, hold)

    async def ledger(_: web.Request) -> web.Response:
        return web.json_response(
            {
                "sold": {k: str(v) for k, v in state.ledger.sold.items()},
                "executions": state.ledger.sellback_executions,
                "buybacks": state.ledger.requests["vm/buyback"],
                "dropped_after": 0 if dropped is None else dropped.fired,
            }
        )

    async def stall(request: web.Request) -> web.Response:
        if request.query.get("on") == "1":
            held.clear()
        else:
            held.set()
        return web.json_response({"held": not held.is_set()})

    app.router.add_get("/_ledger", ledger)
    app.router.add_post("/_hold", stall)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    sys.stdout.write(f"{sock.getsockname()[1]}\n")
    sys.stdout.flush()
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--user", required=True)
    parser.add_argument("--items", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--faults", action="store_true")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--drop-after", type=float, default=0.0)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
