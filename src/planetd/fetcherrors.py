"""Every way a fetch can fail, said in one line for the operator.

Owns the words: the :class:`FetchError` that carries a feed's misbehaviour
until the fetcher turns it into ``FetchResult(kind=FAILED)``, the "too large"
message shared by HTTP bodies and ``file:`` feeds, the status line of an HTTP
answer, why a URL cannot be fetched over HTTP at all, and the description of a
connection, DNS, TLS or protocol failure (pyOpenSSL and service_identity
errors in words rather than reprs of tuples).

It decides nothing about what a failure means for the feed (that is
:mod:`planetd.decide`) and performs no I/O. It reads Twisted's exception
types only to tell them apart; must not import treq, feedparser, the store or
the web layer.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from twisted.internet import error as ierror
from twisted.internet.defer import CancelledError
from twisted.web.client import ResponseNeverReceived
from twisted.web.error import SchemeNotSupported
from twisted.web.http import RESPONSES

__all__ = [
    "FetchError",
    "check_http_url",
    "describe",
    "status_line",
    "too_large",
    "was_cancelled",
]


class FetchError(Exception):
    """A feed's misbehaviour, said in one line: becomes ``FetchResult(kind=FAILED)``."""


def too_large(max_bytes: int) -> FetchError:
    """The one wording for a feed over its size cap, downloaded, inflated or on disk."""
    return FetchError(f"feed larger than {max_bytes} bytes")


def status_line(code: int, phrase: bytes | None) -> str:
    """``HTTP 404 Not Found``: the standard reason phrase, else the server's own."""
    known = RESPONSES.get(code) or phrase or b""
    return f"HTTP {code} {known.decode('latin-1').strip()}".rstrip()


def check_http_url(url: str) -> str | None:
    """Why ``url`` cannot be fetched over HTTP, or ``None`` if it can."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError for a malformed port
    except ValueError:
        return f"invalid URL: {url}"
    if parts.scheme not in ("http", "https"):
        return f"unsupported URL scheme: {parts.scheme or url}"
    if not host:
        return f"invalid URL (no host): {url}"
    return None


def was_cancelled(failure: BaseException) -> bool:
    """Whether a request failed because we cancelled it (Twisted may wrap the cancellation)."""
    reasons = getattr(failure, "reasons", None) or []
    return any(isinstance(r.value, CancelledError) for r in reasons)


def _tls_text(value: BaseException) -> str:
    """pyOpenSSL and service_identity errors in words rather than reprs of tuples."""
    if type(value).__name__ == "VerificationError":
        return "certificate does not match the host name"
    details = value.args[0] if value.args else None
    if isinstance(details, list):
        reasons = [str(d[-1]) for d in details if isinstance(d, tuple) and d and d[-1]]
        if reasons:
            return "; ".join(reasons)
    return str(value) or type(value).__name__


def describe(failure: BaseException, url: str) -> str:
    """A connection or protocol failure as one line for the operator."""
    # ResponseNeverReceived / ResponseFailed wrap the real causes as Failures.
    reasons = getattr(failure, "reasons", None)
    value: BaseException = reasons[0].value if reasons else failure
    if isinstance(value, ierror.ConnectionRefusedError):
        return "connection refused"
    if isinstance(value, ierror.DNSLookupError):
        return f"DNS lookup failed for {urlsplit(url).hostname}"
    if isinstance(value, (ierror.TimeoutError, ierror.TCPTimedOutError)):
        return "connection timed out"
    if isinstance(value, SchemeNotSupported):
        return f"unsupported URL scheme: {urlsplit(url).scheme}"
    module = type(value).__module__
    if module.startswith(("OpenSSL", "service_identity")) or "ssl" in module.lower():
        return f"TLS error: {_tls_text(value)}"
    if isinstance(value, (ierror.ConnectionDone, ierror.ConnectionLost)):
        if isinstance(failure, ResponseNeverReceived):
            return "connection closed before a response"
        return "connection lost"
    if isinstance(value, ierror.ConnectError):
        return f"could not connect: {value}"
    return f"request failed: {type(value).__name__}: {value}".rstrip(": ")
