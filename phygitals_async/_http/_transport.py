"""The one HTTP seam: every request of the SDK leaves through :meth:`Transport.request`.

Retries, the overall deadline, the session and logging live here once; what a call is
(its :class:`~._calls.RetryPolicy` and decode target) is in :mod:`._calls`, and how one
answer is read (decoding, error mapping) in :mod:`._answers`. Times are float seconds.

A request counts as sent once its connection is established: aiohttp reports every failure
before that (refused, DNS, TLS, proxy, or a timeout while connecting) as
``ClientConnectorError`` or ``ConnectionTimeoutError``, and anything else may have reached
the server. A BUYBACK or UNSAFE request that fails after that point raises
:class:`OutcomeUnknownError` and is never resent.

``Retry-After`` (on 429 and 5xx) sets the wait wherever a retry is allowed; a wait longer
than ``max_retry_wait`` or than the time left before the deadline is not waited: the
error is raised at once, carrying ``.retry_after``.

Hostile input stops here too: request bodies are standard JSON or an
:class:`InvalidRequestError` before any byte is sent; response bodies are read up to
``MAX_BODY_BYTES`` and go through :func:`._limits.decode_json` (bounded numbers and
nesting), error messages through :func:`._limits.cap_message`; the API key is scrubbed by
:mod:`._secrets`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections.abc import Awaitable, Coroutine, Mapping, Sequence
from typing import Any, TypeVar

import aiohttp
import attrs
import yarl

from .. import _errors, _fork, _tracing
from .._config import SANDBOX_PREFIX, Settings
from .._validation import require_int, require_seconds
from . import _log
from ._answers import Reader, Retryable
from ._calls import Call, encode_body
from ._failures import AttemptError, attempt_error, connection_failure, library_error, retry_delay
from ._observe import Attempt, observers, tell, wait_to_retry
from ._pool import MAX_BODY, env_proxy, own_session, read_body
from ._secrets import scrub_body, scrub_headers

__all__ = ["Transport"]

T = TypeVar("T")

log = _tracing.log


# The span of a call when tracing is off: reusable, and every method on it is a no-op.
_NO_TRACE = _tracing.CallTrace(None)
_NO_SPAN = contextlib.nullcontext(_NO_TRACE)


# A first attempt leaves within this many seconds of its deadline being set: it is given
# the whole budget (aiohttp rounds limits of 5 s and more up to whole seconds anyway).
_FRESH = 0.001
_KEEP_TIMEOUTS = 16  # budgets remembered per client (a call's timeout= is one more)
_CLOSED_IN_FLIGHT = "this client was closed while the call was in flight"
_AUTH_HINT = (
    " (the key does not start with '{0}', so it was used as a production key at {1};"
    " sandbox keys start with '{0}')"
)


class Transport:
    """Owns the aiohttp session; sends calls with retries under one deadline."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._api_key = settings.api_key
        self._secret = settings.api_key.encode()
        # A sandbox key typed without its prefix goes to production and gets a bare 401.
        sandbox = settings.api_key.startswith(SANDBOX_PREFIX)
        self._auth_hint = "" if sandbox else _AUTH_HINT.format(SANDBOX_PREFIX, settings.base_url)
        self._external = settings.http_session
        # A caller-owned session has its own default headers: ours go with each request.
        self._get_headers = dict(settings.headers) if self._external is not None else None
        self._post_headers = {**(self._get_headers or {}), "Content-Type": "application/json"}
        # A body can name its own type (no headers merged per request) only where nothing
        # else would: no Content-Type among the default headers, and no trace hook that
        # reads a request's headers as it starts.
        self._typed_body = (
            self._external is None
            and not settings.trace_configs
            and all(name.lower() != "content-type" for name in settings.headers)
        )
        # Set on views made by with_options: the transport that owns the session.
        self._root: Transport | None = None
        self._forked_away = False
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[str | tuple[str, tuple[tuple[str, str], ...]], yarl.URL] = {}
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._reader = Reader(strict=settings.strict_decoding)
        self._proxy: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        # Answers whose body is still arriving (shared with views): aclose() ends them.
        self._reading: set[aiohttp.StreamReader] = set()

    def _url(self, path: str, params: Sequence[tuple[str, str]] | None = None) -> yarl.URL:
        # Most calls hit a handful of fixed paths and queries; building a URL (and encoding
        # its query) once per distinct call saves several microseconds per request.
        key = (path, tuple(params)) if params else path
        url = self._urls.get(key)
        if url is None:
            url = yarl.URL(self.settings.base_url + path, encoded=True)
            if params:
                url = url.extend_query(params)
            if len(self._urls) < 1024:
                self._urls[key] = url
        return url

    @property
    def base_url(self) -> str:
        """The URL every path is appended to."""
        return self.settings.base_url

    @property
    def external_session(self) -> aiohttp.ClientSession | None:
        """The caller-owned session, if the client was given one."""
        return self._external

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` has run (on the transport that owns the session)."""
        return self._root.closed if self._root is not None else self._closed

    def with_options(
        self, *, timeout: float | None = None, max_retries: int | None = None
    ) -> Transport:
        """A view with other defaults that shares this transport's session and pool.

        Options left ``None`` keep this transport's value; the others are checked again.
        """
        changes: dict[str, Any] = {}
        if timeout is not None:
            changes["timeout"] = timeout
        if max_retries is not None:
            changes["max_retries"] = max_retries
        try:
            settings = attrs.evolve(self.settings, **changes)
        except Exception as exc:  # noqa: BLE001  re-raised as it is, without its frames
            # attrs.evolve's frame holds every setting, the key among them: the error
            # leaves without it (error trackers print the locals of each frame).
            raise exc.with_traceback(None)  # noqa: B904  the same error, context kept
        view = copy.copy(self)
        view.settings = settings
        view._root = self._root or self  # noqa: SLF001  a copy of this same class
        return view

    def _get_session(self) -> aiohttp.ClientSession:
        if self._root is not None:
            return self._root._get_session()  # noqa: SLF001  the owner of the session
        if self._closed:
            msg = "this client is closed; create a new one"
            raise _errors.ClientClosedError(msg)
        if self._forked_away:
            msg = (
                "this client was given an http_session in the parent process; after a fork, "
                "create the session and the client in the child"
            )
            raise _errors.ConfigurationError(msg)
        loop = asyncio.get_running_loop()
        if self._session is None:
            # aiohttp has no public accessor for a session's loop (.loop is deprecated); a
            # session from another loop would fail deep inside aiohttp with a RuntimeError.
            if self._external is not None and getattr(self._external, "_loop", loop) is not loop:
                msg = "the http_session was created in another event loop than this call's"
                raise _errors.ConfigurationError(msg)
            self._loop = loop
            _fork.register(self)
            settings = self.settings
            self._proxy = env_proxy(settings.base_url) if settings.trust_env else None
            self._session = self._external or own_session(settings)
        elif self._loop is not loop:
            msg = (
                "an AsyncPhygitals client is bound to the event loop it first ran in "
                "(a second asyncio.run() is a new loop); create one client per event loop, "
                "e.g. 'async with AsyncPhygitals() as client' inside the coroutine you run"
            )
            raise _errors.ConfigurationError(msg)
        if self._external is not None and self._external.closed:
            msg = "the http_session given to this client was closed by its owner"
            raise _errors.ClientClosedError(msg)
        return self._session

    def after_fork_in_child(self) -> None:
        """In a forked child: leave the parent's session untouched; the next call makes one."""
        if self._session is not None:
            _fork.abandon(self._session)
            self._session = None
            self._loop = None
        # A caller's session is the parent's (its loop, its sockets): never ours to reuse.
        self._forked_away = self._external is not None

    async def aclose(self) -> None:
        """Close the session; later calls raise. Safe to call more than once.

        A view (from :meth:`with_options`) owns nothing, so closing it does nothing; a
        caller-owned ``http_session`` is left open for its owner to close.
        """
        if self._root is not None:
            return
        self._closed = True
        # aiohttp drops a closed connection's body reader without a word: a body still
        # arriving would be waited for until the call's deadline.
        for reading in self._reading:
            reading.set_exception(aiohttp.ClientConnectionError("the client was closed"))
        session, self._session = self._session, None
        if session is not None and session is not self._external:
            await session.close()

    def request(
        self,
        call: Call[T],
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> Coroutine[Any, Any, T]:
        """Send ``call``, retrying as its class allows; a 2xx body decoded into ``call.into``.

        ``timeout`` (seconds) bounds the whole call: every attempt and every wait between.
        Awaited at once by every caller: a bad argument or a closed client raises here,
        before the coroutine that sends exists (one coroutine less on every call).
        """
        settings = self.settings
        budget = settings.timeout if timeout is None else require_seconds("timeout", timeout)
        retries = settings.max_retries if max_retries is None else max_retries
        if max_retries is not None:
            require_int("max_retries", max_retries, minimum=0)
        body = encode_body(call)
        session = self._get_session()
        deadline = settings.clock() + budget
        url = self._url(call.path, call.params)
        # A call nobody logs or traces goes straight to _send: one coroutine, no context.
        if log.isEnabledFor(logging.INFO) or _tracing.enabled():
            return self._observed(session, call, url, body, budget, retries, deadline)
        return self._send(session, call, url, body, budget, retries, deadline, _NO_TRACE, None)

    async def _observed(
        self,
        session: aiohttp.ClientSession,
        call: Call[T],
        url: yarl.URL,
        body: bytes | None,
        budget: float,
        retries: int,
        deadline: float,
    ) -> T:
        """The call inside its span (tracing on) and with its INFO line (INFO on).

        The INFO line is written once the span has ended, however the call ends.
        """
        note = _log.CallLog() if log.isEnabledFor(logging.INFO) else None
        span = (
            _tracing.call_span(call.operation, call.method, str(url))
            if _tracing.enabled()
            else _NO_SPAN
        )
        try:
            with span as trace:
                result = await self._send(
                    session, call, url, body, budget, retries, deadline, trace, note
                )
        except BaseException as exc:
            if note is not None:
                note.finish(call.operation, call.method, url.raw_path, exc, self._api_key)
            raise
        if note is not None:
            note.finish(call.operation, call.method, url.raw_path, None, self._api_key)
        return result

    async def _send(  # noqa: PLR0913, PLR0917  a call's state, passed as is: nothing built
        self,
        session: aiohttp.ClientSession,
        call: Call[T],
        url: yarl.URL,
        body: bytes | None,
        budget: float,
        retries: int,
        deadline: float,
        trace: _tracing.CallTrace,
        note: _log.CallLog | None,
    ) -> T:
        """The attempts of one call and the waits between them, under its deadline.

        Each attempt's request is made here, not in a coroutine of its own: under many
        concurrent calls every layer of coroutines costs each call its share.
        """
        clock = self.settings.clock
        attempt = 0
        while True:
            remaining = deadline - clock()
            if remaining <= 0:
                raise _errors.APITimeoutError(
                    f"{call.operation} did not complete within {budget:g} s"
                )
            if self.closed:  # closed while waiting to retry: it never reconnects
                raise _errors.ClientClosedError(_CLOSED_IN_FLIGHT)
            started = time.perf_counter() if note is not None else 0.0
            answer: tuple[int, Mapping[str, str], bytes] | AttemptError
            response: aiohttp.ClientResponse | None
            try:
                async with session.request(
                    call.method, url, **self._options(body, self._timeout(remaining, budget))
                ) as response:
                    self._reading.add(response.content)
                    try:  # no local holds what is not scrubbed yet
                        answer = self._scrubbed(response, await self._body(response))
                    finally:
                        self._reading.discard(response.content)
            except (aiohttp.ClientError, OSError, asyncio.CancelledError) as exc:
                # A cancel is the caller's, unless the blocking client's close() ends a POST.
                if isinstance(exc, asyncio.CancelledError) and (
                    not self.closed or call.retry.after_sent
                ):
                    raise
                # Kept, not raised here: a raise inside this block would attach the
                # library's exception (and the key in its request_info) as __context__.
                answer = attempt_error(exc, self._api_key)
            response = None  # its headers are not scrubbed: never in an error's traceback
            if note is not None:
                self._note(note, call, url, body, started, answer)
            outcome = self._outcome(call, url, answer, budget, deadline, trace)
            if not isinstance(outcome, Retryable):
                return outcome
            attempt += 1
            delay = self._retry_delay(call, outcome, (attempt, retries), deadline, trace)
            if delay > 0:
                await wait_to_retry(delay, self.settings.sleep)

    def _retry_delay(
        self,
        call: Call[Any],
        outcome: Retryable,
        attempts: tuple[int, int],
        deadline: float,
        trace: _tracing.CallTrace,
    ) -> float:
        """The wait before attempt number ``attempts[0] + 1``, or the outcome's error raised."""
        attempt, retries = attempts
        if attempt > retries:
            raise outcome.error from outcome.cause
        delay = retry_delay(self.settings, outcome, attempt - 1, deadline)
        if delay is None:
            raise outcome.error from outcome.cause
        trace.retry(delay, retry_after=outcome.retry_after is not None)
        _log.retry_line(call.operation, (attempt, retries, delay), outcome, self._api_key)
        return delay

    def _note(
        self,
        note: _log.CallLog,
        call: Call[Any],
        url: yarl.URL,
        body: bytes | None,
        started: float,
        answer: tuple[int, Mapping[str, str], bytes] | AttemptError,
    ) -> None:
        """One attempt's DEBUG lines, and its part of the call's INFO line."""
        sent = self._post_headers if body is not None else None
        _log.attempt(
            note,
            (call.method, url.raw_path_qs, started),
            (self.settings.headers, sent, body),
            str(answer.cause) if isinstance(answer, AttemptError) else answer,
            self._api_key,
        )

    def _outcome(
        self,
        call: Call[T],
        url: yarl.URL,
        answer: tuple[int, Mapping[str, str], bytes] | AttemptError,
        budget: float,
        deadline: float,
        trace: _tracing.CallTrace,
    ) -> T | Retryable:
        """What one attempt's answer means: the result, a :class:`Retryable`, or raised."""
        if isinstance(answer, AttemptError):
            trace.attempt(error=library_error(answer.cause))
            failure = connection_failure(
                call, answer, budget, deadline, self.settings, closed=self.closed
            )
            if not (call.retry.after_sent if answer.sent else call.retry.before_sent):
                if isinstance(failure, _errors.OutcomeUnknownError):
                    self._lost(call, url, failure)
                raise failure from answer.cause
            if self.closed:  # aclose() dropped the connection: that is the reason to report
                raise _errors.ClientClosedError(_CLOSED_IN_FLIGHT) from answer.cause
            return Retryable(failure, None, answer.cause)
        status, headers, _ = answer
        if trace is not _NO_TRACE:
            trace.attempt(status=status)
        seen = observers()
        if seen:
            tell(seen, Attempt(call.method, url, status, headers))
        if status == 401 and self._auth_hint:
            return self._unauthorized(call, url, answer)
        return self._reader.read(call, url, *answer)

    def _lost(self, call: Call[Any], url: yarl.URL, failure: Exception) -> None:
        """Log an answer lost for good: a WARNING, unless an observer settles it itself."""
        seen = observers()
        # A bulk run reconciles its lost answers through the inventory, and says so once.
        settled = bool(seen) and tell(seen, Attempt(call.method, url, None, {}, lost=True))
        level = logging.DEBUG if settled else logging.WARNING
        log.log(level, "%s", _tracing.redacted(str(failure), self._api_key))

    def _unauthorized(
        self, call: Call[T], url: yarl.URL, answer: tuple[int, Mapping[str, str], bytes]
    ) -> T | Retryable:
        """A 401 for a key without the ``sandbox-`` prefix: say what the prefix does."""
        try:
            return self.answer(call, url, *answer)
        except _errors.AuthenticationError as exc:
            exc.args = (f"{exc}{self._auth_hint}",)
            raise

    def answer(
        self,
        call: Call[T],
        url: yarl.URL,
        status: int,
        headers: Mapping[str, str],
        raw: bytes,
    ) -> T | Retryable:
        """A response as the decoded result, a :class:`Retryable`, or a raised error.

        Everything a server can send ends here as a model or a :class:`PhygitalsError`.
        """
        return self._reader.read(call, url, status, headers, raw)

    def _timeout(self, remaining: float, budget: float) -> aiohttp.ClientTimeout:
        """The limits of one attempt: the time left of the call, and the socket limits."""
        if budget - remaining > _FRESH:  # a retry: what is left of the deadline
            return self._limits(remaining)
        # A first attempt has its whole budget: one object per budget, not one per request.
        timeout = self._timeouts.get(budget)
        if timeout is None:
            timeout = self._limits(budget)
            if len(self._timeouts) < _KEEP_TIMEOUTS:
                self._timeouts[budget] = timeout
        return timeout

    def _limits(self, total: float) -> aiohttp.ClientTimeout:
        settings = self.settings
        return aiohttp.ClientTimeout(
            total=total, sock_connect=settings.connect_timeout, sock_read=settings.read_timeout
        )

    def _options(self, body: bytes | None, timeout: aiohttp.ClientTimeout) -> dict[str, Any]:
        """One attempt's options (a new body each time); never a local of _send: keyed headers."""
        data: bytes | aiohttp.BytesPayload | None = body
        sent = self._get_headers
        if body is not None and self._typed_body:
            data = aiohttp.BytesPayload(body, content_type="application/json")
        elif body is not None:  # over any Content-Type of the session's
            sent = self._post_headers
        return {
            "data": data,
            "headers": sent,
            "timeout": timeout,
            "allow_redirects": False,
            "proxy": self._proxy,
        }

    @staticmethod
    def _body(response: aiohttp.ClientResponse) -> Awaitable[bytes]:
        """The read of the answer's body, bounded (see :func:`._pool.read_body`).

        A plain body of a stated length within the bound is read at once; any other is
        counted as it arrives.
        """
        small = (n := response.content_length) is not None and n <= MAX_BODY
        if small and "Content-Encoding" not in response.headers:
            return response.read()
        return read_body(response, MAX_BODY)

    def _scrubbed(
        self, response: aiohttp.ClientResponse, body: bytes
    ) -> tuple[int, Mapping[str, str], bytes]:
        """The answer's status, headers and body, the key scrubbed from them."""
        headers = scrub_headers(response.headers, self._api_key)
        return response.status, headers, scrub_body(body, self._secret)
