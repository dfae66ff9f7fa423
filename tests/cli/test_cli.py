"""The ``phygitals`` command: output in both modes, and its exit codes."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from support import TOPPS

import phygitals_async as p
from phygitals_async import cli
from phygitals_async._journal._lock import release_run_lock, take_run_lock
from phygitals_async.cli._commands import _print_report
from phygitals_async.testing import Fault, LocalSandbox


def run(sandbox: LocalSandbox, *args: str) -> int:
    return cli.main(["--api-key", "sandbox-cli", "--base-url", sandbox.url, *args])


def test_packs_table_and_json(threaded: LocalSandbox, capsys: pytest.CaptureFixture[str]) -> None:
    """Packs print as a table with money to the cent, and as exact JSON."""
    assert run(threaded, "packs") == 0
    table = capsys.readouterr().out
    assert "Topps Chrome 2024" in table
    assert "$100.00" in table
    assert run(threaded, "--json", "packs") == 0
    packs = json.loads(capsys.readouterr().out)
    assert packs[0]["mint_price"] == "100.0"
    assert Decimal(packs[0]["buyback_percent"]) == Decimal("0.85")


def test_inventory_json_round_trips_amounts(
    threaded: LocalSandbox, sync_client: p.Phygitals, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json amounts are decimal strings equal to the SDK's Decimals; times are ISO."""
    sync_client.buy(TOPPS, amount=3, user_id="u1")
    items = sync_client.inventory("u1").items
    assert run(threaded, "--json", "inventory", "u1") == 0
    data = json.loads(capsys.readouterr().out)
    assert [Decimal(i["buyback_price"]) for i in data["items"]] == [i.buyback_price for i in items]
    assert data["items"][0]["buyback_expires_at"].endswith("+00:00")
    assert run(threaded, "inventory", "u1") == 0
    assert items[0].id in capsys.readouterr().out


def test_buy_wait_status_card_and_pulls(
    threaded: LocalSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """The buy command (with --wait), status, card and pulls show what they fetched."""
    assert run(threaded, "--json", "buy", TOPPS, "--user", "u1", "--amount", "2") == 0
    purchase = json.loads(capsys.readouterr().out)
    assert run(threaded, "status", purchase["session_id"]) == 0
    assert "fulfilled for u1" in capsys.readouterr().out
    assert run(threaded, "buy", TOPPS, "--user", "u1", "--amount", "1", "--wait") == 0
    assert "fulfilled" in capsys.readouterr().out
    item_id = purchase["nfts"][0]["id"]
    assert run(threaded, "card", item_id) == 0
    assert "fmv" in capsys.readouterr().out
    assert run(threaded, "pulls", "--pack", TOPPS, "--limit", "3") == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2 + 3


def test_sellback_ids_and_partial_failure_exit_code(
    threaded: LocalSandbox, sync_client: p.Phygitals, capsys: pytest.CaptureFixture[str]
) -> None:
    """Selling ids prints a summary; any failed item makes the exit code 3."""
    items = sync_client.buy(TOPPS, amount=2, user_id="u1").nfts
    assert run(threaded, "sellback", items[0].id) == 0
    assert "sold 1, failed 0" in capsys.readouterr().out
    assert run(threaded, "sellback", items[0].id, items[1].id) == 3
    out = capsys.readouterr().out
    assert "failed: ItemNotFoundError" in out
    assert "sold 1, failed 1" in out


def test_an_unknown_outcome_without_an_owner_says_how_to_settle_it(
    threaded: LocalSandbox,
    sync_client: p.Phygitals,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """Bare ids and a lost answer: no inventory to read, so the table says what settles it.

    With a journal, a rerun with the owner does; without one, a rerun would send it again.
    """
    items = sync_client.buy(TOPPS, amount=4, user_id="u1").nfts
    threaded.faults.add(Fault.drop_after(route="vm/buyback", count=1))
    assert run(threaded, "sellback", items[0].id, items[1].id) == 3
    out = capsys.readouterr().out
    assert out.count("UNKNOWN: no owner to check; see the owner's inventory") == 1
    assert "sold 1, failed 0, unknown 1" in out

    journal = str(tmp_path / "job.db")
    threaded.faults.add(Fault.drop_after(route="vm/buyback", count=1))
    assert run(threaded, "sellback", items[2].id, items[3].id, "--journal", journal) == 3
    out = capsys.readouterr().out
    assert out.count("rerun with --user and the same --journal") == 1
    assert run(threaded, "sellback", "--journal", journal, "--user", "u1") == 0  # as told
    assert "unconfirmed 1" in capsys.readouterr().out


def test_sellback_all_with_journal_resumes(
    threaded: LocalSandbox,
    sync_client: p.Phygitals,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """--user U --all sells the inventory; a rerun with the journal reports the whole job."""
    sync_client.buy(TOPPS, amount=4, user_id="u1")
    journal = str(tmp_path / "run.db")
    assert run(threaded, "--json", "sellback", "--user", "u1", "--all", "--journal", journal) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["succeeded"]) == 4
    assert Decimal(report["total_amount"]) == threaded.ledger.amount_paid
    assert run(threaded, "sellback", "--user", "u1", "--all", "--journal", journal) == 0
    out = capsys.readouterr().out
    assert "sold 4, failed 0" in out
    assert "4 settled by earlier runs" in out


def test_sellback_expiring_within_filters(
    threaded: LocalSandbox, sync_client: p.Phygitals, capsys: pytest.CaptureFixture[str]
) -> None:
    """--expiring-within keeps only items whose window closes soon."""
    sync_client.buy(TOPPS, amount=2, user_id="u1")
    assert run(threaded, "sellback", "--user", "u1", "--all", "--expiring-within", "1h") == 0
    assert "sold 0" in capsys.readouterr().out
    assert threaded.ledger.sold == {}


def test_ship_quote_request_order(
    threaded: LocalSandbox, sync_client: p.Phygitals, capsys: pytest.CaptureFixture[str]
) -> None:
    """The ship quote, request and order commands walk a shipment through."""
    item = sync_client.buy(TOPPS, amount=1, user_id="u1").nfts[0]
    assert (
        run(
            threaded,
            "--json",
            "ship",
            "quote",
            item.id,
            "--name",
            "Jane Doe",
            "--line1",
            "1 Main St",
            "--city",
            "Austin",
            "--state",
            "TX",
            "--postal-code",
            "78701",
            "--country",
            "US",
        )
        == 0
    )
    quote = json.loads(capsys.readouterr().out)
    assert run(threaded, "--json", "ship", "request", quote["quotes"][0]["id"]) == 0
    order_id = json.loads(capsys.readouterr().out)["order_id"]
    assert run(threaded, "ship", "order", order_id) == 0
    assert "queued" in capsys.readouterr().out


def test_api_error_is_one_line_and_exit_1(
    threaded: LocalSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """An API error prints its class and message on stderr, no traceback, exit code 1."""
    assert run(threaded, "inventory", "nobody") == 1
    err = capsys.readouterr().err
    assert err == "error: UserNotFoundError: 404 User not found\n"


def test_debug_shows_the_traceback(
    threaded: LocalSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """--debug adds the traceback."""
    assert run(threaded, "--debug", "card", "nope") == 1
    assert "Traceback" in capsys.readouterr().err


def test_usage_errors_exit_2(threaded: LocalSandbox, capsys: pytest.CaptureFixture[str]) -> None:
    """Bad arguments exit with 2, from argparse or from the SDK's own checks."""
    with pytest.raises(SystemExit) as caught:
        run(threaded, "buy", TOPPS, "--user", "u1")
    assert caught.value.code == 2
    assert run(threaded, "buy", TOPPS, "--user", " ", "--amount", "1") == 2
    assert "InvalidRequestError" in capsys.readouterr().err
    # An amount below 1 is the API's documented 400, as the README's table says.
    assert run(threaded, "buy", TOPPS, "--user", "u1", "--amount", "0") == 1
    assert "InvalidAmountError" in capsys.readouterr().err
    assert run(threaded, "sellback") == 2


def test_missing_key_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No key anywhere: exit 2 with the configuration error."""
    monkeypatch.delenv("PHYGITALS_API_KEY", raising=False)
    assert cli.main(["packs"]) == 2
    assert "ConfigurationError" in capsys.readouterr().err


def test_interrupt_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl+C ends the command with exit code 130."""

    def interrupted(coro: object) -> None:
        coro.close()  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    monkeypatch.setattr("phygitals_async.cli._main.asyncio.run", interrupted)
    assert cli.main(["--api-key", "sandbox-x", "packs"]) == 130


def test_sandbox_local_and_demo(capsys: pytest.CaptureFixture[str]) -> None:
    """--sandbox-local serves any command in-process; demo walks the whole flow."""
    assert cli.main(["--sandbox-local", "packs"]) == 0
    assert "Topps Chrome 2024" in capsys.readouterr().out
    assert cli.main(["demo"]) == 0
    out = capsys.readouterr().out
    for step in ("Packs on sale", "Buying 3 pulls", "Selling two back", "Shipping", "Done"):
        assert step in out
    assert "credited $" in out


def test_help_shows_examples(capsys: pytest.CaptureFixture[str]) -> None:
    """The top-level help and each command's help show an example."""
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "examples:" in capsys.readouterr().out
    for command in (
        "packs",
        "pulls",
        "buy",
        "status",
        "inventory",
        "card",
        "sellback",
        "ship",
        "sandbox",
        "demo",
    ):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        assert "example:" in capsys.readouterr().out, command


def test_sandbox_command_serves_other_processes() -> None:
    """`python -m phygitals_async.testing` serves the sandbox to another process's client."""
    import subprocess  # noqa: PLC0415  only this test starts a process
    import sys  # noqa: PLC0415

    with subprocess.Popen(
        [sys.executable, "-m", "phygitals_async.testing", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    ) as server:
        try:
            assert server.stdout is not None
            first = server.stdout.readline()
            root = first.split(" on ", 1)[1].split(" ", 1)[0]
            with p.Phygitals(api_key="sandbox-other", base_url=root + "/_") as client:
                assert len(client.list_packs()) == 5
        finally:
            server.terminate()


def test_status_pending_and_order_wait_until(
    threaded: LocalSandbox, sync_client: p.Phygitals, capsys: pytest.CaptureFixture[str]
) -> None:
    """The status command prints pending; ship order --wait-until returns on the status."""
    threaded.production.pending_polls = 1
    purchase = sync_client.buy(TOPPS, amount=1, user_id="u1")
    assert run(threaded, "status", purchase.session_id) == 0
    assert capsys.readouterr().out == "pending\n"
    quote = sync_client.ship_quote(
        purchase.nfts,
        destination={"name": "J", "line1": "1 Main", "city": "Austin", "country": "US"},
    )
    order_id = sync_client.ship_request(quote.cheapest).order_id
    threaded.state.advance_order(order_id, "shipped")
    assert run(threaded, "ship", "order", order_id, "--wait-until", "shipped") == 0
    out = capsys.readouterr().out
    assert "shipped" in out
    assert "tracking 9400" in out


def test_progress_bar_draws_on_a_terminal() -> None:
    """The progress bar redraws one line on a TTY and ends it when done; silent otherwise."""
    import io  # noqa: PLC0415  only this test fakes a terminal

    from phygitals_async.cli._output import ProgressBar  # noqa: PLC0415

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    bar = ProgressBar("selling", screen, width=10)
    bar(0, 4)
    bar(2, 4)
    bar(4, 4)
    assert screen.getvalue() == (
        "\rselling [..........] 0/4\rselling [#####.....] 2/4\rselling [##########] 4/4\n"
    )
    quiet = io.StringIO()
    ProgressBar("selling", quiet)(1, 2)
    assert quiet.getvalue() == ""


@pytest.mark.parametrize(
    ("quotes", "said"),
    [
        ((None, None), "; unconfirmed sales: no quote known"),
        ((Decimal("2.50"), None), "; unconfirmed sales quoted at $2.50 (1 without a quote)"),
        ((Decimal("2.50"), Decimal("1.25")), "; unconfirmed sales quoted at $3.75\n"),
    ],
)
def test_a_missing_quote_is_never_printed_as_zero(
    capsys: pytest.CaptureFixture[str], quotes: tuple[Decimal | None, ...], said: str
) -> None:
    """The sellback table and summary say 'no quote known', never $0.00, for a missing quote."""
    unconfirmed = tuple(p.UnconfirmedSellback(f"i{n}", q) for n, q in enumerate(quotes))
    _print_report(p.BulkSellbackReport(succeeded=(), failed=(), unconfirmed=unconfirmed), {})
    out = capsys.readouterr().out
    assert said in out
    assert "quoted at $0.00" not in out
    assert out.count("(no quote known)") == quotes.count(None)


def test_sellback_all_refuses_a_busy_journal_before_reading_the_inventory(
    threaded: LocalSandbox,
    sync_client: p.Phygitals,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """--all reads the inventory only once the journal and --concurrency are known good."""
    sync_client.buy(TOPPS, amount=2, user_id="u1")
    journal = tmp_path / "run.db"
    assert run(threaded, "sellback", "--user", "u1", "--all", "--journal", str(journal)) == 0
    capsys.readouterr()
    before = threaded.ledger.requests["inventory"]
    held = take_run_lock(str(journal), f"{journal}.lock")  # another run holds it
    assert held is not None
    try:
        assert run(threaded, "sellback", "--user", "u1", "--all", "--journal", str(journal)) == 1
    finally:
        release_run_lock(held)
    assert "JournalBusyError" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        run(threaded, "sellback", "--user", "u1", "--all", "--concurrency", "0")
    assert usage.value.code == 2
    assert "1 or more" in capsys.readouterr().err
    (tmp_path / "other.db").write_bytes(b"not a journal at all")
    assert (
        run(threaded, "sellback", "--user", "u1", "--all", "--journal", str(tmp_path / "other.db"))
        == 1
    )
    assert "JournalCorruptedError" in capsys.readouterr().err
    assert threaded.ledger.requests["inventory"] == before
