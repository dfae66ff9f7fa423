"""Clients created in a parent and used in a forked child (Celery prefork, gunicorn --preload).

Each child is a real ``os.fork()`` of the test process, reporting back through a pipe and
killed if it runs past its deadline, so a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support import TOPPS
from support.fork import in_child

import phygitals_async as p
from phygitals_async.testing import Fault, LocalSandbox

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX"),
    # 3.12+ warns that forking a threaded process may deadlock: the risk these tests measure.
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]


def test_a_client_created_before_the_fork_works_in_the_child(threaded: LocalSandbox) -> None:
    """Made at import time in the parent (no call yet), the client works in a forked child."""
    client = threaded.sync_client(timeout=5)
    threads = threading.active_count()
    # Nothing runs until the first call: a parent that forks workers holds no loop thread.
    assert threading.active_count() == threads

    def child() -> tuple[int, int]:
        purchase = client.buy(TOPPS, amount=2, user_id="kid")
        return len(purchase.nfts), len(client.inventory("kid").items)

    assert in_child(child) == (2, 2)
    assert threaded.ledger.purchases == 1
    with client:
        assert len(client.inventory("kid").items) == 2


def test_the_parent_keeps_its_loop_and_connections_after_a_child_used_the_client(
    threaded: LocalSandbox,
) -> None:
    """A parent that called before forking goes on unaffected by what its child does."""
    with threaded.sync_client(timeout=5) as client:
        first = client.buy(TOPPS, amount=1, user_id="u1")
        runner = client._runtime._runner

        def child() -> str:
            sale = client.sell_back(first.nfts[0])
            client.close()  # closes only the child's own loop and session
            return sale.item_id

        assert in_child(child) == first.nfts[0].id
        assert client._runtime._runner is runner
        # A POST is never resent: it succeeds only if the pooled connection is intact.
        again = client.buy(TOPPS, amount=1, user_id="u1")
        assert [i.id for i in client.inventory("u1").items] == [again.nfts[0].id]
        assert threaded.ledger.purchases == 2


def test_a_child_forked_while_the_parent_waits_on_a_request_works(
    threaded: LocalSandbox,
) -> None:
    """Forking while another parent thread is mid-request: the child still gets answers."""
    threaded.faults.add(Fault.latency(1.0, route="vm/available", count=1))
    with threaded.sync_client(timeout=10) as client:
        waiter = threading.Thread(target=client.list_packs)
        waiter.start()
        while not threaded.ledger.in_flight["vm/available"]:
            time.sleep(0.01)
        assert in_child(lambda: len(client.list_packs())) == 5
        waiter.join(timeout=10)
        assert not waiter.is_alive()
        assert len(client.list_packs()) == 5


def test_a_poll_handle_from_the_parent_fails_at_once_in_the_child(
    threaded: LocalSandbox,
) -> None:
    """A poll started in the parent runs there: the child gets a clear error, not a hang."""
    threaded.production.pending_polls = 10_000
    with threaded.sync_client(timeout=5) as client:
        purchase = client.buy(TOPPS, amount=1, user_id="u1")
        handle = client.poll_purchase(purchase.session_id, interval=0.01)
        with pytest.raises(p.ConfigurationError, match="started in the parent process"):
            in_child(lambda: handle.result(timeout=1))
        assert handle.cancel() is True


def test_a_closed_client_stays_closed_in_the_child(threaded: LocalSandbox) -> None:
    """Closing in the parent before the fork closes it for the child too, with a clear error."""
    client = threaded.sync_client()
    client.list_packs()
    client.close()
    with pytest.raises(p.ClientClosedError):
        in_child(client.list_packs)


def test_an_async_client_used_in_the_parent_works_in_the_childs_new_loop(
    threaded: LocalSandbox,
) -> None:
    """AsyncPhygitals awaited in a child's new event loop gets its own session there."""
    client = threaded.client(timeout=5)
    loop = asyncio.new_event_loop()
    try:
        assert len(loop.run_until_complete(client.list_packs())) == 5

        async def child_main() -> int:
            async with client:
                purchase = await client.buy(TOPPS, amount=1, user_id="kid")
                return len(purchase.nfts)

        assert in_child(lambda: asyncio.run(child_main())) == 1
        # The parent's session on the parent's loop is untouched by the child's close.
        assert len(loop.run_until_complete(client.inventory("kid")).items) == 1
    finally:
        loop.run_until_complete(client.aclose())
        loop.close()


def test_an_async_client_on_a_second_loop_is_a_phygitals_error(threaded: LocalSandbox) -> None:
    """A second event loop (as a second asyncio.run makes) gets a ConfigurationError."""
    client = threaded.client()
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(client.list_packs())
        with pytest.raises(p.ConfigurationError, match=r"asyncio\.run") as caught:
            asyncio.run(client.list_packs())
        assert isinstance(caught.value, p.PhygitalsError)
    finally:
        loop.run_until_complete(client.aclose())
        loop.close()


CHILD_EXITS_NORMALLY = """
import os, sys
import phygitals_async as p

client = p.Phygitals(timeout=5)  # module level, as in a Celery tasks module
if sys.argv[1] == "used":
    client.list_packs()
pid = os.fork()
if pid == 0:
    client.inventory("u1")
    sys.exit(0)  # the interpreter's own exit: atexit, finalizers, garbage collection
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
# A POST is never resent, so it fails if the child's exit broke the pooled connection.
client.buy(sys.argv[2], amount=1, user_id="u1")
print(len(client.inventory("u1").items))
client.close()
"""


@pytest.mark.parametrize("parent", ["used", "unused"])
def test_a_child_exiting_normally_neither_hangs_nor_harms_the_parent(
    threaded: LocalSandbox, parent: str, tmp_path: Path
) -> None:
    """A child that exits through the interpreter's shutdown leaves the parent's pool intact."""
    with threaded.sync_client() as seed:
        seed.buy(TOPPS, amount=3, user_id="u1")
    script = tmp_path / "forks.py"
    script.write_text(CHILD_EXITS_NORMALLY)
    env = {**os.environ, "PHYGITALS_API_KEY": "sandbox-x", "PHYGITALS_BASE_URL": threaded.url}
    script_run = subprocess.Popen(  # noqa: S603  our interpreter, our script
        [sys.executable, "-X", "dev", str(script), parent, TOPPS],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its forked child too is killed if it hangs
    )
    try:
        stdout, stderr = script_run.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(script_run.pid, signal.SIGKILL)
        script_run.communicate()
        pytest.fail("the script or its forked child hung")
    assert script_run.returncode == 0, stderr
    assert stdout.strip() == "4"
    # The child's unclosed client warns (dev mode shows it); nothing of the parent's does.
    assert "Unclosed client session" not in stderr
    assert "Unclosed connector" not in stderr


def test_an_iterator_from_the_parent_is_refused_in_the_child_at_once(
    threaded: LocalSandbox,
) -> None:
    """A blocking iter_sell_back started before the fork: a clear error in the child, no hang."""
    with threaded.sync_client(timeout=5) as client:
        items = client.buy(TOPPS, amount=3, user_id="u1").nfts
        outcomes = client.iter_sell_back(items, concurrency=1)
        first = next(outcomes)

        def child() -> str:
            try:
                next(outcomes)
            except p.ConfigurationError as exc:
                return str(exc)
            return "no error"

        assert "started in the parent process" in in_child(child)
        rest = list(outcomes)  # the parent's iterator goes on
    assert sorted(o.item_id for o in [first, *rest]) == sorted(i.id for i in items)
