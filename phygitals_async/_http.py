"""The one HTTP seam: every request of the SDK leaves through :meth:`Transport.request`.

Retries, the overall deadline, error mapping, decoding and logging live here once.
All times are seconds as float.

Retry classes (see the README's "Retries and money safety"), each a :class:`RetryPolicy`
value on :class:`Retry`, which is the one place they are defined::

    SAFE      GETs and buy/status      connection errors, timeouts, 429, 5xx, unreadable 2xx
    BUYBACK   vm/buyback               429, connection errors before the request was sent
    UNSAFE    buy/init, ship/*         connection errors before the request was sent

A request counts as sent once its connection is established: aiohttp reports every failure
before that (refused, DNS, TLS, proxy, or a timeout while connecting) as
``ClientConnectorError`` or ``ConnectionTimeoutError``, and anything else may have reached
the server. A BUYBACK or UNSAFE request that fails after that point raises
:class:`OutcomeUnknownError` and is never resent.

``Retry-After`` (on 429 and 5xx) sets the wait wherever a retry is allowed; a wait longer
than ``max_retry_wait`` or than the time left before the deadline is not waited: the
error is raised at once, carrying ``.retry_after``.

Hostile input stops here too: request bodies are standard JSON or an
:class:`InvalidRequestError` before any byte is sent; response bodies go through
:func:`._limits.decode_json` (bounded numbers and nesting) and error messages through
:func:`._limits.cap_message`; the API key is scrubbed by :mod:`._secrets`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import gc
import json
import logging
import math
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import MappingProxyType
from typing import Any, Final, Generic, TypeVar, cast

import aiohttp
import attrs
import cattrs
import yarl

from . import _errors, _fork, _response, _tracing
from ._config import Settings
from ._converters import NOT_DECODED, converter, explain, fast_decoder
from ._limits import BodyError, cap_message, decode_json, short_repr
from ._secrets import sanitized, scrub_body, scrub_headers
from ._throttle import on_rate_limited
from ._validation import require_int, require_seconds

__all__ = ["Call", "OneOf", "Retry", "RetryPolicy", "Transport"]

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")

log = _tracing.log


@attrs.frozen
class RetryPolicy:
    """Which failures a call may be resent after; a ``Retry-After`` sets the wait if allowed.

    Attributes:
        statuses: error statuses resent besides 5xx (e.g. 429).
        server_errors: every 5xx is resent.
        before_sent: connection errors before the request went out are resent.
        after_sent: connection errors and timeouts after it went out are resent; otherwise
            they raise :class:`OutcomeUnknownError`.
        unreadable_2xx: a 2xx body that does not decode is fetched again.
        retry_after: a ``Retry-After`` header sets the wait before the next attempt.
    """

    statuses: frozenset[int] = frozenset()
    server_errors: bool = False
    before_sent: bool = True
    after_sent: bool = False
    unreadable_2xx: bool = False
    retry_after: bool = True

    def retries_status(self, status: int) -> bool:
        """Whether an error answer with this status may be resent."""
        return status in self.statuses or (self.server_errors and status >= 500)


class Retry:
    """The retry classes of the table above; every :class:`Call` names one."""

    SAFE: Final = RetryPolicy(
        statuses=frozenset({429}), server_errors=True, after_sent=True, unreadable_2xx=True
    )
    BUYBACK: Final = RetryPolicy(statuses=frozenset({429}))
    UNSAFE: Final = RetryPolicy()


# Shared by every call that records no arguments, instead of a new dict per call.
_NO_ARGUMENTS: Mapping[str, Any] = MappingProxyType({})


@attrs.frozen
class OneOf(Generic[T]):
    """A decode target that is one of two models: the union ``type[T]`` cannot spell.

    ``OneOf.either(PurchaseResult, PurchasePending)`` is a ``OneOf[PurchaseResult |
    PurchasePending]``, so the call that decodes into it returns exactly that union.
    """

    form: Any

    @staticmethod
    def either(first: type[A], second: type[B]) -> OneOf[A | B]:
        """The target that decodes into ``first`` or ``second`` (the converter tells which)."""
        return OneOf(first | second)


@attrs.frozen
class Call(Generic[T]):
    """One API operation as the seam sees it: a 2xx body decodes into ``into``.

    ``path`` is already percent-encoded. ``arguments`` is what an
    :class:`OutcomeUnknownError` reports the call was made with.
    """

    operation: str
    method: str
    path: str
    retry: RetryPolicy
    into: type[T] | OneOf[T]
    arguments: Mapping[str, Any] = attrs.field(default=_NO_ARGUMENTS, kw_only=True)
    params: Sequence[tuple[str, str]] | None = attrs.field(default=None, kw_only=True)
    json: Mapping[str, Any] | None = attrs.field(default=None, kw_only=True)

    @property
    def form(self) -> Any:
        """The runtime type the converter decodes into."""
        return self.into.form if isinstance(self.into, OneOf) else self.into

    @classmethod
    def get(
        cls,
        operation: str,
        path: str,
        retry: RetryPolicy,
        into: type[T] | OneOf[T],
        *,
        params: Sequence[tuple[str, str]] | None = None,
    ) -> Call[T]:
        """A GET of ``path`` (with the query ``params``)."""
        return cls(operation, "GET", path, retry, into, params=params)

    @classmethod
    def post(
        cls,
        operation: str,
        path: str,
        retry: RetryPolicy,
        into: type[T] | OneOf[T],
        *,
        json: Mapping[str, Any],
        arguments: Mapping[str, Any] | None = None,
    ) -> Call[T]:
        """A POST of the JSON body ``json``.

        ``arguments`` (default: the body) is what an :class:`OutcomeUnknownError` reports
        the call was made with.
        """
        reported = json if arguments is None else arguments
        return cls(operation, "POST", path, retry, into, arguments=reported, json=json)


@attrs.frozen
class _AttemptError:
    """An attempt ended without a response; ``sent`` says whether the request went out.

    ``cause`` is the library's exception as sanitized text (see :mod:`._secrets`).
    """

    cause: BaseException
    sent: bool
    timed_out: bool


@attrs.frozen
class _Retryable:
    """An attempt's failure that the call's retry class allows resending after."""

    error: _errors.PhygitalsError
    retry_after: float | None
    cause: BaseException | None


# The span of a call when tracing is off: reusable, and every method on it is a no-op.
_NO_SPAN = contextlib.nullcontext(_tracing.CallTrace(None))

# Bodies from this size up are decoded with the cyclic GC paused (see _gc_paused).
GC_PAUSE_BYTES = 64 * 1024


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while a large body is parsed and turned into models.

    The parsed JSON holds no reference cycles, yet every few hundred allocations the GC
    rescans all of it: for a 10,000-item inventory that doubles the decode time. Decoding
    never awaits, so the pause is bounded by the decode itself. A GC the caller disabled
    stays disabled.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _env_proxy(base_url: str) -> str | None:
    """The proxy for ``base_url`` from ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``, if any."""
    url = yarl.URL(base_url)
    proxy = urllib.request.getproxies().get(url.scheme)
    if not proxy or (url.host and urllib.request.proxy_bypass(url.host)):
        return None
    return proxy


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # "nan" and "inf" parse as floats but are no delay at all.
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


_CLOSED_IN_FLIGHT = "this client was closed while the call was in flight"


class _ConnectorClosedError(aiohttp.ClientConnectionError):
    """A new connection was asked for after :meth:`Transport.aclose`; none was opened."""


class _Connector(aiohttp.TCPConnector):
    """A connector that opens no connection once closed.

    aiohttp resends an idempotent request once when its pooled connection drops, and the
    resend asks the connector for a fresh connection even after ``close()`` closed the pool
    under it: closing a client with a GET in flight would open a socket the close never
    waits for, left half-open when the event loop stops.
    """

    async def connect(
        self,
        req: aiohttp.ClientRequest,
        traces: list[aiohttp.tracing.Trace],
        timeout: aiohttp.ClientTimeout,
    ) -> aiohttp.connector.Connection:
        if self.closed:
            raise _ConnectorClosedError("the connection pool is closed")
        return await super().connect(req, traces, timeout)


class Transport:
    """Owns the aiohttp session; sends calls with retries under one deadline."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._api_key = settings.api_key
        self._secret = settings.api_key.encode()
        self._external = settings.http_session
        # A caller-owned session has its own default headers: ours go with each request.
        self._get_headers = dict(settings.headers) if self._external is not None else None
        self._post_headers = {**(self._get_headers or {}), "Content-Type": "application/json"}
        # Set on views made by with_options: the transport that owns the session.
        self._root: Transport | None = None
        self._forked_away = False
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[str | tuple[str, tuple[tuple[str, str], ...]], yarl.URL] = {}
        self._converter = converter()
        # The msgspec path when the speedups extra is installed; the converter decides the rest.
        self._fast = fast_decoder()
        self._proxy: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

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
        settings = attrs.evolve(self.settings, **changes)
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
            self._proxy = _env_proxy(settings.base_url) if settings.trust_env else None
            self._session = self._external or aiohttp.ClientSession(
                connector=_Connector(limit=settings.max_connections, ssl=settings.ssl),
                headers=dict(settings.headers),
                # Proxies come from _env_proxy, read once: aiohttp's trust_env would look
                # them (and .netrc) up in a thread on every request, tripling the latency.
                trust_env=False,
                trace_configs=list(settings.trace_configs) or None,
            )
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
        session, self._session = self._session, None
        if session is not None and session is not self._external:
            await session.close()

    async def request(
        self,
        call: Call[T],
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> T:
        """Send ``call``, retrying as its class allows; a 2xx body decoded into ``call.into``.

        ``timeout`` (seconds) bounds the whole call: every attempt and every wait between.
        """
        settings = self.settings
        budget = settings.timeout if timeout is None else require_seconds("timeout", timeout)
        retries = settings.max_retries if max_retries is None else max_retries
        if max_retries is not None:
            require_int("max_retries", max_retries, minimum=0)
        body = _encode_body(call)
        session = self._get_session()
        clock = settings.clock
        deadline = clock() + budget
        url = self._url(call.path, call.params)
        span = (
            _tracing.call_span(call.operation, call.method, str(url))
            if _tracing.enabled()
            else _NO_SPAN
        )
        with span as trace:
            attempt = 0
            while True:
                remaining = deadline - clock()
                if remaining <= 0:
                    raise _errors.APITimeoutError(
                        f"{call.operation} did not complete within {budget:g} s"
                    )
                outcome = await self._once(
                    session, call, url, body, remaining, budget, deadline, trace
                )
                if not isinstance(outcome, _Retryable):
                    return outcome
                if attempt >= retries:
                    raise outcome.error from outcome.cause
                delay = self._wait_before_retry(outcome, attempt, deadline)
                if delay is None:
                    raise outcome.error from outcome.cause
                attempt += 1
                asked = outcome.retry_after is not None
                trace.retry(delay, retry_after=asked)
                log.warning(
                    "%s: retrying in %.3g s%s (retry %d of %d) after %s",
                    call.operation,
                    delay,
                    " as the server's Retry-After asked" if asked else "",
                    attempt,
                    retries,
                    _tracing.redacted(
                        f"{type(outcome.error).__name__}: {outcome.error}", self._api_key
                    ),
                )
                if delay > 0:
                    await settings.sleep(delay)

    async def _once(
        self,
        session: aiohttp.ClientSession,
        call: Call[T],
        url: yarl.URL,
        body: bytes | None,
        remaining: float,
        budget: float,
        deadline: float,
        trace: _tracing.CallTrace,
    ) -> T | _Retryable:
        """One attempt: the decoded result, a :class:`_Retryable`, or a raised error."""
        if self.closed:  # closed while waiting to retry: a closed client never reconnects
            raise _errors.ClientClosedError(_CLOSED_IN_FLIGHT)
        answer = await self._attempt(session, call, url, body, remaining)
        if isinstance(answer, _AttemptError):
            trace.attempt(error=_library_error(answer.cause))
            failure = self._connection_failure(call, answer, budget, deadline)
            if not (call.retry.after_sent if answer.sent else call.retry.before_sent):
                if isinstance(failure, _errors.OutcomeUnknownError):
                    log.warning("%s", _tracing.redacted(str(failure), self._api_key))
                raise failure from answer.cause
            if self.closed:  # aclose() dropped the connection: that is the reason to report
                raise _errors.ClientClosedError(_CLOSED_IN_FLIGHT) from answer.cause
            return _Retryable(failure, None, answer.cause)
        status, headers, _ = answer
        trace.attempt(status=status)
        sink = _response.sink()
        if sink is not None:
            sink.append(
                _response.ResponseInfo(
                    status, _response.frozen_headers(headers), call.method, str(url)
                )
            )
        return self.answer(call, url, *answer)

    def answer(
        self,
        call: Call[T],
        url: yarl.URL,
        status: int,
        headers: Mapping[str, str],
        raw: bytes,
    ) -> T | _Retryable:
        """A response as the decoded result, a :class:`_Retryable`, or a raised error.

        Everything a server can send ends here as a model or a :class:`PhygitalsError`.
        """
        if 200 <= status < 300:
            if len(raw) < GC_PAUSE_BYTES:
                return self._decode(call, url, raw, headers)
            with _gc_paused():
                return self._decode(call, url, raw, headers)
        error = self._status_error(call, url, status, headers, raw)
        if status == 429 and (tell := on_rate_limited.get()) is not None:
            tell()  # a bulk run adapts its concurrency (see _throttle)
        if not self._may_retry_status(call, status):
            raise error
        retry_after = getattr(error, "retry_after", None) if call.retry.retry_after else None
        return _Retryable(error, retry_after if isinstance(retry_after, float) else None, None)

    async def _attempt(
        self,
        session: aiohttp.ClientSession,
        call: Call[Any],
        url: yarl.URL,
        body: bytes | None,
        remaining: float,
    ) -> tuple[int, Mapping[str, str], bytes] | _AttemptError:
        """One request; a library failure comes back as an :class:`_AttemptError`.

        Returned, not raised: raising inside these ``except`` blocks would attach the
        library's exception (and the key in its ``request_info``) as ``__context__``.
        """
        started = time.perf_counter()
        try:
            async with session.request(
                call.method,
                url,
                data=body,
                headers=self._post_headers if body is not None else self._get_headers,
                timeout=aiohttp.ClientTimeout(
                    total=remaining,
                    sock_connect=self.settings.connect_timeout,
                    sock_read=self.settings.read_timeout,
                ),
                allow_redirects=False,
                proxy=self._proxy,
            ) as response:
                raw = scrub_body(await response.read(), self._secret)
                status = response.status
                headers = scrub_headers(response.headers, self._api_key)
        except aiohttp.ConnectionTimeoutError as exc:
            return _AttemptError(sanitized(exc, self._api_key), sent=False, timed_out=True)
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            return _AttemptError(sanitized(exc, self._api_key), sent=True, timed_out=True)
        except (aiohttp.ClientConnectorError, _ConnectorClosedError) as exc:
            return _AttemptError(sanitized(exc, self._api_key), sent=False, timed_out=False)
        except (aiohttp.ClientError, OSError) as exc:
            return _AttemptError(sanitized(exc, self._api_key), sent=True, timed_out=False)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s -> %d in %.1f ms",
                call.method,
                url.raw_path,
                status,
                (time.perf_counter() - started) * 1000,
            )
        return status, headers, raw

    def _connection_failure(
        self, call: Call[Any], failed: _AttemptError, budget: float, deadline: float
    ) -> _errors.PhygitalsError:
        reason = str(failed.cause)
        if failed.sent and not call.retry.after_sent:
            return _errors.OutcomeUnknownError(
                f"{call.operation} may have reached the server but no answer arrived "
                f"({reason}); it was not resent. Check the outcome before trying again.",
                operation=call.operation,
                arguments=call.arguments,
            )
        if failed.timed_out and self.settings.clock() >= deadline:
            return _errors.APITimeoutError(f"{call.operation} did not complete within {budget:g} s")
        if failed.timed_out:
            return _errors.APITimeoutError(f"{call.operation} timed out ({reason})")
        return _errors.APIConnectionError(f"{call.operation} failed to connect ({reason})")

    def _wait_before_retry(
        self, outcome: _Retryable, attempt: int, deadline: float
    ) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to raise the error now."""
        longest = self.settings.max_retry_wait
        if outcome.retry_after is None:
            delay = min(self._backoff(attempt), longest)
        elif outcome.retry_after > longest:
            # Longer than this client may wait at once: the caller decides, with the
            # error's .retry_after in hand.
            return None
        else:
            delay = outcome.retry_after
        if delay >= deadline - self.settings.clock():
            # Not enough time left to wait and try again: the real reason beats a timeout.
            return None
        return delay

    @staticmethod
    def _may_retry_status(call: Call[Any], status: int) -> bool:
        return call.retry.retries_status(status)

    def _backoff(self, attempt: int) -> float:
        # "Equal jitter": at least half the exponential step, so retries never bunch at zero.
        settings = self.settings
        step = min(settings.retry_backoff_max, settings.retry_backoff * 2.0**attempt)
        return step / 2 + step / 2 * settings.jitter()

    def _decode(
        self, call: Call[T], url: yarl.URL, raw: bytes, headers: Mapping[str, str]
    ) -> T | _Retryable:
        """A 2xx body as ``call.into``, or a :class:`_Retryable` for an unreadable body."""
        if self._fast is not None:
            result = self._fast(raw, call.form)
            if result is not NOT_DECODED:
                # Built from call.form, the runtime spelling of T.
                return cast("T", result)
        try:
            data = self._parse(call, url, raw, headers)
        except _errors.ResponseValidationError as exc:
            # A garbled body is worth another read only where resending is safe.
            if not call.retry.unreadable_2xx:
                raise
            return _Retryable(exc, None, exc.__cause__)
        return self._structure(call, url, raw, data, self._converter)

    @staticmethod
    def _parse(
        call: Call[Any],
        url: yarl.URL,
        raw: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        try:
            data = decode_json(raw)
        except BodyError as exc:
            text = raw.decode("utf-8", "replace")
            raise _errors.ResponseValidationError(
                cap_message(f"{call.operation}: unusable response ({exc}): {short_repr(text)}"),
                body=text,
                method=call.method,
                url=str(url),
            ) from exc
        if isinstance(data, dict) and data.get("status") == "error":
            # The documented error envelope: {"order_id": null, "status": "error", ...}.
            message = data.get("error_message") or data.get("error") or "error"
            if not isinstance(message, str):
                message = short_repr(message)
            raise _errors.APIStatusError(
                cap_message(message),
                status_code=200,
                body=data,
                method=call.method,
                url=str(url),
                headers=headers,
            )
        return data

    @staticmethod
    def _structure(
        call: Call[T], url: yarl.URL, raw: bytes, data: Any, conv: cattrs.Converter
    ) -> T:
        try:
            # Built from call.form, the runtime spelling of T.
            return cast("T", conv.structure(data, call.form))
        except Exception as exc:  # whatever the shape breaks, it is one error to the caller
            details = "; ".join(explain(data, call.form)) or f"{type(exc).__name__}: {exc}"
            raise _errors.ResponseValidationError(
                cap_message(
                    f"{call.operation}: the response does not match the documented shape: {details}"
                ),
                body=raw.decode("utf-8", "replace"),
                method=call.method,
                url=str(url),
            ) from exc

    def _status_error(
        self,
        call: Call[Any],
        url: yarl.URL,
        status: int,
        headers: Mapping[str, str],
        raw: bytes,
    ) -> _errors.APIStatusError:
        text = raw.decode("utf-8", "replace")
        body: object = text
        try:
            # The same exact, bounded decoder as 2xx bodies: amounts stay Decimal.
            body = decode_json(raw)
        except BodyError:
            message = " ".join(text[:400].split())[:200]
        else:
            if isinstance(body, dict) and isinstance(body.get("error"), str):
                message = body["error"]
            else:
                message = " ".join(text[:400].split())[:200]
        # Matched in full (a documented string is short), shown capped.
        cls = _errors.error_class_for(status, message)
        message = cap_message(message)
        fields: dict[str, Any] = {
            "status_code": status,
            "body": body,
            "method": call.method,
            "url": str(url),
            "headers": headers,
        }
        if issubclass(cls, _errors.RateLimitError | _errors.ServerError):
            fields["retry_after"] = parse_retry_after(headers.get("Retry-After"))
        return cls(message, **fields)


def _library_error(cause: BaseException) -> str:
    """The HTTP library's exception class name, from its sanitized stand-in's text."""
    return str(cause).split(":", 1)[0].rsplit(".", 1)[-1] or type(cause).__name__


def _encode_body(call: Call[Any]) -> bytes | None:
    """The request body as standard JSON in UTF-8, or :class:`InvalidRequestError`.

    NaN and Infinity, values JSON cannot hold, and strings that are not valid Unicode (a
    lone surrogate) are refused here, before any byte is sent.
    """
    if call.json is None:
        return None
    try:
        return json.dumps(call.json, allow_nan=False, ensure_ascii=False).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        reason = short_repr(str(exc))
    # Raised outside the except block: the message says it all.
    msg = f"{call.operation}: the request body is not standard JSON ({reason})"
    raise _errors.InvalidRequestError(msg)
