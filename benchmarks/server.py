"""A minimal payload server for the benchmarks, run in its own process.

``python -m benchmarks.server`` prints its port, then serves until killed. The inventory of
the user ``large`` holds 10,000 items; every other user's holds 3.
"""

from __future__ import annotations

import asyncio
import socket
import sys

from aiohttp import web

from benchmarks import payloads

LARGE_ITEMS = 10_000  # the items of GET /inventory/large


async def serve() -> None:
    small, packs = payloads.inventory(3), payloads.packs()
    large: list[bytes] = []  # built on first use: the 10,000-item body takes a moment

    async def inventory(request: web.Request) -> web.Response:
        if request.match_info["user_id"] != "large":
            return web.Response(body=small, content_type="application/json")
        if not large:
            large.append(payloads.inventory(LARGE_ITEMS))
        return web.Response(body=large[0], content_type="application/json")

    async def available(_: web.Request) -> web.Response:
        return web.Response(body=packs, content_type="application/json")

    async def buyback(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=payloads.SELLBACK, content_type="application/json")

    app = web.Application()
    app.router.add_get("/_/api/v1/inventory/{user_id}", inventory)
    app.router.add_get("/_/api/v1/vm/available", available)
    app.router.add_post("/_/api/v1/vm/buyback", buyback)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    print(sock.getsockname()[1], flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        sys.exit(0)
