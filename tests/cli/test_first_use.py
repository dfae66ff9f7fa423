"""What a first user trips on: errors that match the README, CLI messages, a clean exit."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from support import TOPPS, Recorder, run_script

import phygitals_async as p
from phygitals_async import cli
from phygitals_async.testing import LocalSandbox


@pytest.mark.parametrize("amount", [0, -1])
async def test_buy_amount_below_one_is_invalid_amount(
    sandbox: LocalSandbox, client: p.AsyncPhygitals, amount: int
) -> None:
    """amount=0 is the README's InvalidAmountError, with the API's documented message."""
    with pytest.raises(p.InvalidAmountError, match="Amount must be greater than 0"):
        await client.buy(TOPPS, amount=amount, user_id="u1")
    assert sandbox.ledger.purchases == 0


async def test_resuming_a_missing_journal_is_journal_not_found(
    client: p.AsyncPhygitals, tmp_path: Path
) -> None:
    """Resuming a journal that does not exist is a JournalError, still an InvalidRequestError."""
    missing = tmp_path / "typo.db"
    with pytest.raises(p.JournalNotFoundError) as caught:
        await client.sell_back_many(journal=missing)
    assert isinstance(caught.value, p.JournalError)
    assert isinstance(caught.value, p.InvalidRequestError)  # what it used to be
    assert not missing.exists()


def test_showing_a_missing_journal_is_the_same_class(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI's journal show reports the same class, as a usage error (exit code 2)."""
    missing = tmp_path / "typo.db"
    assert cli.main(["journal", "show", str(missing)]) == 2
    assert "error: JournalNotFoundError: journal" in capsys.readouterr().err


def test_the_cli_names_its_own_option_for_a_missing_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a key the CLI says --api-key, not the Python argument api_key=."""
    monkeypatch.delenv("PHYGITALS_API_KEY", raising=False)
    assert cli.main(["packs"]) == 2
    err = capsys.readouterr().err
    assert "--api-key KEY or set $PHYGITALS_API_KEY" in err
    assert "api_key=" not in err


async def test_a_401_for_a_key_without_the_prefix_mentions_it(
    sandbox: LocalSandbox, recorder: Recorder
) -> None:
    """A key without 'sandbox-' that gets 401 hears what the prefix is for; others do not."""
    async with p.AsyncPhygitals("sandbx-typo", base_url=sandbox.url) as client:
        with pytest.raises(p.AuthenticationError) as caught:
            await client.list_packs()
    assert "does not start with 'sandbox-'" in str(caught.value)
    assert caught.value.message == "Invalid API key"  # the API's own string, unchanged
    recorder.add(
        "GET", "/_/api/v1/vm/available", status=401, json_body={"error": "Invalid API key"}
    )
    async with p.AsyncPhygitals("sandbox-revoked", base_url=recorder.url + "/_") as client:
        with pytest.raises(p.AuthenticationError) as plain:
            await client.list_packs()
    assert "sandbox-'" not in str(plain.value)


def test_json_errors_show_no_private_keys(
    threaded: LocalSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failed sellback in --json output lists headers under their public name."""
    base = ["--api-key", "sandbox-cli", "--base-url", threaded.url, "--json"]
    assert cli.main([*base, "sellback", "no-such-item"]) == 3
    out = capsys.readouterr().out
    assert '"_' not in out
    [failed] = json.loads(out)["failed"]
    assert "headers" in failed["error"]["attributes"]


def test_the_sellback_table_keeps_the_given_order(
    threaded: LocalSandbox, sync_client: p.Phygitals, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rows come in the order the ids were given, whatever each outcome was."""
    items = [i.id for i in sync_client.buy(TOPPS, amount=3, user_id="u1").nfts]
    given = [items[2], "no-such-item", items[0], items[1]]
    base = ["--api-key", "sandbox-cli", "--base-url", threaded.url]
    assert cli.main([*base, "sellback", *given]) == 3
    rows = capsys.readouterr().out.splitlines()[2:6]
    assert [row.split()[0] for row in rows] == given


@pytest.mark.parametrize("close", ["atexit", "never"])
def test_a_module_level_blocking_client_exits_cleanly(threaded: LocalSandbox, close: str) -> None:
    """A module-level Phygitals, closed by atexit or left open, exits without a warning."""
    script = textwrap.dedent(
        f"""
        import atexit
        from phygitals_async import Phygitals

        client = Phygitals(api_key="sandbox-x", base_url={threaded.url!r})
        if {close!r} == "atexit":
            atexit.register(client.close)  # before the first call starts its thread
        print(len(client.list_packs()))
        """
    )
    result = run_script(script, "-X", "dev", "-W", "error", drop=("PHYGITALS_LOG",))
    assert result.stderr == ""
    assert int(result.stdout) > 0
