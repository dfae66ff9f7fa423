"""The test kit integrators install: pytest fixtures in every mode, and the admin ledger route.

The plugin is exercised as users meet it: a separate pytest process over a throwaway
project, with the plugin loaded by its entry point.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from support import TOPPS, run_script

from phygitals_async import cli
from phygitals_async.testing import Ledger, LocalSandbox, fetch_ledger
from phygitals_async.testing._admin import ledger_from_json, ledger_to_json

INI = """\
[pytest]
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""

THIRD_PARTY = """\
from datetime import UTC, datetime

import pytest


@pytest.fixture
def phygitals_sandbox_options():
    return {"seed": 7, "start_time": datetime(2030, 1, 1, tzinfo=UTC)}


@pytest.mark.asyncio
async def test_async_fixtures(phygitals_client, phygitals_sandbox):
    packs = await phygitals_client.list_packs()
    purchase = await phygitals_client.buy(packs[0].id, amount=1, user_id="u1")
    await phygitals_client.sell_back(purchase.nfts[0].id)
    assert phygitals_sandbox.ledger.sellback_executions == 1
    assert phygitals_sandbox.clock.now().year == 2030


def test_blocking_fixtures(phygitals_sync_client, phygitals_threaded_sandbox):
    packs = phygitals_sync_client.list_packs()
    phygitals_sync_client.buy(packs[0].id, amount=1, user_id="u1")
    assert phygitals_threaded_sandbox.ledger.purchases == 1
    assert phygitals_threaded_sandbox.clock.now().year == 2030
"""

UNMARKED = """\
async def test_forgot_the_mark(phygitals_client):
    await phygitals_client.list_packs()
"""


def run_pytest(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run pytest on ``project`` in a new process, as a third party's CI would."""
    return subprocess.run(  # noqa: S603  our own interpreter running pytest
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=project,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def make_project(tmp_path: Path, **files: str) -> Path:
    (tmp_path / "pytest.ini").write_text(INI)
    for name, text in files.items():
        (tmp_path / f"{name}.py").write_text(text)
    return tmp_path


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_fixtures_work_in_strict_and_auto_mode(tmp_path: Path, mode: str) -> None:
    """The installed plugin's async and blocking fixtures pass in both pytest-asyncio modes."""
    project = make_project(tmp_path, test_shop=THIRD_PARTY)
    result = run_pytest(project, "-o", f"asyncio_mode={mode}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_an_explicit_pytest_plugins_entry_still_works(tmp_path: Path) -> None:
    """A conftest listing the plugin, with autoloading off, loads it once and runs."""
    conftest = (
        'pytest_plugins = ["pytest_asyncio.plugin", "phygitals_async.testing.pytest_plugin"]\n'
    )
    project = make_project(tmp_path, conftest=conftest, test_shop=THIRD_PARTY)
    result = run_pytest(project, env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_unmarked_async_test_in_strict_mode_says_to_add_the_mark(tmp_path: Path) -> None:
    """Strict mode's unrun async test names the mark and auto mode, not a missing plugin."""
    project = make_project(tmp_path, test_unmarked=UNMARKED)
    result = run_pytest(project, "-o", "asyncio_mode=strict")
    assert result.returncode == 1
    assert "mark it @pytest.mark.asyncio" in result.stdout
    assert "install a suitable plugin" not in result.stdout


def test_without_pytest_asyncio_the_async_fixtures_say_what_to_install(tmp_path: Path) -> None:
    """With pytest-asyncio off, async fixtures fail with the install hint; blocking ones work."""
    project = make_project(tmp_path, test_shop=THIRD_PARTY)
    # Without the plugin its ini keys and mark are unknown: that is not what is tested here.
    ignore = (
        "-W",
        "ignore::pytest.PytestConfigWarning",
        "-W",
        "ignore::pytest.PytestUnknownMarkWarning",
    )
    result = run_pytest(project, "-p", "no:asyncio", *ignore)
    assert result.returncode == 1
    assert "need pytest-asyncio: pip install 'phygitals-async[testing]'" in result.stdout
    assert "1 passed, 1 error" in result.stdout


# -- the admin route ---------------------------------------------------------------------


async def sell_one(sandbox: LocalSandbox) -> Decimal:
    async with sandbox.client() as client:
        purchase = await client.buy(TOPPS, amount=2, user_id="u1")
        sale = await client.sell_back(purchase.nfts[0].id)
        return sale.amount


def test_ledger_json_round_trips_exactly() -> None:
    """ledger_from_json(ledger_to_json(x)) == x, with money as exact decimal strings."""
    ledger = Ledger(purchases=2, items_pulled=3, sellback_executions=1)
    ledger.sold["v1|1|0"] = Decimal("0.10")
    ledger.requests["vm/buyback"] += 2
    data = ledger_to_json(ledger)
    assert data["amount_paid"] == "0.10"
    assert data["sold"] == {"v1|1|0": "0.10"}
    assert ledger_from_json(data) == ledger


def test_ledger_json_covers_every_ledger_field() -> None:
    """A field added to Ledger must be added to its JSON form too (or this fails)."""
    fields = {field.name for field in attrs.fields(Ledger)}
    assert set(ledger_to_json(Ledger())) == fields | {"amount_paid"}


async def test_admin_route_serves_the_live_ledger() -> None:
    """With admin on, fetch_ledger reads the same ledger the sandbox keeps, uncounted."""
    async with LocalSandbox(seed=5, admin=True) as sandbox:
        amount = await sell_one(sandbox)
        for url in (sandbox.root_url, sandbox.url, sandbox.url + "/"):
            remote = await asyncio.to_thread(fetch_ledger, url)
            assert remote == sandbox.ledger
        assert remote.purchases == 1
        assert remote.amount_paid == amount
        assert "_sandbox/ledger" not in remote.requests  # reading it changes nothing


async def test_admin_route_is_off_unless_asked() -> None:
    """Without admin the reserved path is a 404, and fetch_ledger says how to turn it on."""
    async with LocalSandbox() as sandbox:
        with pytest.raises(RuntimeError, match="phygitals sandbox --admin"):
            await asyncio.to_thread(fetch_ledger, sandbox.root_url)


def test_fetch_ledger_rejects_a_non_http_url() -> None:
    """A file: or bare host URL is refused before anything is opened."""
    with pytest.raises(ValueError, match="http://"):
        fetch_ledger("file:///etc/passwd")


def test_sandbox_admin_json_names_the_ledger_url(capsys: pytest.CaptureFixture[str]) -> None:
    """`sandbox --admin --json` adds ledger_url beside the URLs it always prints."""
    argv = ["sandbox", "--admin", "--port", "0", "--json", "--timeout", "0.05"]
    # On a thread of its own, the command's asyncio.run leaves this thread's current event
    # loop alone (older pytest-asyncio releases keep one there between tests).
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(cli.main, argv).result(timeout=30) == 0
    served = json.loads(capsys.readouterr().out)
    assert served["ledger_url"] == served["root_url"] + "/_sandbox/ledger"


def test_standalone_sandbox_ledger_is_readable_from_another_process() -> None:
    """`phygitals sandbox --admin` in its own process: this process buys, sells, reads."""
    command = [sys.executable, "-m", "phygitals_async.testing", "--admin", "--port", "0"]
    server = subprocess.Popen(  # noqa: S603  our own interpreter serving the sandbox
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline() + server.stdout.readline() + server.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)\b", banner)
        assert match, banner
        root = match.group(1)
        assert f"{root}/_sandbox/ledger" in banner
        # Any HTTP client works; urllib keeps this test free of event loops.
        with urllib.request.urlopen(f"{root}/_sandbox/ledger", timeout=10) as response:  # noqa: S310
            assert response.status == 200
        from phygitals_async import Phygitals  # noqa: PLC0415  only this test blocks

        with Phygitals(api_key="sandbox-other-process", base_url=root + "/_") as client:
            purchase = client.buy(TOPPS, amount=1, user_id="u9")
            sale = client.sell_back(purchase.nfts[0].id)
        ledger = fetch_ledger(root)
        assert ledger.purchases == 1
        assert ledger.sold == {sale.item_id: sale.amount}
        assert ledger.amount_paid == sale.amount
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.communicate(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - only if SIGINT is ignored
            server.kill()
            server.communicate()


def test_a_forked_child_leaves_a_sandbox_in_thread_block_at_once() -> None:
    """A child forked inside sandbox_in_thread() exits the block without the parent's thread.

    The child has no copy of the server's thread: stopping the server from it would wait
    forever. A hung child dies by its alarm and fails the run.
    """
    run_script(
        """
        import os, signal, sys
        from phygitals_async.testing import sandbox_in_thread

        with sandbox_in_thread() as sandbox, sandbox.sync_client() as client:
            client.list_packs()
            pid = os.fork()
            if pid == 0:
                signal.alarm(20)
                client.list_packs()  # the client works in the child
                sys.exit(0)  # leaves both blocks, in the child
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0, status
            assert client.list_packs()  # the parent's sandbox still serves
        """
    )
