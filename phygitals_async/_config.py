"""A client's configuration: the key, the base URL and every option, resolved and checked once.

:class:`Settings` is the one frozen value the transport reads (the async client builds it,
the blocking client builds an async client, ``with_options`` evolves it), and it carries
the clock and sleep every deadline, backoff and poll uses, so tests swap time in one place
(:class:`phygitals_async.testing.FakeTime`).

The key and the base URL are resolved, normalised and checked before any request.

One host check: the host is compared after normalisation (percent-decoding, IDNA, case, a
trailing dot), so ``https://API.Phygitals.com.:443`` is production like
``https://api.phygitals.com``. On the Phygitals host only the two documented base URLs
exist: production (no path) and the sandbox (``/_``), each for its own kind of key. A
production key is only ever sent over ``https``, except to a loopback host (a local
sandbox or proxy on this machine). Credentials in the URL are refused: they would travel
in every error's ``.url``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import random
import re
import socket
import ssl as ssl_module
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote

import aiohttp
import attrs
import yarl

from ._decode import strict_default
from ._errors import ConfigurationError
from ._limits import short_repr
from ._validation import check_session, require_int, require_seconds
from ._version import __version__

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_TIMEOUT",
    "PRODUCTION_URL",
    "SANDBOX_URL",
    "Settings",
    "check_headers",
    "is_loopback",
    "normalised_host",
    "resolve_base_url",
    "request_headers",
    "resolve_key",
    "user_agent",
]

PRODUCTION_URL = "https://api.phygitals.com"
SANDBOX_URL = "https://api.phygitals.com/_"
API_KEY_ENV = "PHYGITALS_API_KEY"
BASE_URL_ENV = "PHYGITALS_BASE_URL"
# The deadline of one call, covering every retry and wait: the client's and the CLI's.
DEFAULT_TIMEOUT = 60.0
SANDBOX_PREFIX = "sandbox-"
_PHYGITALS_HOST = "api.phygitals.com"


def resolve_key(api_key: str | None) -> str:
    """The key given, else ``$PHYGITALS_API_KEY``; printable ASCII without whitespace."""
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    if not key:
        msg = f"no API key: pass api_key=... or set {API_KEY_ENV}"
        raise ConfigurationError(msg)
    if not isinstance(key, str) or not key.isascii() or not key.isprintable() or " " in key:
        msg = "the API key must be a string of printable ASCII without whitespace"
        raise ConfigurationError(msg)
    return key


def normalised_host(host: str) -> str:
    """``host`` as DNS would resolve it: decoded, IDNA-encoded, lower case, no final dot."""
    name = unquote(host).rstrip(".").lower()
    if not name.isprintable():  # a NUL or a control character: no resolver takes it
        msg = f"base_url has an invalid host: {short_repr(host)}"
        raise ConfigurationError(msg)
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            msg = f"base_url has an invalid host: {short_repr(host)}"
            raise ConfigurationError(msg) from None
    return name


def is_loopback(host: str) -> bool:
    """Whether a normalised host is this machine: ``localhost`` or a loopback address."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        try:
            # Legacy IPv4 spellings a resolver accepts too: "127.1", "2130706433".
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _parse(base_url: object) -> yarl.URL:
    if not isinstance(base_url, str):
        msg = f"base_url must be a string, got {short_repr(base_url)}"
        raise ConfigurationError(msg)
    try:
        url = yarl.URL(base_url.strip().rstrip("/"))
        valid = url.scheme in {"http", "https"} and bool(url.host) and url.port is not None
    except (ValueError, UnicodeError):
        valid = False
    if not valid:
        msg = f"base_url must be an http(s) URL with a host, got {short_repr(base_url)}"
        raise ConfigurationError(msg) from None
    if url.user is not None or url.password is not None:
        msg = "base_url must not contain credentials (user:password@)"
        raise ConfigurationError(msg)
    if url.query_string or url.fragment:
        msg = f"base_url must not have a query or fragment, got {short_repr(base_url)}"
        raise ConfigurationError(msg)
    return url


_DOCUMENTED_PATHS = {"": "", "/": "", "/_": "/_", "/_/": "/_"}


def resolve_base_url(base_url: str | None, key: str) -> str:
    """The base URL for ``key``: given, else ``$PHYGITALS_BASE_URL``, else from the key."""
    sandbox_key = key.startswith(SANDBOX_PREFIX)
    if base_url is None:
        base_url = os.environ.get(BASE_URL_ENV) or None
    if base_url is None:
        return SANDBOX_URL if sandbox_key else PRODUCTION_URL
    url = _parse(base_url)
    host = normalised_host(url.host or "")
    if url.scheme == "http" and not sandbox_key and not is_loopback(host):
        msg = (
            "a production key is only sent over https: use an https:// base_url "
            "(plain http is allowed for loopback hosts only)"
        )
        raise ConfigurationError(msg)
    if host == _PHYGITALS_HOST:
        # Only the documented spellings: "//_", "/./_" or "/%5F" would reach another path.
        path = _DOCUMENTED_PATHS.get(url.raw_path)
        if path is None:
            msg = f"on {_PHYGITALS_HOST} the base_url is {PRODUCTION_URL} or {SANDBOX_URL}"
            raise ConfigurationError(msg)
        if sandbox_key and path != "/_":
            msg = f"a sandbox- key only works against the sandbox ({SANDBOX_URL})"
            raise ConfigurationError(msg)
        if path == "/_" and not sandbox_key:
            msg = f"the sandbox ({SANDBOX_URL}) needs a key starting with 'sandbox-'"
            raise ConfigurationError(msg)
    return str(url)


def _seconds(
    *, allow_zero: bool = True, optional: bool = False
) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    """An attrs validator: a finite number of seconds (``None`` too when ``optional``)."""

    def check(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        require_seconds(attribute.name, value, allow_zero=allow_zero)

    return check


def _count(*, minimum: int) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    """An attrs validator: an int of at least ``minimum``."""

    def check(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        require_int(attribute.name, value, minimum=minimum)

    return check


def _frozen_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(headers))


def _trace_configs(
    configs: Sequence[aiohttp.TraceConfig] | None,
) -> tuple[aiohttp.TraceConfig, ...]:
    return tuple(configs) if configs else ()


def _without_final_slash(url: str) -> str:
    return url.rstrip("/")


# RFC 9110 token characters: header names, and product names/versions in a User-Agent.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")


_RESERVED_HEADERS = frozenset({"x-api-key", "user-agent"})


def check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """``default_headers`` checked: token names, printable values, none the client sets."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        msg = f"default_headers must be a mapping of header names to strings, got {headers!r}"
        raise ConfigurationError(msg)
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            msg = f"default_headers: {name!r} is not a valid header name"
            raise ConfigurationError(msg)
        if name.lower() in _RESERVED_HEADERS:
            msg = (
                f"default_headers may not set {name}: pass api_key=, or app_name= and "
                "app_version= for the User-Agent"
            )
            raise ConfigurationError(msg)
        # A CR or LF would let one header smuggle others in, and aiohttp would refuse it (or
        # a non-ASCII value) only at the first request, far from the mistake.
        if not isinstance(value, str) or not _HEADER_VALUE.fullmatch(value):
            msg = f"default_headers: the value of {name} must be printable ASCII"
            raise ConfigurationError(msg)
        checked[name] = value
    return checked


def user_agent(app_name: str | None, app_version: str | None) -> str:
    """``phygitals-async/<version>``, then ``app_name/app_version`` when given."""
    agent = f"phygitals-async/{__version__}"
    if app_name is None:
        if app_version is not None:
            msg = "app_version needs app_name"
            raise ConfigurationError(msg)
        return agent
    for what, value in (("app_name", app_name), ("app_version", app_version)):
        if value is not None and (not isinstance(value, str) or not _TOKEN.fullmatch(value)):
            msg = f"{what} must be a token without spaces or '/', e.g. 'myapp', got {value!r}"
            raise ConfigurationError(msg)
    return f"{agent} {app_name}" + (f"/{app_version}" if app_version is not None else "")


def request_headers(
    key: str,
    default_headers: Mapping[str, str] | None,
    app_name: str | None,
    app_version: str | None,
) -> dict[str, str]:
    """Every request's headers: the key, the User-Agent, Accept and the caller's defaults."""
    return {
        "X-API-Key": key,
        "User-Agent": user_agent(app_name, app_version),
        "Accept": "application/json",
        **check_headers(default_headers),
    }


@attrs.frozen(kw_only=True)
class Settings:
    """Everything a client is configured with, checked once (see ``AsyncPhygitals``' Args).

    Frozen: ``attrs.evolve`` makes a changed copy and runs the checks again, which is how
    ``with_options`` works. ``clock`` (seconds, monotonic), ``sleep`` and ``jitter`` (a
    number in [0, 1) that spreads backoff) are the time every deadline, backoff and poll
    uses.

    Raises:
        InvalidRequestError: an option out of range (a :class:`ConfigurationError`).
        ConfigurationError: ``http_session`` is not an aiohttp session, or comes with
            ``trace_configs``.
    """

    api_key: str = attrs.field(repr=False)
    base_url: str = attrs.field(converter=_without_final_slash)
    # Every request's headers, the key among them.
    headers: Mapping[str, str] = attrs.field(repr=False, converter=_frozen_headers)
    timeout: float = attrs.field(validator=_seconds(allow_zero=False))
    max_retries: int = attrs.field(validator=_count(minimum=0))
    max_connections: int = attrs.field(validator=_count(minimum=1))
    connect_timeout: float | None = attrs.field(validator=_seconds(optional=True))
    read_timeout: float | None = attrs.field(validator=_seconds(optional=True))
    ssl: ssl_module.SSLContext | bool
    trust_env: bool
    retry_backoff: float = attrs.field(validator=_seconds())
    retry_backoff_max: float = attrs.field(validator=_seconds())
    max_retry_wait: float = attrs.field(validator=_seconds())
    http_session: aiohttp.ClientSession | None = None
    trace_configs: tuple[aiohttp.TraceConfig, ...] = attrs.field(
        default=(), converter=_trace_configs
    )
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    jitter: Callable[[], float] = random.random
    # Reject response fields the models do not know (the SDK's own tests run this way).
    strict_decoding: bool = attrs.field(factory=strict_default)

    def __attrs_post_init__(self) -> None:
        check_session(self.http_session, self.trace_configs)
