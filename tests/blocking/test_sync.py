"""The generated blocking facade: parity, freshness, threads, running loops, lifecycle."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import importlib.util
import inspect
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from support import ADDRESS, TOPPS, wait_until

import phygitals_async as p
from phygitals_async.testing import Fault, LocalSandbox

ROOT = Path(__file__).resolve().parents[2]


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def test_every_async_method_has_a_blocking_twin() -> None:
    """Phygitals has each public AsyncPhygitals method with the same parameters."""
    async_methods = public_methods(p.AsyncPhygitals)
    sync_methods = public_methods(p.Phygitals)
    async_methods["close"] = async_methods.pop("aclose")
    assert async_methods.keys() == sync_methods.keys()
    for name, signature in async_methods.items():
        theirs = sync_methods[name].parameters
        assert [(q.name, q.kind, q.default) for q in signature.parameters.values()] == [
            (q.name, q.kind, q.default) for q in theirs.values()
        ], name
    init_async = inspect.signature(p.AsyncPhygitals.__init__).parameters
    init_sync = inspect.signature(p.Phygitals.__init__).parameters
    assert list(init_async) == list(init_sync)


def test_generated_facade_is_fresh() -> None:
    """scripts/gen_sync.py --check passes: _sync.py matches the async client."""
    # The generator formats with ruff, a lint tool of the `dev` extra; .ci/run has it.
    pytest.importorskip("ruff", reason="gen_sync.py formats with ruff (the dev extra)")
    result = subprocess.run(  # noqa: S603  our own interpreter and script
        [sys.executable, str(ROOT / "scripts" / "gen_sync.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def _gen_sync() -> Any:
    spec = importlib.util.spec_from_file_location("gen_sync", ROOT / "scripts" / "gen_sync.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("table", "dead"),
    [
        ("RETURNS", (r"\bNoSuchType\[", "Nothing[")),
        ("DOC_REWRITES", ("no such phrase", "")),
        ("CLASS_DOC_REWRITES", ("no such phrase", "")),
    ],
)
def test_generator_fails_on_a_rule_that_matches_nothing(table: str, dead: tuple[str, str]) -> None:
    gen_sync = _gen_sync()
    getattr(gen_sync, table).append(dead)
    with pytest.raises(gen_sync.UnusedRuleError, match=re.escape(dead[0])):
        gen_sync.generate()


def test_generator_fails_on_a_docstring_override_that_changes_nothing() -> None:
    gen_sync = _gen_sync()
    gen_sync.SYNC_DOCS["card"] = inspect.getdoc(p.AsyncPhygitals.card)
    with pytest.raises(gen_sync.UnusedRuleError, match="SYNC_DOCS card"):
        gen_sync.generate()
    gen_sync.SYNC_DOCS["no_such_method"] = "Never copied."
    with pytest.raises(gen_sync.UnusedRuleError, match="SYNC_DOCS no_such_method"):
        gen_sync.generate()


def test_generator_fails_on_a_special_case_for_a_name_that_is_gone() -> None:
    gen_sync = _gen_sync()
    gen_sync.SYNC_BODIES["no_such_method"] = "return None"
    with pytest.raises(gen_sync.UnusedRuleError, match="SYNC_BODIES no_such_method"):
        gen_sync.generate()
    gen_sync = _gen_sync()
    gen_sync.ASYNC_ONLY = gen_sync.ASYNC_ONLY | {"no_such_property"}
    with pytest.raises(gen_sync.UnusedRuleError, match="ASYNC_ONLY no_such_property"):
        gen_sync.generate()
    gen_sync = _gen_sync()
    gen_sync.REWRITTEN_NAMES.add("NoSuchName")
    with pytest.raises(gen_sync.UnusedRuleError, match="REWRITTEN_NAMES NoSuchName"):
        gen_sync.generate()


def test_full_flow_blocking(threaded: LocalSandbox, sync_client: p.Phygitals) -> None:
    """Buy, wait, inventory, sell, quote, ship and look up the order without await."""
    purchase = sync_client.buy(TOPPS, amount=3, user_id="u1")
    result = sync_client.wait_for_purchase(purchase.session_id, interval=0)
    assert len(result.nfts) == 3
    inventory = sync_client.inventory("u1")
    sale = sync_client.sell_back(inventory.items[0])
    assert sale.amount == inventory.items[0].buyback_price
    quote = sync_client.ship_quote([inventory.items[1]], destination=ADDRESS)
    order = sync_client.ship_order(sync_client.ship_request(quote.cheapest).order_id)
    assert order.status is p.OrderStatus.QUEUED
    assert threaded.ledger.orders_created == 1
    with pytest.raises(p.ItemNotFoundError):
        sync_client.sell_back(inventory.items[0])


def test_many_threads_share_one_client(threaded: LocalSandbox, sync_client: p.Phygitals) -> None:
    """16 threads x 50 calls on one client all succeed."""
    sync_client.buy(TOPPS, amount=1, user_id="u1")

    def work(_: int) -> int:
        return sum(len(sync_client.inventory("u1").items) for _ in range(50))

    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(work, range(16))) == [50] * 16
    assert threaded.ledger.requests["inventory"] == 800


def test_works_inside_a_running_event_loop(sync_client: p.Phygitals) -> None:
    """A coroutine may call the blocking client (the Jupyter case): it has its own loop."""

    async def notebook_cell() -> int:
        return len(sync_client.list_packs())

    assert asyncio.run(notebook_cell()) == 5


def test_poll_handle_blocks_for_the_result(
    threaded: LocalSandbox, sync_client: p.Phygitals
) -> None:
    """poll_purchase returns a blocking handle: result(), done(), last_status, session_id."""
    threaded.production.pending_polls = 2
    purchase = sync_client.buy(TOPPS, amount=1, user_id="u1")
    handle = sync_client.poll_purchase(purchase.session_id, interval=0)
    assert handle.session_id == purchase.session_id
    result = handle.result(timeout=10)
    assert result.session_id == purchase.session_id
    assert handle.done()
    assert handle.last_status == result
    assert handle.cancel() is False


def test_poll_handle_cancel_and_result_timeout(
    threaded: LocalSandbox, sync_client: p.Phygitals
) -> None:
    """result(timeout) raises TimeoutError leaving the poll running; cancel() stops it."""
    threaded.production.pending_polls = 10_000
    threaded.faults.add(Fault.latency(30, route="vm/buy/status"))
    purchase = sync_client.buy(TOPPS, amount=1, user_id="u1")
    handle = sync_client.poll_purchase(purchase.session_id, interval=0)
    with pytest.raises(TimeoutError):
        handle.result(timeout=0.05)
    assert not handle.done()
    assert handle.cancel() is True
    assert handle.done()


def test_a_finished_poll_keeps_its_outcome_after_close(sync_client: p.Phygitals) -> None:
    """After close(), a poll that ended still gives its result; cancel() is a no-op."""
    purchase = sync_client.buy(TOPPS, amount=1, user_id="u1")
    handle = sync_client.poll_purchase(purchase.session_id, interval=0)
    result = handle.result(timeout=10)
    sync_client.close()
    assert handle.result() == result
    assert (handle.done(), handle.cancelled(), handle.cancel()) == (True, False, False)


def test_a_wait_that_timed_out_leaves_no_unread_error(
    threaded: LocalSandbox, sync_client: p.Phygitals, caplog: pytest.LogCaptureFixture
) -> None:
    """result(timeout) that gives up, then result(): the poll's error is read, not logged."""
    threaded.production.pending_polls = 10_000
    threaded.faults.add(Fault.latency(30, route="vm/buy/status"))
    purchase = sync_client.buy(TOPPS, amount=1, user_id="u1")
    handle = sync_client.poll_purchase(purchase.session_id, interval=0, timeout=0.3)
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        with pytest.raises(TimeoutError):
            handle.result(timeout=0.05)
        with pytest.raises(p.PollTimeoutError):
            handle.result(timeout=10)
        sync_client.close()
        gc.collect()
        with pytest.raises(p.PollTimeoutError):  # kept after close
            handle.result()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]


def test_bulk_sellback_reports_progress(sync_client: p.Phygitals) -> None:
    """sell_back_many works blocking and on_progress fires for each item."""
    for _ in range(3):
        sync_client.buy(TOPPS, amount=10, user_id="u1")
    inventory = sync_client.inventory("u1")
    progress: list[int] = []
    report = sync_client.sell_back_many(
        inventory, concurrency=8, on_progress=lambda done, _: progress.append(done)
    )
    assert len(report.succeeded) == 30
    assert progress == list(range(31))


def test_iter_sell_back_is_a_plain_iterator(sync_client: p.Phygitals) -> None:
    """iter_sell_back yields outcomes to a for loop."""
    purchase = sync_client.buy(TOPPS, amount=4, user_id="u1")
    outcomes = list(sync_client.iter_sell_back(purchase.nfts, concurrency=2))
    assert sorted(o.item_id for o in outcomes) == sorted(n.id for n in purchase.nfts)


def test_calling_from_the_loop_thread_is_a_clear_error(sync_client: p.Phygitals) -> None:
    """A blocking call from inside the client's own loop (a callback) raises, not deadlocks."""
    purchase = sync_client.buy(TOPPS, amount=1, user_id="u1")

    def look_up_inventory(_done: int, _total: int) -> None:
        sync_client.inventory("u1")

    with pytest.raises(p.LoopThreadError, match="own event loop thread") as caught:
        sync_client.sell_back_many(purchase.nfts, on_progress=look_up_inventory)
    assert isinstance(caught.value, RuntimeError)


def test_closed_client_raises(threaded: LocalSandbox) -> None:
    """Calls after close() raise ClientClosedError; close() twice is fine."""
    client = threaded.sync_client()
    client.list_packs()
    client.close()
    client.close()
    with pytest.raises(p.ClientClosedError):
        client.list_packs()


def test_forgetting_to_close_warns(threaded: LocalSandbox) -> None:
    """An unclosed client emits a ResourceWarning when collected, and cleans up."""
    client = threaded.sync_client()
    client.list_packs()
    threads = threading.active_count()
    with pytest.warns(ResourceWarning, match="never closed"):
        del client  # the last reference: the finalizer runs here
    gc.collect()
    assert threading.active_count() < threads


def test_configuration_errors_raise_in_the_caller(threaded: LocalSandbox) -> None:
    """Bad configuration fails in the constructor, before any thread starts."""
    threads = threading.active_count()
    with pytest.raises(p.ConfigurationError):
        p.Phygitals(api_key="sandbox-a", base_url="https://api.phygitals.com")
    assert threading.active_count() == threads
    del threaded


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signal delivery")
def test_ctrl_c_cancels_the_call_in_flight(threaded: LocalSandbox) -> None:
    """KeyboardInterrupt while blocked cancels the coroutine; the client stays usable."""
    threaded.faults.add(Fault.latency(30, route="vm/available", count=1))
    with threaded.sync_client() as client:
        baseline = client._runtime.call_sync(lambda: len(asyncio.all_tasks()))
        timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            client.list_packs()
        timer.join()
        for _ in range(100):
            if client._runtime.call_sync(lambda: len(asyncio.all_tasks())) == baseline:
                break
            client._runtime.call(asyncio.sleep, 0.01)
        assert client._runtime.call_sync(lambda: len(asyncio.all_tasks())) == baseline
        assert len(client.list_packs()) == 5


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signal delivery")
def test_ctrl_c_in_a_blocking_iter_sell_back_is_a_keyboard_interrupt(
    threaded: LocalSandbox, tmp_path: Path
) -> None:
    """Ctrl+C while iter_sell_back waits: KeyboardInterrupt, and the journal is free again."""
    journal = str(tmp_path / "job.db")
    with threaded.sync_client() as client:
        items = client.buy(TOPPS, amount=3, user_id="u1").nfts
        threaded.state.production.sellback_processing_time = 30
        wait_until(lambda: threaded.ledger.in_flight["vm/buyback"] == 0, "nothing held yet")
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            for _ in client.iter_sell_back(items, concurrency=3, journal=journal):
                pass
        timer.join()
        threaded.state.production.sellback_processing_time = 0
        report = client.sell_back_many(journal=journal)  # not busy: the lock was released
    assert len(report.succeeded) + len(report.unconfirmed) == 3


def test_close_releases_a_blocking_iter_sell_back_left_open(
    threaded: LocalSandbox, tmp_path: Path
) -> None:
    """An iter_sell_back not run to its end: close() releases its journal (thread, lock)."""
    journal = str(tmp_path / "job.db")
    client = threaded.sync_client()
    items = client.buy(TOPPS, amount=4, user_id="u1").nfts
    outcomes = client.iter_sell_back(items, concurrency=1, journal=journal)
    assert next(outcomes).item_id in {i.id for i in items}
    client.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("phygitals-journal")]
    with threaded.sync_client() as again:
        report = again.sell_back_many(journal=journal, user_id="u1")
    # A sale in flight at close() may have been made: unconfirmed, never sold twice.
    assert len(report.succeeded) + len(report.unconfirmed) == 4
    assert len(threaded.ledger.sold) == 4


def test_closing_while_another_thread_waits_raises_client_closed(threaded: LocalSandbox) -> None:
    """A call in flight when another thread closes the client ends with ClientClosedError."""
    threaded.faults.add(Fault.latency(30, route="vm/available", count=1))
    client = threaded.sync_client()
    outcome: list[BaseException] = []
    started = threading.Event()

    def call() -> None:
        started.set()
        try:
            client.list_packs()
        except BaseException as exc:  # noqa: BLE001  the test inspects whatever ends the call
            outcome.append(exc)

    waiter = threading.Thread(target=call)
    waiter.start()
    started.wait()
    wait_until(lambda: threaded.ledger.requests["vm/available"] > 0, "the request arrived")
    client.close()
    waiter.join(timeout=10)
    assert not waiter.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], p.ClientClosedError)


def test_blocking_reads_and_shipment_polling(
    threaded: LocalSandbox, sync_client: p.Phygitals
) -> None:
    """card, recent_pulls and a blocking shipment poll work without await."""
    item = sync_client.buy(TOPPS, amount=1, user_id="u1").nfts[0]
    assert sync_client.card(item.id).fmv > 0
    assert sync_client.recent_pulls(limit=1)[0].id == item.id
    quote = sync_client.ship_quote([item], destination=ADDRESS)
    order_id = sync_client.ship_request(quote.cheapest).order_id
    threaded.state.advance_order(order_id, "delivered")
    handle = sync_client.poll_shipment(order_id, interval=0)
    assert handle.session_id is None  # an order, not a purchase
    order = handle.result(timeout=10)
    assert order.status is p.OrderStatus.DELIVERED
    assert sync_client.wait_for_shipment(order_id, interval=0).delivered_at is not None


def test_a_call_whose_loop_closes_unrun_raises_client_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A blocking call handed to a loop that closes before running it does not wait forever."""
    from phygitals_async._portal import _Handoff  # noqa: PLC0415  the hand-off itself

    monkeypatch.setattr(_Handoff, "check_interval", 0.01)

    async def never_run() -> int:
        return 1

    loop = asyncio.new_event_loop()
    handoff = _Handoff(loop, never_run(), set())
    loop.close()
    with pytest.raises(p.ClientClosedError):
        handoff.result()


def test_close_from_a_callback_is_a_clear_error_and_changes_nothing(
    threaded: LocalSandbox,
) -> None:
    """close() inside on_progress (the loop's own thread) raises; the client stays usable."""
    threads = threading.active_count()
    client = threaded.sync_client()
    purchase = client.buy(TOPPS, amount=2, user_id="u1")
    errors: list[BaseException] = []

    def close_now(_done: int, _total: int) -> None:
        try:
            client.close()
        except p.PhygitalsError as exc:
            errors.append(exc)

    report = client.sell_back_many(purchase.nfts, on_progress=close_now)
    assert len(report.succeeded) == 2
    assert errors
    assert all(isinstance(e, p.LoopThreadError) for e in errors)
    assert isinstance(errors[0], RuntimeError)
    assert "own event loop thread" in str(errors[0])
    assert len(client.list_packs()) == 5  # not marked closed
    client.close()
    with pytest.raises(p.ClientClosedError):
        client.list_packs()
    assert threading.active_count() == threads  # the loop thread really stopped


def test_cancelling_a_poll_reports_cancellation_to_every_waiter(
    threaded: LocalSandbox, sync_client: p.Phygitals
) -> None:
    """Threads blocked in result() get PollCancelledError when another thread cancels."""
    threaded.production.pending_polls = 10_000
    purchase = sync_client.buy(TOPPS, amount=1, user_id="u1")
    handle = sync_client.poll_purchase(purchase.session_id, interval=0.01)
    outcomes: list[BaseException] = []

    def wait() -> None:
        try:
            handle.result()
        except BaseException as exc:  # noqa: BLE001  the test inspects whatever ends the wait
            outcomes.append(exc)

    def tasks() -> int:
        return sync_client._runtime.call_sync(lambda: len(asyncio.all_tasks()))

    before = tasks()
    waiters = [threading.Thread(target=wait) for _ in range(3)]
    for waiter in waiters:
        waiter.start()
    wait_until(lambda: tasks() >= before + 3, "all three are blocked in result()")
    assert handle.cancel() is True
    for waiter in waiters:
        waiter.join(timeout=10)
        assert not waiter.is_alive()
    assert len(outcomes) == 3
    assert all(type(e) is p.PollCancelledError for e in outcomes), outcomes
    assert all(isinstance(e, concurrent.futures.CancelledError) for e in outcomes)
    assert handle.cancelled()
    with pytest.raises(p.PollCancelledError):
        handle.result(timeout=1)  # a later waiter too
    assert len(sync_client.list_packs()) == 5  # the client is open


def test_a_finished_poll_is_not_cancelled(sync_client: p.Phygitals) -> None:
    """cancelled() is False for a poll that finished with its result."""
    purchase = sync_client.buy(TOPPS, amount=1, user_id="u1")
    handle = sync_client.poll_purchase(purchase.session_id, interval=0)
    handle.result(timeout=10)
    assert handle.cancelled() is False


def test_a_client_collected_on_its_own_loop_thread_still_shuts_down(
    threaded: LocalSandbox,
) -> None:
    """Shutdown reached from the loop thread (a finalizer there) hands off to another thread."""
    from phygitals_async._portal import _shutdown  # noqa: PLC0415  the finalizer's own step

    threads = threading.active_count()
    client = threaded.sync_client()
    client.list_packs()
    runtime = client._runtime
    runner = runtime._runner
    assert runner is not None
    assert runtime._finalizer is not None
    runtime._finalizer.detach()
    runtime._runner, runtime._closed = None, True  # as after collection: nobody calls again
    runner.portal.call(_shutdown, runner, runtime.client)  # runs in the loop thread
    deadline = time.monotonic() + 10
    while threading.active_count() > threads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == threads
    assert runtime.client._transport.closed


def test_a_blocking_iterator_stepped_on_the_loop_thread_is_refused(
    threaded: LocalSandbox, sync_client: p.Phygitals
) -> None:
    """next() of a blocking iterator inside a callback: LoopThreadError, not a deadlock."""
    items = sync_client.buy(TOPPS, amount=2, user_id="u1").nfts
    purchase = sync_client.buy(TOPPS, amount=1, user_id="u1")
    outcomes = sync_client.iter_sell_back(items, concurrency=1)
    assert next(outcomes).item_id in {i.id for i in items}
    with pytest.raises(p.LoopThreadError):
        sync_client.wait_for_purchase(purchase.session_id, on_status=lambda _: next(outcomes))
    assert list(outcomes) == []  # ended by the error, as any generator; close() frees its run
    del threaded


def test_a_poll_ended_by_close_answers_its_state(threaded: LocalSandbox) -> None:
    """A poll still running when the client closes ends with it: done, cancel() a no-op."""
    threaded.production.pending_polls = 10_000
    threaded.faults.add(Fault.latency(30, route="vm/buy/status"))
    client = threaded.sync_client()
    purchase = client.buy(TOPPS, amount=1, user_id="u1")
    handle = client.poll_purchase(purchase.session_id, interval=0)
    client.close()
    assert (handle.done(), handle.cancel()) == (True, False)
    assert not handle.cancelled()  # it ended with the close's error, which result() gives
    with pytest.raises(p.ClientClosedError):
        handle.result()


def test_a_poll_cancelled_by_close_answers_its_state(threaded: LocalSandbox) -> None:
    """A poll waiting between looks when the client closes is cancelled: it says so."""
    threaded.production.pending_polls = 10_000
    client = threaded.sync_client()
    purchase = client.buy(TOPPS, amount=1, user_id="u1")
    handle = client.poll_purchase(purchase.session_id, interval=60)
    wait_until(lambda: threaded.ledger.requests["vm/buy/status"] == 1, "the first look")
    client.close()
    assert (handle.done(), handle.cancelled(), handle.cancel()) == (True, True, False)
