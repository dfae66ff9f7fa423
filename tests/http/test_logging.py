"""PHYGITALS_LOG: one INFO line per call, retries said, DEBUG bodies cut, secrets never shown."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Iterator

import pytest
from support import TOPPS, FakeTime, Recorder, run_script

import phygitals_async as p
from phygitals_async._http import _log
from phygitals_async.testing import Fault, LocalSandbox

KEY = "sandbox-l0g-s3cr3t-never-shown"  # a fake key whose leaks are hunted
TOKEN = "Bearer t0ken-never-shown"  # noqa: S105  a credential header of the application's
LOGGER = logging.getLogger("phygitals_async")


@pytest.fixture(autouse=True)
def _restore_logger() -> Iterator[None]:
    """PHYGITALS_LOG sets the logger's level and may add a handler: undo both after each test."""
    level, handlers = LOGGER.level, list(LOGGER.handlers)
    yield
    LOGGER.setLevel(level)
    for handler in LOGGER.handlers:
        if handler not in handlers:
            LOGGER.removeHandler(handler)


def _messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER.name and r.levelno == level]


async def test_info_is_one_line_per_call(
    sandbox: LocalSandbox, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At info each call logs operation, method, path, status, time, attempts and request id."""
    monkeypatch.setenv("PHYGITALS_LOG", "info")
    async with sandbox.client(api_key=KEY) as client:
        assert LOGGER.getEffectiveLevel() == logging.INFO
        await client.list_packs()
        with pytest.raises(p.UserNotFoundError):
            await client.inventory("nobody")
    ok, failed = _messages(caplog, logging.INFO)
    assert ok.startswith("list_packs GET /_/api/v1/vm/available -> 200 in ")
    assert ok.endswith(" ms, 1 attempt, request id req_sandbox_00000001")
    assert failed.startswith("inventory GET /_/api/v1/inventory/nobody -> 404 UserNotFoundError")
    assert not _messages(caplog, logging.DEBUG)


async def test_retries_say_retry_n_of_m(
    sandbox: LocalSandbox, caplog: pytest.LogCaptureFixture, fake_time: FakeTime
) -> None:
    """Each retry is one line 'retry n of m after X s: reason'; the call line counts attempts."""
    _log.configure("info")
    sandbox.faults.add(Fault.status(503, route="vm/available", count=1))
    async with sandbox.client(api_key=KEY) as client:
        fake_time.attach(client)
        await client.list_packs()
    [retry] = _messages(caplog, logging.WARNING)
    assert retry.startswith("list_packs: retry 1 of 2 after ")
    assert retry.endswith(" s: ServerError: 503 An unexpected error occurred")
    [call] = _messages(caplog, logging.INFO)
    assert "-> 200 in " in call
    assert ", 2 attempts, " in call


async def test_debug_shows_headers_and_bodies_without_secrets(
    sandbox: LocalSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Debug shows each attempt's headers and bodies; the key and credentials are scrubbed."""
    _log.configure("debug")
    options = {"default_headers": {"Authorization": TOKEN, "X-Trace": KEY}}
    async with sandbox.client(api_key=KEY, **options) as client:
        purchase = await client.buy(TOPPS, amount=1, user_id=KEY)  # the key even in a body
        await client.inventory(KEY)
    debug = _messages(caplog, logging.DEBUG)
    assert len(debug) == 2
    buy = debug[0]
    assert buy.startswith("POST /_/api/v1/vm/buy/init -> 200 in ")
    assert "X-API-Key: [redacted]" in buy
    assert "Authorization: [redacted]" in buy
    assert '"user_id": "[redacted]"' in buy
    assert purchase.session_id in buy  # the response body
    # Money as the server wrote it, not as a float would print it.
    assert str(purchase.nfts[0].buyback_price) in buy
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert KEY not in everything
    assert "t0ken" not in everything
    assert "sandbox-" not in everything


async def test_debug_cuts_a_large_body(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    """A 10 MB body is cut at 2 KB in the debug line, and the cut is said."""
    big = "x" * (10 * 1024 * 1024)
    recorder.add("GET", "/_/api/v1/inventory/u1", status=404, text=big, content_type="text/plain")
    _log.configure("debug")
    async with p.AsyncPhygitals(KEY, base_url=recorder.url + "/_", max_retries=0) as client:
        with pytest.raises(p.NotFoundError):
            await client.inventory("u1")
    [line] = _messages(caplog, logging.DEBUG)
    assert len(line) < 3 * _log.BODY_LIMIT
    assert f"[cut: {len(big) - _log.BODY_LIMIT} more of {len(big)} bytes not shown]" in line


async def test_a_key_across_the_cut_is_scrubbed_whole(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    """A key echoed where the 2 KB cut falls leaves not even its first characters."""
    body = "y" * (_log.BODY_LIMIT - 8) + KEY + "z" * 100
    recorder.add("GET", "/_/api/v1/inventory/u1", status=404, text=body, content_type="text/plain")
    _log.configure("debug")
    async with p.AsyncPhygitals(KEY, base_url=recorder.url + "/_", max_retries=0) as client:
        with pytest.raises(p.NotFoundError):
            await client.inventory("u1")
    [line] = _messages(caplog, logging.DEBUG)
    assert KEY[:8] not in line


async def test_nothing_is_built_when_info_is_off(
    client: p.AsyncPhygitals, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the logger above INFO a call makes no log record object at all."""
    LOGGER.setLevel(logging.WARNING)

    def refuse() -> None:
        pytest.fail("a CallLog was made although INFO is off")

    monkeypatch.setattr(_log, "CallLog", refuse)
    assert await client.list_packs()


def test_an_unknown_value_is_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    """PHYGITALS_LOG=verbose warns, naming the accepted values; the client is still made."""
    monkeypatch.setenv("PHYGITALS_LOG", "verbose")
    level = LOGGER.level
    with pytest.warns(RuntimeWarning, match="'verbose' is not understood.*info or debug"):
        client = p.AsyncPhygitals(KEY)
    assert client.is_sandbox
    assert LOGGER.level == level


def test_the_application_configured_logging_keeps_its_handlers() -> None:
    """With the root logger configured, the switch sets the level and adds no handler."""
    assert logging.getLogger().handlers  # pytest's capture handlers
    handlers = list(LOGGER.handlers)
    _log.configure("DEBUG")
    assert LOGGER.level == logging.DEBUG
    assert LOGGER.handlers == handlers


def test_unconfigured_logging_gets_one_stderr_handler() -> None:
    """In a process without logging set up, one stderr handler is attached, once."""
    script = textwrap.dedent(
        """
        import asyncio
        from phygitals_async.testing import LocalSandbox

        async def main():
            async with LocalSandbox() as sandbox:
                for _ in range(2):  # two clients: still one handler
                    async with sandbox.client() as client:
                        await client.list_packs()

        asyncio.run(main())
        """
    )
    result = run_script(script, env={"PHYGITALS_LOG": "info"})
    lines = [line for line in result.stderr.splitlines() if "list_packs GET" in line]
    assert len(lines) == 2, result.stderr
    assert all(" phygitals_async INFO: " in line for line in lines)


@pytest.mark.parametrize("where", ["the SDK's logger", "the root, after a first client"])
def test_logging_the_application_configured_gets_each_line_once(where: str) -> None:
    """A handler on phygitals_async itself, or logging set up after a client: no second one."""
    first_client = "" if where == "the SDK's logger" else "await one_call(sandbox)"
    setup = (
        "logging.getLogger('phygitals_async').addHandler(logging.StreamHandler(sys.stdout))"
        if where == "the SDK's logger"
        else "logging.basicConfig(stream=sys.stdout, level=logging.INFO)"
    )
    script = textwrap.dedent(
        f"""
        import asyncio, logging, sys
        from phygitals_async.testing import LocalSandbox

        async def one_call(sandbox):
            async with sandbox.client() as client:
                await client.list_packs()

        async def main():
            async with LocalSandbox() as sandbox:
                {first_client}
                {setup}
                await one_call(sandbox)

        asyncio.run(main())
        """
    )
    result = run_script(script, env={"PHYGITALS_LOG": "info"})
    after = result.stdout.count("list_packs GET")
    assert after == 1, result.stdout
    # Before the application's setup, one line on stderr at most (the first client's).
    assert result.stderr.count("list_packs GET") == (0 if first_client == "" else 1)
