"""``--json``: every command prints parseable JSON, with the option before or after it."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support import TOPPS
from support.cli import MINIMAL_ARGS

from phygitals_async import cli
from phygitals_async.testing import LocalSandbox


def run_json(
    sandbox: LocalSandbox, capsys: pytest.CaptureFixture[str], placement: str, *command: str
) -> Any:
    """Run ``command`` with the global options all before it or all after it; parse stdout."""
    options = ["--api-key", "sandbox-cli", "--base-url", sandbox.url, "--json"]
    argv = [*options, *command] if placement == "before" else [*command, *options]
    assert cli.main(argv) == 0, capsys.readouterr().err
    captured = capsys.readouterr()
    assert captured.err == ""
    return json.loads(captured.out)


@pytest.mark.parametrize("placement", ["before", "after"])
def test_every_command_prints_json(
    placement: str,
    threaded: LocalSandbox,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """Each command's --json output is one JSON document on stdout, wherever --json goes."""
    covered: set[tuple[str, ...]] = set()

    def run(*command: str) -> Any:
        covered.add(command[:2] if command[0] in {"ship", "journal"} else command[:1])
        return run_json(threaded, capsys, placement, *command)

    packs = run("packs")
    assert {pack["id"] for pack in packs} >= {TOPPS}
    assert len(run("pulls", "--limit", "3")) == 3
    purchase = run("buy", TOPPS, "--user", "u1", "--amount", "2")
    assert len(purchase["nfts"]) == 2
    waited = run("buy", TOPPS, "--user", "u1", "--amount", "1", "--wait", "--interval", "0.01")
    assert waited["user_id"] == "u1"
    assert run("status", purchase["session_id"])["public_id"]
    inventory = run("inventory", "u1")
    assert len(inventory["items"]) == 3
    first, second = (item["id"] for item in purchase["nfts"])
    assert Decimal(run("card", first)["fmv"]) > 0
    journal = str(tmp_path / "run.db")
    report = run("sellback", first, "--journal", journal)
    assert [s["item_id"] for s in report["succeeded"]] == [first]
    assert run("journal", "show", journal)["counts"]["sold"] == 1
    quote = run(
        "ship", "quote", second, "--name", "Jane Doe", "--line1", "1 Main St",
        "--city", "Austin", "--postal-code", "78701", "--state", "TX", "--country", "US",
    )  # fmt: skip
    order_id = run("ship", "request", quote["quotes"][0]["id"])["order_id"]
    assert run("ship", "order", order_id)["status"] == "queued"
    assert run("ship", "order", order_id, "--wait-until", "queued")["order_id"] == order_id
    completion = run("completion", "fish")
    assert completion["shell"] == "fish"
    assert "complete -c phygitals" in completion["script"]
    covered |= {("sandbox",), ("demo",)}  # below: their output is JSON Lines
    assert covered == set(MINIMAL_ARGS)


@pytest.mark.parametrize("placement", ["before", "after"])
def test_demo_json_is_one_object_per_step(
    placement: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`demo --json` prints JSON Lines: one object per step, in order, with the step's data."""
    argv = ["--json", "demo"] if placement == "before" else ["demo", "--json"]
    assert cli.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    steps = [json.loads(line) for line in lines]
    assert [s["step"] for s in steps] == ["packs", "buy", "inventory", "sellback", "ship", "done"]
    by_step = {s["step"]: s for s in steps}
    assert by_step["packs"]["title"] == "Packs on sale"
    assert len(by_step["buy"]["result"]["nfts"]) == 3
    sold = by_step["sellback"]["succeeded"]
    assert len(sold) == 2
    assert Decimal(by_step["sellback"]["total_amount"]) == sum(Decimal(s["amount"]) for s in sold)
    assert by_step["ship"]["order"]["status"] == "queued"
    assert by_step["done"] == {
        "step": "done",
        "title": "Done",
        "user_id": "demo-user",
        "items_held": 0,
        "sold": 2,
        "shipping": 1,
    }


@pytest.mark.parametrize("placement", ["before", "after"])
def test_sandbox_json_says_where_it_serves(
    placement: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sandbox --json` prints one JSON line with its URLs; --timeout bounds how long it serves."""
    command = ["sandbox", "--port", "0"]
    options = ["--json", "--timeout", "0.05"]
    argv = [*options, *command] if placement == "before" else [*command, *options]
    assert cli.main(argv) == 0
    (line,) = capsys.readouterr().out.splitlines()
    served = json.loads(line)
    assert served["url"] == served["root_url"] + "/_"
    assert served["root_url"].startswith("http://127.0.0.1:")
    assert served["api_key"].startswith("sandbox-")


def test_errors_print_nothing_on_stdout_with_json(
    threaded: LocalSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --json a failing command leaves stdout empty; the one-line error goes to stderr."""
    assert cli.main(["inventory", "nobody", "--json", "--base-url", threaded.url,
                     "--api-key", "sandbox-cli"]) == 1  # fmt: skip
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "error: UserNotFoundError: 404 User not found\n"
