"""Fetching one feed over HTTP(S) or from a ``file:`` URL, as a :class:`FetchResult`.

Owns: the request planetd sends (User-Agent, Accept, conditional headers,
``Accept-Encoding: gzip, deflate``), redirects (followed here, by hand, so that
permanent moves can be reported), the total time limit, the size cap on the
compressed and the decompressed body, and the mapping of every way a fetch can
end to a :class:`FetchKind` with a one-line error. The returned Deferred never
fails for a feed's own misbehaviour; only a bug in this module reaches
``log.failure`` (and still becomes a ``FAILED`` result).

It decides nothing else: it does not parse, compare body hashes, schedule the
next poll or cap concurrency per host (the poller does). It takes its reactor,
connection pool and thread pool as arguments and never touches the global
reactor. Must not import feedparser, the store or the web layer.

Decisions worth knowing:

* ``moved_to`` is the URL reached through the *leading* permanent redirects
  (301/308) of the chain, and is only reported when the fetch succeeds
  (``OK`` or ``NOT_MODIFIED``): a feed moves only to a place that answers.
  ``A -301-> B -302-> C (200)`` gives ``moved_to=B``; ``A -302-> B -301-> C``
  gives ``None``.
* Redirects go to ``http:``/``https:`` only: a feed may never send us to a
  ``file:`` URL.
* A body of 3xx/4xx/5xx answers is never read: the connection goes back to the
  pool when the body has already arrived and is closed otherwise.
* A 200 with an empty body is ``FAILED "empty response body"``; an unknown
  ``Content-Encoding`` (we only advertise gzip and deflate) is ``FAILED``
  rather than handed raw to the parser; a gzip/deflate stream that stops
  early is ``FAILED`` too.
* ``file:`` feeds get a synthetic ETag from size and mtime, so an unchanged
  file answers ``NOT_MODIFIED`` without being read.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import formatdate
from typing import TYPE_CHECKING, Protocol, cast
from urllib.parse import urljoin, urlsplit

import attrs
from twisted.internet import error as ierror
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.protocol import Protocol as TwistedProtocol
from twisted.internet.protocol import connectionDone
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import Agent, HTTPConnectionPool, ResponseDone, ResponseNeverReceived
from twisted.web.error import SchemeNotSupported
from twisted.web.http import RESPONSES as _REASONS
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import UNKNOWN_LENGTH

from planetd.boundaries import FetchKind, FetchResult, Validators
from planetd.config import file_path
from planetd.hints import parse_freshness, parse_retry_after

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorFromThreads
    from twisted.python.threadpool import ThreadPool

__all__ = ["ACCEPT", "MAX_REDIRECTS", "Fetcher"]

log = Logger()

#: What we ask for: feed formats first, anything at all last (servers lie about types).
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, application/feed+json;q=0.7, */*;q=0.1"
)
#: Redirects followed before giving up; the sixth redirect answer fails the fetch.
MAX_REDIRECTS = 5

_PERMANENT = frozenset({301, 308})
_TEMPORARY = frozenset({302, 303, 307})
_THROTTLED = frozenset({429, 503})
_DECODED = frozenset({"gzip", "x-gzip", "deflate"})


class _DelayedCall(Protocol):
    def active(self) -> bool: ...
    def cancel(self) -> None: ...


class FetchReactor(Protocol):
    """What the fetcher needs of its reactor (the real one also connects TCP/TLS for Agent)."""

    def seconds(self) -> float: ...
    def callLater(
        self, delay: float, callable: Callable[..., object], *args: object, **kw: object
    ) -> _DelayedCall: ...
    def getThreadPool(self) -> ThreadPool: ...


class _Response(Protocol):
    """The parts of ``IResponse`` we read (typed here: zope interfaces are opaque to mypy)."""

    code: int
    phrase: bytes
    headers: Headers
    length: int | object

    def deliverBody(self, protocol: TwistedProtocol) -> None: ...


class _Closable(Protocol):
    def loseConnection(self) -> None: ...


class _FetchError(Exception):
    """A feed's misbehaviour, said in one line: becomes ``FetchResult(kind=FAILED)``."""


def _too_large(max_bytes: int) -> _FetchError:
    return _FetchError(f"feed larger than {max_bytes} bytes")


class _BodyCollector:
    """Keeps a body under ``max_bytes``, decompressing gzip/deflate as it arrives.

    The cap applies to the bytes received and, separately, to the bytes
    decompressed; ``zlib``'s ``max_length`` stops inflating one byte past the
    cap, so a gzip bomb never expands in memory.
    """

    def __init__(self, encoding: str | None, max_bytes: int) -> None:
        self._encoding = encoding
        self._max = max_bytes
        self._received = 0
        self._size = 0
        self._parts: list[bytes] = []
        self._head = b""
        self._zlib: zlib._Decompress | None = None
        if encoding in ("gzip", "x-gzip"):
            # 32 + 15: a gzip or zlib header, detected automatically.
            self._zlib = zlib.decompressobj(wbits=47)

    def __call__(self, data: bytes) -> None:
        self._received += len(data)
        if self._received > self._max:
            raise _too_large(self._max)
        if self._encoding is None:
            self._keep(data)
            return
        if self._zlib is None:
            # "deflate" is meant to be zlib-wrapped, but some servers send raw
            # deflate: the first two bytes tell which.
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            zlib_header = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._zlib = zlib.decompressobj(wbits=15 if zlib_header else -15)
        if self._zlib.eof:
            return  # trailing bytes after the stream: ignored, as browsers do
        try:
            while data:
                self._keep(self._zlib.decompress(data, self._max - self._size + 1))
                data = self._zlib.unconsumed_tail
        except zlib.error as e:
            raise _FetchError(f"bad {self._encoding} body: {e}") from None

    def _keep(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._max:
            raise _too_large(self._max)
        self._parts.append(data)

    @property
    def received(self) -> int:
        """Bytes received from the network so far."""
        return self._received

    def body(self) -> bytes:
        """The whole (decompressed) body, once the response has ended."""
        if self._encoding is not None and self._received and not (self._zlib and self._zlib.eof):
            raise _FetchError(f"{self._encoding} body ends early")
        return b"".join(self._parts)


class _BodyReader(TwistedProtocol):
    """Feeds a response body to a collector; cancelling ``done`` drops the connection."""

    def __init__(self, collect: Callable[[bytes], None]) -> None:
        self._collect = collect
        self.done: Deferred[None] = Deferred(lambda _: self._drop())

    def _drop(self) -> None:
        if self.transport is not None:
            cast(_Closable, self.transport).loseConnection()

    def dataReceived(self, data: bytes) -> None:
        if self.done.called:
            return
        try:
            self._collect(data)
        except _FetchError as e:
            self._drop()
            self.done.errback(e)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self.done.called:
            return
        if isinstance(reason.value, (ResponseDone, PotentialDataLoss)):
            self.done.callback(None)
        else:
            self.done.errback(_FetchError("connection lost while reading the body"))


class _Discard(TwistedProtocol):
    """Takes a body we do not want, keeping the connection when that is cheap.

    Twisted pauses a connection until its response body is delivered somewhere,
    so every response must get a protocol, even an unwanted one. A short body
    (a redirect's or an error page) is read and dropped so the connection can
    go back to the pool; one longer than ``limit`` closes the connection.
    ``done`` fires once the connection is settled (pooled or closing), so a
    fetch leaves nothing running behind it; cancelling it closes the connection.
    """

    def __init__(self, limit: int) -> None:
        self._left = limit
        self.done: Deferred[None] = Deferred(lambda _: self._close())

    def connectionMade(self) -> None:
        if self._left <= 0:
            self._close()

    def dataReceived(self, data: bytes) -> None:
        self._left -= len(data)
        if self._left < 0:
            self._close()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if not self.done.called:
            self.done.callback(None)

    def _close(self) -> None:
        # A no-op once the response has ended: Twisted stops proxying then.
        cast(_Closable, self.transport).loseConnection()


def _header(response: _Response, name: bytes) -> str | None:
    values = response.headers.getRawHeaders(name)
    return values[0].decode("latin-1").strip() if values else None


def _reason(response: _Response) -> str:
    phrase = _REASONS.get(response.code) or response.phrase or b""
    text = phrase.decode("latin-1").strip() if isinstance(phrase, bytes) else str(phrase)
    return f"HTTP {response.code} {text}".rstrip()


def _header_safe(value: str | None) -> bytes | None:
    """A stored validator as a header value, or ``None`` if it could not be sent safely."""
    if not value or "\r" in value or "\n" in value:
        return None
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return None


def _uri_bytes(url: str) -> bytes:
    """An http(s) URL as the ASCII bytes Agent wants (IRIs percent-encoded)."""
    try:
        if " " not in url:
            return url.encode("ascii")
    except UnicodeEncodeError:
        pass
    from hyperlink import URL

    return URL.from_text(url).to_uri().to_text().encode("ascii")


def _check_http_url(url: str) -> str | None:
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


def _cancelled(failure: BaseException) -> bool:
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


def _describe(failure: BaseException, url: str) -> str:
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


class Fetcher:
    """Fetches feeds for planetd: one instance per daemon, shared by every poll.

    Args:
        reactor: Connects (TCP/TLS), times the limit and hands ``file:`` reads to threads.
        user_agent: The ``User-Agent`` header, e.g. ``"planetd/1.0 (+https://...)"``.
        pool: The HTTP connection pool; a persistent one is made if not given
            (close it with :meth:`close`).
        threadpool: Where ``file:`` feeds are read; the reactor's own pool by default.
        resolve_file: Maps a ``file:`` URL to a path; by default relative paths
            resolve against the current directory. The daemon passes
            ``lambda url: config.file_path(url, config.path)``.
    """

    def __init__(
        self,
        reactor: FetchReactor,
        user_agent: str,
        *,
        pool: HTTPConnectionPool | None = None,
        threadpool: ThreadPool | None = None,
        resolve_file: Callable[[str], str] | None = None,
    ) -> None:
        self._reactor = reactor
        self._user_agent = user_agent.encode("latin-1", "replace")
        if pool is None:
            pool = HTTPConnectionPool(reactor, persistent=True)
        self._pool = pool
        self._agent = Agent(reactor, pool=pool)
        self._threadpool = threadpool
        cwd_config = os.path.join(os.getcwd(), "planet.ini")
        self._resolve_file = resolve_file or (lambda url: file_path(url, cwd_config))

    def close(self) -> Deferred[None]:
        """Close idle pooled connections (call when the service stops)."""
        return cast("Deferred[None]", self._pool.closeCachedConnections())

    def fetch(
        self, url: str, validators: Validators, *, timeout: float, max_bytes: int
    ) -> Deferred[FetchResult]:
        """Fetch ``url`` once, conditionally on ``validators``, within ``timeout`` seconds.

        The Deferred always fires with a :class:`FetchResult`, never with a
        failure. ``timeout`` covers everything: connecting, every redirect,
        headers and the whole body (a server that drips a byte a second fails
        at ``timeout``). ``max_bytes`` caps the body as received and as
        decompressed.
        """
        started = self._reactor.seconds()
        if url.startswith("file:"):
            work = self._fetch_file(url, validators, max_bytes)
        else:
            work = Deferred.fromCoroutine(self._fetch_http(url, validators, max_bytes))
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            work.cancel()

        timer = self._reactor.callLater(timeout, expire)

        def finish(outcome: FetchResult | Failure) -> FetchResult:
            if timer.active():
                timer.cancel()
            if isinstance(outcome, Failure):
                if expired and isinstance(outcome.value, CancelledError):
                    outcome = FetchResult(
                        kind=FetchKind.FAILED, error=f"timed out after {timeout:g}s", final_url=url
                    )
                else:
                    log.failure("Fetching {url} failed unexpectedly", outcome, url=url)
                    outcome = FetchResult(
                        kind=FetchKind.FAILED,
                        error=f"internal error: {outcome.getErrorMessage()}",
                        final_url=url,
                    )
            return attrs.evolve(outcome, elapsed=self._reactor.seconds() - started)

        return work.addBoth(finish)

    # -- HTTP ------------------------------------------------------------------

    def _headers(self, validators: Validators) -> Headers:
        headers = Headers(
            {
                b"User-Agent": [self._user_agent],
                b"Accept": [ACCEPT.encode("ascii")],
                b"Accept-Encoding": [b"gzip, deflate"],
            }
        )
        etag = _header_safe(validators.etag)
        if etag is not None:
            headers.addRawHeader(b"If-None-Match", etag)
        last_modified = _header_safe(validators.last_modified)
        if last_modified is not None:
            headers.addRawHeader(b"If-Modified-Since", last_modified)
        return headers

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._reactor.seconds(), tz=timezone.utc)

    async def _fetch_http(self, url: str, validators: Validators, max_bytes: int) -> FetchResult:
        headers = self._headers(validators)
        current = url
        seen = {url}
        moved_to: str | None = None
        all_permanent = True
        redirects = 0
        while True:
            problem = _check_http_url(current)
            if problem is not None:
                return FetchResult(kind=FetchKind.FAILED, error=problem, final_url=current)
            try:
                raw = await self._agent.request(b"GET", _uri_bytes(current), headers=headers)
            except CancelledError:
                raise
            except Exception as e:  # refused, DNS, TLS, reset: the feed's problem, as data
                if _cancelled(e):
                    raise CancelledError() from e
                return FetchResult(
                    kind=FetchKind.FAILED, error=_describe(e, current), final_url=current
                )
            response = cast(_Response, raw)
            code = response.code
            if code not in _PERMANENT and code not in _TEMPORARY:
                break
            await self._discard(response)
            location = _header(response, b"location")
            if not location:
                return self._failed(response, current, f"{_reason(response)} without a Location")
            target = urljoin(current, location)
            if urlsplit(target).scheme not in ("http", "https"):
                return self._failed(response, current, f"redirect to a non-HTTP URL: {target}")
            if target in seen:
                return self._failed(response, current, "redirect loop")
            redirects += 1
            if redirects > MAX_REDIRECTS:
                return self._failed(response, current, "too many redirects")
            seen.add(target)
            if code in _PERMANENT and all_permanent:
                moved_to = target
            else:
                all_permanent = False
            current = target

        if 200 <= code < 300:
            result = await self._read_ok(response, current, validators, max_bytes)
        elif code == 304:
            await self._discard(response)
            result = FetchResult(
                kind=FetchKind.NOT_MODIFIED,
                http_status=code,
                validators=Validators(
                    etag=_header(response, b"etag") or validators.etag,
                    last_modified=_header(response, b"last-modified") or validators.last_modified,
                    body_hash=validators.body_hash,
                ),
                final_url=current,
                fresh_for=self._freshness(response),
            )
        else:
            await self._discard(response)
            if code == 410:
                result = FetchResult(
                    kind=FetchKind.GONE,
                    http_status=code,
                    error=_reason(response),
                    final_url=current,
                )
            elif code in _THROTTLED:
                result = FetchResult(
                    kind=FetchKind.THROTTLED,
                    http_status=code,
                    error=_reason(response),
                    final_url=current,
                    retry_after=parse_retry_after(_header(response, b"retry-after"), self._now()),
                )
            else:
                result = self._failed(response, current, _reason(response))
        if result.kind in (FetchKind.OK, FetchKind.NOT_MODIFIED):
            result = attrs.evolve(result, moved_to=moved_to)
        return result

    async def _discard(self, response: _Response, *, keep: bool = True) -> None:
        """Drop a body we will not read; ``keep=False`` closes its connection at once."""
        discard = _Discard(limit=64 * 1024 if keep else 0)
        response.deliverBody(discard)
        await discard.done

    def _failed(self, response: _Response, url: str, error: str) -> FetchResult:
        return FetchResult(
            kind=FetchKind.FAILED, http_status=response.code, error=error, final_url=url
        )

    def _freshness(self, response: _Response) -> float | None:
        return parse_freshness(
            _header(response, b"cache-control"),
            _header(response, b"expires"),
            _header(response, b"date"),
            self._now(),
        )

    async def _read_ok(
        self, response: _Response, url: str, validators: Validators, max_bytes: int
    ) -> FetchResult:
        encoding = (_header(response, b"content-encoding") or "identity").lower()
        if encoding not in _DECODED and encoding != "identity":
            await self._discard(response, keep=False)
            return self._failed(response, url, f"unsupported Content-Encoding: {encoding}")
        if response.length is not UNKNOWN_LENGTH and cast(int, response.length) > max_bytes:
            await self._discard(response, keep=False)
            return self._failed(response, url, str(_too_large(max_bytes)))
        collector = _BodyCollector(None if encoding == "identity" else encoding, max_bytes)
        reader = _BodyReader(collector)
        response.deliverBody(reader)
        try:
            await reader.done
            body = collector.body()
        except _FetchError as e:
            return self._failed(response, url, str(e))
        if not body:
            return self._failed(response, url, "empty response body")
        return FetchResult(
            kind=FetchKind.OK,
            http_status=response.code,
            body=body,
            content_type=_header(response, b"content-type"),
            validators=Validators(
                etag=_header(response, b"etag"),
                last_modified=_header(response, b"last-modified"),
                body_hash=hashlib.sha256(body).hexdigest(),
            ),
            final_url=url,
            fresh_for=self._freshness(response),
        )

    # -- file: -----------------------------------------------------------------

    def _fetch_file(
        self, url: str, validators: Validators, max_bytes: int
    ) -> Deferred[FetchResult]:
        threadpool = self._threadpool or self._reactor.getThreadPool()
        return deferToThreadPool(
            cast("IReactorFromThreads", self._reactor),
            threadpool,
            _read_file,
            url,
            self._resolve_file,
            validators,
            max_bytes,
        )


def _read_file(
    url: str, resolve: Callable[[str], str], validators: Validators, max_bytes: int
) -> FetchResult:
    """Read a ``file:`` feed (in a worker thread): blocking, but never raising for the file."""

    def failed(error: str) -> FetchResult:
        return FetchResult(kind=FetchKind.FAILED, error=error, final_url=url)

    try:
        path = resolve(url)
    except ValueError as e:
        return failed(str(e))
    try:
        with open(path, "rb") as f:
            stat = os.fstat(f.fileno())
            etag = f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
            last_modified = formatdate(stat.st_mtime, usegmt=True)
            if validators.etag == etag:
                return FetchResult(
                    kind=FetchKind.NOT_MODIFIED, validators=validators, final_url=url
                )
            if stat.st_size > max_bytes:
                return failed(str(_too_large(max_bytes)))
            body = f.read(max_bytes + 1)
    except FileNotFoundError:
        return failed(f"no such file: {path}")
    except IsADirectoryError:
        return failed(f"is a directory: {path}")
    except PermissionError:
        return failed(f"permission denied: {path}")
    except OSError as e:
        return failed(f"cannot read {path}: {e.strerror or e}")
    if len(body) > max_bytes:
        return failed(str(_too_large(max_bytes)))
    if not body:
        return failed("empty file")
    return FetchResult(
        kind=FetchKind.OK,
        body=body,
        validators=Validators(
            etag=etag, last_modified=last_modified, body_hash=hashlib.sha256(body).hexdigest()
        ),
        final_url=url,
    )
