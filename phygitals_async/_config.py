"""The key and the base URL: resolved, normalised and checked once, before any request.

One host check: the host is compared after normalisation (percent-decoding, IDNA, case, a
trailing dot), so ``https://API.Phygitals.com.:443`` is production like
``https://api.phygitals.com``. On the Phygitals host only the two documented base URLs
exist: production (no path) and the sandbox (``/_``), each for its own kind of key. A
production key is only ever sent over ``https``, except to a loopback host (a local
sandbox or proxy on this machine). Credentials in the URL are refused: they would travel
in every error's ``.url``.
"""

from __future__ import annotations

import ipaddress
import os
import posixpath
import socket
from urllib.parse import unquote

import yarl

from ._errors import ConfigurationError
from ._limits import short_repr

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "PRODUCTION_URL",
    "SANDBOX_URL",
    "is_loopback",
    "normalised_host",
    "resolve_base_url",
    "resolve_key",
]

PRODUCTION_URL = "https://api.phygitals.com"
SANDBOX_URL = "https://api.phygitals.com/_"
API_KEY_ENV = "PHYGITALS_API_KEY"
BASE_URL_ENV = "PHYGITALS_BASE_URL"
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
        path = posixpath.normpath("/" + unquote(url.path)).rstrip("/")
        if path not in {"", "/_"}:
            msg = f"on {_PHYGITALS_HOST} the base_url is {PRODUCTION_URL} or {SANDBOX_URL}"
            raise ConfigurationError(msg)
        if sandbox_key and path != "/_":
            msg = f"a sandbox- key only works against the sandbox ({SANDBOX_URL})"
            raise ConfigurationError(msg)
        if path == "/_" and not sandbox_key:
            msg = f"the sandbox ({SANDBOX_URL}) needs a key starting with 'sandbox-'"
            raise ConfigurationError(msg)
    return str(url)
