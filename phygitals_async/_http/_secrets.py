"""Keeping the API key out of everything an error carries.

The seam (``_transport``) applies these at the edge, so no error it raises can reach the key:

- a response body or header that echoes the key (a debugging proxy) has it replaced by
  :data:`REDACTED` before anything is decoded from it;
- an exception of the HTTP library is never chained: its ``request_info`` holds the request
  headers, ``X-API-Key`` included, and error trackers serialise chained exceptions with
  their attributes. The SDK's error is raised ``from`` a :class:`TransportFailure` instead,
  a plain copy of the library's message (scrubbed too), outside any ``except`` block so
  that nothing is attached as ``__context__`` either.
"""

from __future__ import annotations

from collections.abc import Mapping

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["REDACTED", "TransportFailure", "sanitized", "scrub_body", "scrub_headers"]

REDACTED = "[redacted]"


class TransportFailure(Exception):  # noqa: N818  it names what happened, not an SDK error
    """What the HTTP library reported, as text only: no request, headers or key."""


def sanitized(exc: BaseException, secret: str) -> TransportFailure:
    """A text-only stand-in for ``exc`` (type and message), with ``secret`` removed."""
    text = f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}".rstrip(": ")
    return TransportFailure(text.replace(secret, REDACTED))


def scrub_body(raw: bytes, secret: bytes) -> bytes:
    """``raw`` with every occurrence of ``secret`` replaced (a cheap search when absent)."""
    return raw.replace(secret, REDACTED.encode()) if secret in raw else raw


def scrub_headers(headers: Mapping[str, str], secret: str) -> Mapping[str, str]:
    """``headers``, or a read-only copy without ``secret`` when a value echoes it."""
    if secret not in "\n".join(headers.values()):  # one search, not one per header
        return headers
    copy = CIMultiDict((name, value.replace(secret, REDACTED)) for name, value in headers.items())
    return CIMultiDictProxy(copy)
