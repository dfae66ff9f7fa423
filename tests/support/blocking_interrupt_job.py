"""A blocking journaled bulk sellback that the test interrupts with a real SIGINT.

``python tests/support/blocking_interrupt_job.py BASE_URL JOURNAL USER`` runs
``Phygitals.sell_back_many`` in the main thread. On Ctrl+C it makes one more call, closes
the client and prints, as one JSON line, what is left of the SDK in the process: the
threads still running and the open file descriptors of the journal.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

from phygitals_async import Phygitals


def journal_fds(journal: str) -> list[str]:
    """The open descriptors of this process that point at the journal or its side files."""
    found = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:  # closed between the listing and the look
            continue
        if target.startswith(journal):
            found.append(target)
    return found


def main(base_url: str, journal: str, user: str) -> None:
    client = Phygitals(api_key="sandbox-crash", base_url=base_url, timeout=30)
    outcome = "finished"
    try:
        ids = [item.id for item in client.inventory(user).items]
        sys.stdout.write("started\n")
        sys.stdout.flush()
        try:
            client.sell_back_many(ids, journal=journal, concurrency=8)
        finally:
            # The job is over, whichever way: a late signal must not cut the report short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    except KeyboardInterrupt:
        outcome = "interrupted"
        client.list_packs()  # the client still works after the interrupt
    finally:
        client.close()
    threads = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    left = {"outcome": outcome, "threads": threads, "fds": journal_fds(journal)}
    sys.stdout.write(json.dumps(left) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], str(Path(sys.argv[2]).resolve()), sys.argv[3])
