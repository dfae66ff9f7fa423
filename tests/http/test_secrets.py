"""The API key is reachable from no exception, log record or warning, whatever goes wrong.

The fault matrix: the sandbox's fault injection on every kind of call, plus a raw loopback
server that answers malformed HTTP (and echoes the request, key included, back in its
status line, headers and body). Everything produced is searched: each exception's
``__cause__``/``__context__`` chain, attributes, ``repr``, ``vars``, formatted traceback
and the ``repr`` of each local of each frame in its traceback; every log record at DEBUG;
every warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from types import FunctionType, ModuleType, TracebackType
from typing import Any, Self

import aiohttp
import attrs
import pytest
import pytest_asyncio
from support import TOPPS, FakeTime

import phygitals_async as p
from phygitals_async.testing import Fault, LocalSandbox

SANDBOX_SECRET = "sandbox-s3cr3t-d0-not-leak"  # noqa: S105  fake keys whose leaks are hunted
PRODUCTION_SECRET = "pk_live_s3cr3t-d0-not-leak"  # noqa: S105


def _children(obj: object) -> list[tuple[str, object]]:
    """What an error tracker could reach from ``obj``: chains, attributes, items."""
    children: list[tuple[str, object]] = []
    if isinstance(obj, BaseException):
        children += [
            ("__cause__", obj.__cause__),
            ("__context__", obj.__context__),
            ("args", obj.args),
            ("notes", getattr(obj, "__notes__", None)),
        ]
    if isinstance(obj, dict):
        children += [(f"[{k!r}]", v) for k, v in obj.items()]
        children += [(f"key {k!r}", k) for k in obj]
    elif isinstance(obj, list | tuple | set | frozenset):
        children += [(f"[{i}]", v) for i, v in enumerate(obj)]
    cls = type(obj)
    if attrs.has(cls):
        children += [(f".{a.name}", getattr(obj, a.name)) for a in attrs.fields(cls)]
    if isinstance(getattr(obj, "__dict__", None), dict):
        children += [(f".{k}", v) for k, v in vars(obj).items()]
    children += [(f".{n}", getattr(obj, n, None)) for n in getattr(type(obj), "__slots__", ())]
    return children


def _texts(obj: object) -> list[tuple[str, str]]:
    """The texts ``obj`` shows: itself if text, its repr, its formatted traceback."""
    if isinstance(obj, str | bytes):
        return [("", obj if isinstance(obj, str) else obj.decode("latin-1"))]
    texts = []
    with contextlib.suppress(Exception):  # a failing repr shows nothing
        texts.append(("repr", repr(obj)))
    if isinstance(obj, BaseException):
        texts.append(("traceback", "".join(traceback.format_exception(obj))))
        texts += _frame_locals(obj.__traceback__)
    return texts


def _frame_locals(tb: TracebackType | None) -> list[tuple[str, str]]:
    """The ``repr`` of each local of each frame a traceback holds.

    What an error tracker that shows locals (Sentry, rich's ``show_locals``) prints.
    """
    texts = []
    while tb is not None:
        frame = tb.tb_frame
        for name, value in frame.f_locals.items():
            with contextlib.suppress(Exception):
                texts.append((f"local {name} of {frame.f_code.co_name}", repr(value)))
        tb = tb.tb_next
    return texts


_ATOMS = int | float | Decimal | type | ModuleType | FunctionType


def leaks(root: object, secret: str) -> list[str]:
    """Every path from ``root`` to something whose text holds ``secret``."""
    found: list[str] = []
    seen: set[int] = set()
    todo: list[tuple[object, str, int]] = [(root, "root", 0)]
    while todo:
        obj, path, depth = todo.pop()
        if obj is None or id(obj) in seen or depth > 10 or isinstance(obj, _ATOMS):
            continue
        seen.add(id(obj))
        found += [f"{how}({path})" for how, text in _texts(obj) if secret in text]
        if not isinstance(obj, str | bytes):
            todo += [(child, f"{path}{name}", depth + 1) for name, child in _children(obj)]
    return found


class Harvest:
    """Everything a run produced: exceptions, results, log records and warnings."""

    def __init__(self) -> None:
        self.outcomes: list[object] = []

    async def run(self, call: Awaitable[object]) -> None:
        try:
            self.outcomes.append(await call)
        except p.PhygitalsError as exc:
            self.outcomes.append(exc)

    def check(self, secret: str, records: list[logging.LogRecord], caught: list[Any]) -> None:
        assert any(isinstance(o, BaseException) for o in self.outcomes)
        for outcome in self.outcomes:
            assert leaks(outcome, secret) == [], repr(outcome)[:300]
        for record in records:
            assert secret not in record.getMessage()
            assert leaks(record.args, secret) == []
            if record.exc_info and record.exc_info[1] is not None:
                assert leaks(record.exc_info[1], secret) == []
        for warning in caught:
            assert secret not in str(warning.message)
            assert leaks(warning.message, secret) == []


# -- a raw loopback server speaking broken HTTP ------------------------------------------


def _answers(head: bytes) -> dict[str, bytes]:
    """Raw answers by name; ``head`` is the request head as received (key included)."""
    echoed = head.replace(b"\r\n", b" | ")
    return {
        "bad status line": b"HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n",
        "request as status line": head,
        "garbage": b"\x00\x01\x02 not http at all\r\n\r\n",
        "bad content-length": b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
        "short body": b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"a":',
        "bad chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
        "closed": b"",
        "echo in 200 body": b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
        % (len(echoed), echoed),
        "echo in 500 body": b"HTTP/1.1 500 Oops\r\nContent-Length: %d\r\n\r\n%s"
        % (len(echoed), echoed),
        "echo in json error": b"HTTP/1.1 400 Bad\r\nContent-Type: application/json\r\n"
        b'Content-Length: %d\r\n\r\n{"error": "%s"}' % (len(echoed) + 13, echoed),
        "echo in 429 headers": b"HTTP/1.1 429 Slow\r\nRetry-After: 600\r\nX-Echo: %s\r\n"
        b"Content-Length: 2\r\n\r\n{}" % echoed,
        "echo in 503 headers": b"HTTP/1.1 503 Busy\r\nRetry-After: 600\r\nX-Echo: %s\r\n"
        b"Content-Length: 2\r\n\r\n{}" % echoed,
        "redirect": b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/x\r\n"
        b"Content-Length: 0\r\n\r\n",
    }


ANSWERS = list(_answers(b""))


class RawServer:
    """Answers every request with the raw bytes named by ``self.answer``, then closes."""

    def __init__(self) -> None:
        self.answer = ANSWERS[0]
        self.url = ""
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            await reader.readexactly(length)
            writer.write(_answers(head)[self.answer])
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            await self._close(writer)

    async def _close(self, writer: asyncio.StreamWriter) -> None:
        self._writers.discard(writer)
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        # Connections still open (a client that never sent a request) are closed too, so
        # no socket is left for the garbage collector to warn about.
        for writer in list(self._writers):
            await self._close(writer)
        await self._server.wait_closed()


@pytest_asyncio.fixture
async def raw_server() -> AsyncIterator[RawServer]:
    async with RawServer() as server:
        yield server


CALLS: dict[str, Callable[[p.AsyncPhygitals], Awaitable[object]]] = {
    "inventory": lambda c: c.inventory("u"),
    "buy": lambda c: c.buy(TOPPS, amount=1, user_id="u"),
    "sell_back": lambda c: c.sell_back("i"),
    "purchase_status": lambda c: c.purchase_status("s"),
}


def fake_sleep(client: p.AsyncPhygitals) -> None:
    FakeTime().attach(client)


@pytest.mark.parametrize("session", ["own", "given"])
@pytest.mark.parametrize("answer", ANSWERS)
async def test_malformed_http_never_leaks_the_key(
    raw_server: RawServer, caplog: pytest.LogCaptureFixture, answer: str, session: str
) -> None:
    """Broken and key-echoing answers, on every retry class: the key is nowhere.

    With a session of the caller's, the key goes with each request's own headers.
    """
    caplog.set_level(logging.DEBUG)
    raw_server.answer = answer
    harvest = Harvest()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with contextlib.AsyncExitStack() as stack:
            given = None
            if session == "given":
                given = await stack.enter_async_context(aiohttp.ClientSession())
            # A production key over plain http is allowed to a loopback host only.
            client = await stack.enter_async_context(
                p.AsyncPhygitals(
                    api_key=PRODUCTION_SECRET,
                    base_url=raw_server.url,
                    max_retries=1,
                    http_session=given,
                )
            )
            fake_sleep(client)
            for call in CALLS.values():
                await harvest.run(call(client))
    harvest.check(PRODUCTION_SECRET, caplog.records, caught)


SANDBOX_FAULTS: dict[str, Callable[[str], Fault]] = {
    "drop_before": lambda route: Fault.drop_before(route=route),
    "drop_after": lambda route: Fault.drop_after(route=route),
    "503 retry-after": lambda route: Fault.status(503, route=route, retry_after=1),
    "429 retry-after": lambda route: Fault.status(
        429, route=route, retry_after=600, body={"error": "slow"}
    ),
    "html_502": lambda route: Fault.html_error(502, route=route),
    "malformed_json": lambda route: Fault.malformed_json(route=route),
    "latency": lambda route: Fault.latency(0.5, route=route),
}
ROUTES = {
    "inventory": "inventory",
    "buy": "vm/buy/init",
    "sell_back": "vm/buyback",
    "purchase_status": "vm/buy/status",
}


@pytest.mark.parametrize("fault", SANDBOX_FAULTS)
async def test_the_sandbox_fault_matrix_never_leaks_the_key(
    sandbox: LocalSandbox, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    """Every injected fault on every retry class, plus polls and bulk runs: the key is nowhere."""
    caplog.set_level(logging.DEBUG)
    harvest = Harvest()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with sandbox.client(api_key=SANDBOX_SECRET, timeout=0.25) as client:
            fake_sleep(client)
            purchase = await client.buy(TOPPS, amount=2, user_id="u")
            for route in ROUTES.values():
                sandbox.faults.add(SANDBOX_FAULTS[fault](route))
            for name, call in CALLS.items():
                if name == "sell_back":
                    await harvest.run(client.sell_back(purchase.nfts[0].id))
                else:
                    await harvest.run(call(client))
            await harvest.run(client.wait_for_purchase(purchase.session_id, timeout=0.2))
            report = await client.sell_back_many([n.id for n in purchase.nfts], user_id="u")
            harvest.outcomes.append(report)
    async with p.AsyncPhygitals(api_key=SANDBOX_SECRET, base_url="http://127.0.0.1:9/_") as dead:
        await harvest.run(dead.list_packs(max_retries=0))
    harvest.check(SANDBOX_SECRET, caplog.records, caught)


def test_the_blocking_client_never_leaks_the_key(
    threaded: LocalSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Errors raised through the blocking facade carry no key either."""
    caplog.set_level(logging.DEBUG)
    threaded.faults.add(Fault.drop_after(route="vm/buy/init"))
    threaded.faults.add(Fault.malformed_json(route="card"))
    errors: list[BaseException] = []
    with threaded.sync_client(api_key=SANDBOX_SECRET, max_retries=0) as client:
        for call in (
            lambda: client.buy(TOPPS, amount=1, user_id="u"),
            lambda: client.card("nope"),
            lambda: client.inventory("nobody"),
        ):
            with pytest.raises(p.PhygitalsError) as caught:
                call()
            errors.append(caught.value)
    for error in errors:
        assert leaks(error, SANDBOX_SECRET) == []
    assert all(SANDBOX_SECRET not in r.getMessage() for r in caplog.records)


def test_the_leak_search_finds_a_chained_library_exception() -> None:
    """The search itself works: a key in a cause's attribute's repr is found."""

    @attrs.frozen
    class RequestInfo:
        headers: dict[str, str]

    class LibraryError(Exception):
        def __init__(self) -> None:
            super().__init__("boom")
            self.request_info = RequestInfo({"X-API-Key": SANDBOX_SECRET})

    error = p.APIConnectionError("failed")
    error.__context__ = LibraryError()
    assert leaks(error, SANDBOX_SECRET)


def _async_view() -> object:
    return p.AsyncPhygitals(api_key=SANDBOX_SECRET).with_options(timeout=-1)


def _blocking_view() -> object:
    with p.Phygitals(api_key=SANDBOX_SECRET) as client:
        return client.with_options(max_retries=-1)


_API = "https://api.phygitals.com"

# Each refusal reads the key from this module (or the environment): no frame of the test's
# own holds it, so any frame found holding it is the client's.
_REFUSED: list[tuple[str, Callable[[], object]]] = [
    (SANDBOX_SECRET, lambda: p.AsyncPhygitals(api_key=SANDBOX_SECRET, base_url=_API)),
    (SANDBOX_SECRET, lambda: p.AsyncPhygitals(api_key=SANDBOX_SECRET, base_url=f"{_API}//_")),
    (PRODUCTION_SECRET, lambda: p.AsyncPhygitals(api_key=PRODUCTION_SECRET, base_url="http://a.b")),
    (SANDBOX_SECRET, lambda: p.AsyncPhygitals(api_key=SANDBOX_SECRET, timeout=-1)),
    (SANDBOX_SECRET, lambda: p.AsyncPhygitals(api_key=SANDBOX_SECRET + " x")),
    (
        SANDBOX_SECRET,
        lambda: p.AsyncPhygitals(
            api_key=SANDBOX_SECRET, default_headers={"X-API-Key": SANDBOX_SECRET}
        ),
    ),
    (PRODUCTION_SECRET, lambda: p.AsyncPhygitals(base_url="http://a.b")),  # the environment's
    (SANDBOX_SECRET, lambda: p.Phygitals(api_key=SANDBOX_SECRET, timeout=-1)),
    (SANDBOX_SECRET, lambda: p.Phygitals(api_key=SANDBOX_SECRET, base_url=_API)),
    (SANDBOX_SECRET, _async_view),
    (SANDBOX_SECRET, _blocking_view),
    (
        PRODUCTION_SECRET,
        lambda: p.AsyncPhygitals(api_key=PRODUCTION_SECRET, base_url="http://a%00b"),
    ),
    (SANDBOX_SECRET, lambda: p.AsyncPhygitals(api_key=SANDBOX_SECRET, trace_configs=5)),  # type: ignore[arg-type]
    (SANDBOX_SECRET, lambda: p.Phygitals(api_key=SANDBOX_SECRET, trace_configs=5)),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("secret", "refused"), _REFUSED)
def test_a_client_refused_at_construction_never_leaks_the_key(
    monkeypatch: pytest.MonkeyPatch, secret: str, refused: Callable[[], object]
) -> None:
    """A configuration error leaves no frame holding the key, and formats with its locals."""
    monkeypatch.setenv("PHYGITALS_API_KEY", PRODUCTION_SECRET)
    error = _raised(refused)
    assert leaks(error, secret) == []
    shown = traceback.TracebackException.from_exception(error, capture_locals=True)
    assert secret not in "".join(shown.format())


def _raised(refused: Callable[[], object]) -> Exception:
    """The error ``refused`` raises, from a frame that holds no key (unlike the test's).

    A configuration error, or a ``TypeError`` for an argument of the wrong type.
    """
    try:
        refused()
    except (p.ConfigurationError, TypeError) as exc:
        return exc
    raise AssertionError("accepted")


def _built_while_handling_an_error() -> None:
    try:
        int("not a number")
    except ValueError:
        p.AsyncPhygitals(api_key=SANDBOX_SECRET, timeout=-1)


def test_a_refused_construction_keeps_the_callers_context() -> None:
    """Built while handling another error, the refusal still shows that error as context."""
    with pytest.raises(p.ConfigurationError) as caught:
        _built_while_handling_an_error()
    assert isinstance(caught.value.__context__, ValueError)
    assert not caught.value.__suppress_context__
