"""The integrators' examples run against the local sandbox, as their docstrings say to run them."""

from __future__ import annotations

import asyncio
import datetime as dt
import runpy
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from phygitals_async.testing import LocalSandbox, sandbox_in_thread

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(relative: str) -> dict[str, Any]:
    """An example file's globals, as importing it would make them (not run as __main__)."""
    return runpy.run_path(str(EXAMPLES / relative), run_name="example")


@pytest.fixture
def sandbox_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalSandbox]:
    """A sandbox on its own thread, and the two variables the examples read."""
    with sandbox_in_thread(seed=3) as sandbox:
        monkeypatch.setenv("PHYGITALS_API_KEY", "sandbox-examples")
        monkeypatch.setenv("PHYGITALS_BASE_URL", sandbox.url)
        yield sandbox


async def test_the_aiohttp_service_shares_one_client_and_maps_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The service lists and sells cards, and answers SDK errors with HTTP statuses."""
    async with LocalSandbox(seed=3) as sandbox:
        monkeypatch.setenv("PHYGITALS_API_KEY", "sandbox-examples")
        monkeypatch.setenv("PHYGITALS_BASE_URL", sandbox.url)
        sandbox.seed_items("u1", 2)
        app = _load("aiohttp_service/shop_service.py")["make_app"]()
        async with TestClient(TestServer(app)) as http:
            cards = await (await http.get("/users/u1/cards")).json()
            assert len(cards) == 2
            sold = await http.post(f"/cards/{cards[0]['id']}/sell")
            assert sold.status == 200
            assert Decimal((await sold.json())["amount"]) == sandbox.ledger.amount_paid
            again = await http.post(f"/cards/{cards[0]['id']}/sell")  # sold: the API refuses
            assert again.status == 502
            assert (await again.json())["error"] == "ItemNotFoundError"
            missing = await http.get("/users/nobody/cards")
            assert missing.status == 404
            sandbox.clock.advance(days=8)
            expired = await http.post(f"/cards/{cards[1]['id']}/sell")
            assert (expired.status, (await expired.json())["error"]) == (409, "ItemExpiredError")


def test_the_blocking_view_answers_like_a_json_view(sandbox_env: LocalSandbox) -> None:
    """The view returns the user's cards, soonest expiry first, and 404 for an unknown user."""
    sandbox_env.seed_items("u1", 3)
    views = _load("blocking_view/card_views.py")
    try:
        status, body = views["cards_view"]({"expiring": "1"}, "u1")
        assert status == 200
        assert len(body["cards"]) == 3
        assert views["cards_view"]({}, "nobody")[0] == 404
    finally:
        views["client"].close()


def test_the_nightly_job_names_its_journal_by_date_and_resumes(
    sandbox_env: LocalSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 0 with one summary line; a rerun the same day resumes the same dated journal."""
    sandbox_env.seed_items("u1", 4)
    nightly = _load("nightly_sellback/nightly_sellback.py")
    assert nightly["main"](["u1", "--journal-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert out[0].startswith("this run: sold 4")
    assert (tmp_path / f"sellback-{dt.date.today():%Y-%m-%d}.db").exists()  # noqa: DTZ011
    assert nightly["main"](["u1", "--journal-dir", str(tmp_path)]) == 0  # nothing left to sell
    assert "job: 4 items, sold 4" in capsys.readouterr().out


@pytest.mark.usefixtures("sandbox_env")
def test_the_nightly_job_exits_1_on_an_error_it_cannot_sell_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown user is no job at all: exit code 1 and one line on stderr."""
    nightly = _load("nightly_sellback/nightly_sellback.py")
    assert nightly["main"](["nobody", "--journal-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith("sellback failed: UserNotFoundError")


@pytest.mark.usefixtures("sandbox_env")
def test_the_notebook_cells_run_inside_a_running_event_loop(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """As in Jupyter: the cells' blocking calls run while this thread's loop is running."""

    async def cell_runner() -> dict[str, Any]:
        asyncio.get_running_loop()  # the situation a notebook kernel is in
        return _load("notebook/notebook_cells.py")

    cells = asyncio.run(cell_runner())
    assert cells["sale"].amount == cells["cheapest"].buyback_price
    assert "sold" in capsys.readouterr().out
