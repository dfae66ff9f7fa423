"""A local sandbox in a process of its own, driven over stdin, for tests with worker fleets.

Prints ``URL <base url>`` once listening, then answers one command per stdin line:

- ``faults``: turn on the fleet tests' mix of buyback and inventory faults;
- ``ledger``: print one JSON line ``{"sold": {item_id: "amount"}, "executions": n}``;
- end of input: stop.
"""

from __future__ import annotations

import json
import sys

from anyio.from_thread import start_blocking_portal

from phygitals_async.testing import Fault, LocalSandbox

BUSY = {"error": "A buyback request for this item is already being processed"}


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def faults(sandbox: LocalSandbox) -> None:
    for fault in (
        Fault.latency(0.02, route="vm/buyback"),
        Fault.drop_after(route="vm/buyback", probability=0.02),
        Fault.drop_before(route="vm/buyback", probability=0.01),
        Fault.status(503, route="vm/buyback", probability=0.02),
        Fault.malformed_json(route="vm/buyback", probability=0.01),
        Fault.status(429, route="vm/buyback", probability=0.02, retry_after=0, body=BUSY),
        Fault.status(503, route="inventory", probability=0.1),
    ):
        sandbox.faults.add(fault)


def main() -> None:
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    with start_blocking_portal("asyncio") as portal:
        sandbox = LocalSandbox(seed=seed)
        portal.call(sandbox.start)
        say(f"URL {sandbox.url}")
        try:
            for line in sys.stdin:
                command = line.strip()
                if command == "faults":
                    portal.call(lambda: faults(sandbox))
                    say("ok")
                elif command == "ledger":
                    ledger = portal.call(
                        lambda: {
                            "sold": {k: str(v) for k, v in sandbox.ledger.sold.items()},
                            "executions": sandbox.ledger.sellback_executions,
                        }
                    )
                    say(json.dumps(ledger))
        finally:
            portal.call(sandbox.stop)


if __name__ == "__main__":
    main()
