"""The fetcher against a real misbehaving HTTP server on 127.0.0.1, and against files.

Each test names one way a feed's server (or file) can behave and what planetd
makes of it. Trial checks after every test that no connection, listening port
or delayed call was left behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import tracemalloc
from typing import Any

import pytest
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.error import CannotListenError
from twisted.internet.protocol import Factory, Protocol
from twisted.python.threadpool import ThreadPool
from twisted.trial import unittest
from twisted.web.client import HTTPConnectionPool
from twisted.web.resource import Resource
from twisted.web.server import Request

from faultserver import (
    ETAG,
    FEED,
    HTML,
    LAST_MODIFIED,
    MiB,
    QuietSite,
    TrackingFactory,
    gzip_bomb,
    start_fault_server,
)
from planetd.bodylimits import BodyCollector
from planetd.boundaries import FetchKind, FetchResult, Validators
from planetd.configvalues import file_path
from planetd.fetch import ACCEPT, Fetcher, _request_url
from planetd.fetcherrors import FetchError

reactor: Any = _reactor
CAP = 10 * MiB


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FetchTestCase(unittest.TestCase):
    """A fault server, a connection pool and a thread pool per test, all cleaned up."""

    timeout = 20

    def setUp(self) -> None:
        # Cleanups run last-in first-out: the server stops (aborting whatever
        # is still open) before the pool closes its cached connections.
        self.pool = HTTPConnectionPool(reactor, persistent=True)
        self.addCleanup(self.pool.closeCachedConnections)
        self.server, self.base = start_fault_server(reactor)
        self.addCleanup(self.server.stop)
        self.threads = ThreadPool(minthreads=0, maxthreads=2, name="test-fetch")
        self.threads.start()
        self.addCleanup(self.threads.stop)
        folder = tempfile.mkdtemp(prefix="planetd-fetch-")
        self.addCleanup(shutil.rmtree, folder)
        self.config_path = os.path.join(folder, "planet.ini")
        self.fetcher = Fetcher(
            reactor,
            "planetd-tests/1.0 (+https://example.org/)",
            pool=self.pool,
            threadpool=self.threads,
            resolve_file=lambda url: file_path(url, self.config_path),
        )

    def serve(self, factory: Factory, interface: str = "127.0.0.1") -> tuple[str, TrackingFactory]:
        """Listen with ``factory`` for this test only; return the base URL and its connections.

        Stopping aborts whatever connection is still open and waits for it.
        """
        tracking = TrackingFactory(factory)
        port = reactor.listenTCP(0, tracking, interface=interface)

        def stop() -> Deferred[Any]:
            waits = [port.stopListening()]
            if tracking.protocols:
                lost: Deferred[None] = Deferred()
                tracking.all_lost.append(lost)
                waits.append(lost)
                for protocol in list(tracking.protocols):
                    protocol.transport.abortConnection()
            return gatherResults([d for d in waits if d is not None])

        self.addCleanup(stop)
        host = f"[{interface}]" if ":" in interface else interface
        return f"http://{host}:{port.getHost().port}", tracking

    def fetch(
        self,
        path: str,
        validators: Validators | None = None,
        *,
        timeout: float = 5.0,
        max_bytes: int = CAP,
    ) -> Deferred[FetchResult]:
        url = path if ":" in path else self.base + path
        return self.fetcher.fetch(
            url, validators or Validators(), timeout=timeout, max_bytes=max_bytes
        )


class GoodFeedTests(FetchTestCase):
    async def test_feed_ok(self) -> None:
        """A feed answering 200 hands over its body, its type and new validators with its hash."""
        result = await self.fetch("/feed")
        assert result.kind is FetchKind.OK
        assert result.http_status == 200
        assert result.body == FEED
        assert result.content_type == "application/atom+xml; charset=utf-8"
        assert result.validators == Validators(
            etag=ETAG.decode(), last_modified=LAST_MODIFIED.decode(), body_hash=sha256(FEED)
        )
        assert result.final_url == self.base + "/feed"
        assert result.moved_to is None
        assert result.error is None
        assert result.fresh_for == 300.0
        assert result.elapsed > 0

    async def test_feed_not_modified_by_etag(self) -> None:
        """A feed whose ETag still matches answers 304: not modified, stored body hash kept."""
        old = Validators(etag=ETAG.decode(), last_modified=None, body_hash="stored-hash")
        result = await self.fetch("/feed", old)
        assert result.kind is FetchKind.NOT_MODIFIED
        assert result.http_status == 304
        assert result.body is None
        assert result.validators == Validators(
            etag=ETAG.decode(), last_modified=LAST_MODIFIED.decode(), body_hash="stored-hash"
        )
        assert result.fresh_for == 300.0

    async def test_feed_not_modified_by_date(self) -> None:
        """A feed unchanged since its Last-Modified answers 304 to If-Modified-Since alone."""
        old = Validators(last_modified=LAST_MODIFIED.decode(), body_hash="stored-hash")
        result = await self.fetch("/feed", old)
        assert result.kind is FetchKind.NOT_MODIFIED
        assert result.validators.body_hash == "stored-hash"

    async def test_changed_etag_gets_the_body(self) -> None:
        """A stale ETag does not match: the feed's new body comes back with the new ETag."""
        result = await self.fetch("/feed", Validators(etag='"v0"', body_hash="old"))
        assert result.kind is FetchKind.OK
        assert result.validators.etag == ETAG.decode()
        assert result.validators.body_hash == sha256(FEED)

    async def test_request_headers(self) -> None:
        """Every request names planetd, prefers feed types, offers gzip and is conditional."""
        old = Validators(etag='"abc"', last_modified="Tue, 14 Nov 2023 22:13:20 GMT")
        result = await self.fetch("/echo-headers", old)
        assert result.body is not None
        sent = json.loads(result.body)
        assert sent["user-agent"] == ["planetd-tests/1.0 (+https://example.org/)"]
        assert sent["accept"] == [ACCEPT]
        assert sent["accept-encoding"] == ["gzip, deflate"]
        assert sent["if-none-match"] == ['"abc"']
        assert sent["if-modified-since"] == ["Tue, 14 Nov 2023 22:13:20 GMT"]

    async def test_unsafe_validator_not_sent(self) -> None:
        """A stored validator with a line break is not sent, so it cannot inject headers."""
        result = await self.fetch("/echo-headers", Validators(etag='"a"\r\nX-Evil: 1'))
        assert result.body is not None
        sent = json.loads(result.body)
        assert "if-none-match" not in sent
        assert "x-evil" not in sent

    async def test_no_validators(self) -> None:
        """A feed without ETag or Last-Modified still gets a body hash; Expires gives freshness."""
        result = await self.fetch("/noval")
        assert result.kind is FetchKind.OK
        assert result.validators == Validators(body_hash=sha256(FEED))
        assert result.fresh_for is not None
        assert 590 <= result.fresh_for <= 600

    async def test_html_page(self) -> None:
        """An HTML page is fetched as it is: judging it is the parser's job, not the fetcher's."""
        result = await self.fetch("/html")
        assert result.kind is FetchKind.OK
        assert result.body == HTML
        assert result.content_type == "text/html; charset=utf-8"

    async def test_empty_body(self) -> None:
        """A 200 with an empty body is a failure with a plain reason, not an empty feed."""
        result = await self.fetch("/empty")
        assert result.kind is FetchKind.FAILED
        assert result.http_status == 200
        assert result.error == "empty response body"


class RedirectTests(FetchTestCase):
    async def test_permanent_chain(self) -> None:
        """A feed moved by 301 then 308 (relative Location included) reports where it moved."""
        result = await self.fetch("/moved301")
        assert result.kind is FetchKind.OK
        assert result.body == FEED
        assert result.final_url == self.base + "/feed"
        assert result.moved_to == self.base + "/feed"

    async def test_temporary_redirect(self) -> None:
        """A 302 is followed but is no move: the configured URL stays the one polled."""
        result = await self.fetch("/temp302")
        assert result.kind is FetchKind.OK
        assert result.final_url == self.base + "/feed"
        assert result.moved_to is None

    async def test_permanent_then_temporary(self) -> None:
        """A 301 followed by a 302 moves the feed only as far as the permanent hop went."""
        result = await self.fetch("/mixed301")
        assert result.kind is FetchKind.OK
        assert result.final_url == self.base + "/feed"
        assert result.moved_to == self.base + "/temp302"

    async def test_redirect_loop(self) -> None:
        """Two URLs redirecting to each other fail the fetch as a redirect loop."""
        result = await self.fetch("/loop-a")
        assert result.kind is FetchKind.FAILED
        assert result.error == "redirect loop"
        assert result.moved_to is None

    async def test_too_many_redirects(self) -> None:
        """A chain of seven redirects fails: planetd follows at most five."""
        result = await self.fetch("/chain?n=7")
        assert result.kind is FetchKind.FAILED
        assert result.error == "too many redirects"

    async def test_five_redirects_are_followed(self) -> None:
        """A chain of exactly five redirects still reaches the feed."""
        result = await self.fetch("/chain?n=5")
        assert result.kind is FetchKind.OK
        assert result.final_url == self.base + "/chain?n=0"

    async def test_redirect_to_file_refused(self) -> None:
        """A web server cannot redirect planetd into reading a local file."""
        result = await self.fetch("/to-file")
        assert result.kind is FetchKind.FAILED
        assert result.error == "redirect to a non-HTTP URL: file:///etc/passwd"
        assert result.body is None


class StatusTests(FetchTestCase):
    async def test_not_found(self) -> None:
        """A 404 fails with the status in words and keeps the status code."""
        result = await self.fetch("/404")
        assert result.kind is FetchKind.FAILED
        assert result.http_status == 404
        assert result.error == "HTTP 404 Not Found"

    async def test_server_error(self) -> None:
        """A 500 fails with the status in words."""
        result = await self.fetch("/500")
        assert result.kind is FetchKind.FAILED
        assert result.http_status == 500
        assert result.error == "HTTP 500 Internal Server Error"

    async def test_gone(self) -> None:
        """A 410 says the feed is gone for good."""
        result = await self.fetch("/410")
        assert result.kind is FetchKind.GONE
        assert result.http_status == 410

    async def test_throttled_seconds(self) -> None:
        """A 429 with Retry-After in seconds is throttling, with the wait the server asked for."""
        result = await self.fetch("/429-seconds")
        assert result.kind is FetchKind.THROTTLED
        assert result.http_status == 429
        assert result.retry_after == 120.0

    async def test_throttled_date(self) -> None:
        """A 429 with Retry-After as an HTTP date waits until that date."""
        result = await self.fetch("/429-date")
        assert result.kind is FetchKind.THROTTLED
        assert result.retry_after is not None
        assert 110 <= result.retry_after <= 121

    async def test_unavailable(self) -> None:
        """A 503 is throttling too, without a wait when the server names none."""
        result = await self.fetch("/503")
        assert result.kind is FetchKind.THROTTLED
        assert result.http_status == 503
        assert result.retry_after is None


class LimitTests(FetchTestCase):
    async def test_hang(self) -> None:
        """A server that never answers fails at the timeout, and its connection is closed."""
        result = await self.fetch("/hang", timeout=0.5)
        assert result.kind is FetchKind.FAILED
        assert result.error == "timed out after 0.5s"
        assert 0.5 <= result.elapsed < 1.5
        await self.server.when_idle()

    async def test_drip(self) -> None:
        """A server dripping bytes faster than any idle timeout still fails at the total timeout."""
        result = await self.fetch("/drip?every=0.05", timeout=0.5)
        assert result.kind is FetchKind.FAILED
        assert result.error == "timed out after 0.5s"
        assert 0.5 <= result.elapsed < 1.5
        await self.server.when_idle()

    async def test_connection_reused_after_timeout(self) -> None:
        """After a timed-out fetch, the next fetch from the same server works."""
        first = await self.fetch("/hang", timeout=0.3)
        assert first.kind is FetchKind.FAILED
        second = await self.fetch("/feed")
        assert second.kind is FetchKind.OK

    async def test_big_by_content_length(self) -> None:
        """A body announced larger than the cap fails at once, without being read."""
        result = await self.fetch("/big")
        assert result.kind is FetchKind.FAILED
        assert result.http_status == 200
        assert result.error == f"feed larger than {CAP} bytes"
        assert result.body is None

    async def test_big_chunked(self) -> None:
        """A body without a length fails as soon as it passes the cap, and the transfer stops."""
        result = await self.fetch("/big-chunked")
        assert result.kind is FetchKind.FAILED
        assert result.error == f"feed larger than {CAP} bytes"
        await self.server.when_idle()

    async def test_gzip_bomb(self) -> None:
        """A small gzip body that inflates past the cap fails like any oversized feed."""
        result = await self.fetch("/gzip-bomb")
        assert result.kind is FetchKind.FAILED
        assert result.error == f"feed larger than {CAP} bytes"

    async def test_connection_refused(self) -> None:
        """A host that refuses the connection fails with that reason in plain words."""
        port = reactor.listenTCP(0, Factory.forProtocol(Protocol), interface="127.0.0.1")
        number = port.getHost().port
        await port.stopListening()
        result = await self.fetch(f"http://127.0.0.1:{number}/feed")
        assert result.kind is FetchKind.FAILED
        assert result.error == "connection refused"
        assert result.http_status is None

    async def test_tls_failure(self) -> None:
        """A server whose certificate cannot be trusted fails with a TLS error, not a crash."""
        base = self.server.listen_tls()
        result = await self.fetch(base + "/feed")
        assert result.kind is FetchKind.FAILED
        assert result.error == "TLS error: certificate does not match the host name"
        assert result.http_status is None

    async def test_unsupported_scheme(self) -> None:
        """A URL that is neither http(s) nor file fails without any request."""
        result = await self.fetch("ftp://127.0.0.1/feed")
        assert result.kind is FetchKind.FAILED
        assert result.error == "unsupported URL scheme: ftp"


class EncodingTests(FetchTestCase):
    async def test_gzip(self) -> None:
        """A gzip-encoded feed arrives decompressed, hashed as decompressed."""
        result = await self.fetch("/gzip")
        assert result.kind is FetchKind.OK
        assert result.body == FEED
        assert result.validators.body_hash == sha256(FEED)

    async def test_deflate(self) -> None:
        """A deflate-encoded feed arrives decompressed."""
        result = await self.fetch("/deflate")
        assert result.kind is FetchKind.OK
        assert result.body == FEED

    async def test_raw_deflate(self) -> None:
        """A feed sent as raw deflate (no zlib header, as some servers do) arrives decompressed."""
        result = await self.fetch("/deflate-raw")
        assert result.kind is FetchKind.OK
        assert result.body == FEED

    async def test_truncated_gzip(self) -> None:
        """A gzip body cut short fails plainly instead of handing a partial feed to the parser."""
        result = await self.fetch("/gzip-truncated")
        assert result.kind is FetchKind.FAILED
        assert result.error == "gzip body ends early"

    async def test_unknown_encoding(self) -> None:
        """A Content-Encoding planetd never offered (brotli) fails, naming the encoding."""
        result = await self.fetch("/brotli")
        assert result.kind is FetchKind.FAILED
        assert result.error == "unsupported Content-Encoding: br"


class FileTests(FetchTestCase):
    def write(self, name: str, data: bytes) -> str:
        path = os.path.join(os.path.dirname(self.config_path), name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    async def test_file_ok(self) -> None:
        """A local feed, named relative to the config file, is read with its hash."""
        self.write("local.xml", FEED)
        result = await self.fetch("file:local.xml")
        assert result.kind is FetchKind.OK
        assert result.body == FEED
        assert result.http_status is None
        assert result.final_url == "file:local.xml"
        assert result.validators.body_hash == sha256(FEED)
        assert result.validators.etag is not None

    async def test_file_unchanged(self) -> None:
        """An unchanged local feed is not modified on the next poll, so it is not read again."""
        path = self.write("local.xml", FEED)
        first = await self.fetch(f"file://{path}")
        second = await self.fetch(f"file://{path}", first.validators)
        assert second.kind is FetchKind.NOT_MODIFIED
        assert second.validators == first.validators

    async def test_file_missing(self) -> None:
        """A missing local feed fails, naming the path it looked for."""
        result = await self.fetch("file:nowhere.xml")
        assert result.kind is FetchKind.FAILED
        assert result.error is not None
        assert result.error.startswith("no such file: ")
        assert result.error.endswith("nowhere.xml")

    async def test_file_too_big(self) -> None:
        """A local feed larger than the cap fails like an oversized download."""
        self.write("huge.xml", b"x" * 2048)
        result = await self.fetch("file:huge.xml", max_bytes=1024)
        assert result.kind is FetchKind.FAILED
        assert result.error == "feed larger than 1024 bytes"


class CollectorTests(unittest.SynchronousTestCase):
    def test_bomb_never_inflates(self) -> None:
        """A gzip bomb delivered in one piece stops one byte past the cap, not at 20 MiB."""
        collector = BodyCollector("gzip", 64 * 1024)
        bomb = gzip_bomb()
        tracemalloc.start()
        try:
            with pytest.raises(FetchError) as caught:
                collector(bomb)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert str(caught.value) == "feed larger than 65536 bytes"
        assert peak < 1 * MiB


class _Answer(Protocol):
    """Answers any request with fixed bytes, then closes or keeps silent."""

    answer = b""
    close = True

    def dataReceived(self, data: bytes) -> None:
        if b"\r\n\r\n" in data:
            self.transport.write(self.answer)
            if self.close:
                self.transport.loseConnection()


def answering(answer: bytes, *, close: bool) -> Factory:
    """A server that sends ``answer`` to every request (and then closes, or not)."""
    factory = Factory.forProtocol(_Answer)
    factory.protocol = type("Answer", (_Answer,), {"answer": answer, "close": close})
    factory.noisy = False
    return factory


class _CookieProbe(Resource):
    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        request.addCookie(b"session", b"abc", path=b"/")
        request.setHeader(b"content-type", b"application/json")
        cookie = request.getHeader(b"cookie")
        return json.dumps({"cookie": cookie.decode() if cookie else None}).encode()


def all_closed(tracking: TrackingFactory) -> Deferred[None]:
    """Fires once the server has no connection left open."""
    closed: Deferred[None] = Deferred()
    if not tracking.protocols:
        closed.callback(None)
    else:
        tracking.all_lost.append(closed)
    return closed


class TreqEdgeTests(FetchTestCase):
    async def test_gzip_bomb_is_never_inflated_in_memory(self) -> None:
        """Over HTTP too, a gzip bomb stays compressed until the capped inflation: the
        fetcher never holds its 20 MiB (treq's own gzip decoder would inflate it whole)."""
        gzip_bomb()  # the server's copy is built before measuring
        tracemalloc.start()
        try:
            result = await self.fetch("/gzip-bomb", max_bytes=64 * 1024)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert result.error == "feed larger than 65536 bytes"
        assert peak < 4 * MiB

    async def test_cookies_are_neither_kept_nor_sent(self) -> None:
        """A feed's Set-Cookie is not remembered: polls carry no session, as before treq."""
        base, _ = self.serve(QuietSite(_CookieProbe()))
        first = await self.fetch(base + "/feed")
        second = await self.fetch(base + "/feed")
        assert first.body is not None and second.body is not None
        assert json.loads(first.body) == {"cookie": None}
        assert json.loads(second.body) == {"cookie": None}

    async def test_ipv6_literal_host(self) -> None:
        """A feed on an IPv6 literal host ([::1]) is fetched, though treq's URL conversion
        alone fails on such hosts."""
        site = Resource()
        site.putChild(b"feed", _CookieProbe())
        try:
            base, _ = self.serve(QuietSite(site), interface="::1")
        except CannotListenError:
            raise unittest.SkipTest("no IPv6 loopback on this machine") from None
        result = await self.fetch(base + "/feed")
        assert result.kind is FetchKind.OK
        assert result.final_url == base + "/feed"

    def test_request_url_keeps_ipv6_hosts_and_encodes_the_rest(self) -> None:
        """An IPv6 URL reaches treq already a URI (host as is, the rest percent-encoded);
        any other URL is left for treq to convert."""
        assert _request_url("https://example.org/f\u00e9ed").__class__ is str
        uri = _request_url("http://[::1]:8080/f\u00e9?q=\u00fc")
        assert not isinstance(uri, str)
        assert uri.to_uri().to_text() == "http://[::1]:8080/f%C3%A9?q=%C3%BC"

    async def test_connection_lost_mid_body(self) -> None:
        """A server that closes before the announced body is complete fails plainly."""
        base, _ = self.serve(
            answering(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n<feed", close=True)
        )
        result = await self.fetch(base + "/feed")
        assert result.kind is FetchKind.FAILED
        assert result.http_status == 200
        assert result.error == "connection lost while reading the body"

    async def test_redirect_body_that_stalls_times_out(self) -> None:
        """A redirect whose body never finishes still ends at the total timeout, with its
        connection closed rather than followed or left open."""
        answer = b"HTTP/1.1 302 Found\r\nLocation: /feed\r\nContent-Length: 100\r\n\r\nmov"
        base, tracking = self.serve(answering(answer, close=False))
        result = await self.fetch(base + "/old", timeout=0.5)
        assert result.kind is FetchKind.FAILED
        assert result.error == "timed out after 0.5s"
        assert result.elapsed < 1.5
        await all_closed(tracking)

    async def test_error_page_too_long_to_keep_is_not_read(self) -> None:
        """A 404 with a body far longer than worth reading closes its connection instead."""
        page = b"x" * (1 * MiB)
        answer = b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%s" % (len(page), page)
        base, tracking = self.serve(answering(answer, close=False))
        result = await self.fetch(base + "/missing", timeout=2.0)
        assert result.kind is FetchKind.FAILED
        assert result.error == "HTTP 404 Not Found"
        await all_closed(tracking)


class CollectorLimitTests(unittest.SynchronousTestCase):
    def test_after_the_cap_every_chunk_is_refused_at_once(self) -> None:
        """Chunks that arrive after the cap was passed are refused without being counted or
        inflated (more can arrive before the connection closes)."""
        collector = BodyCollector(None, 10)
        with pytest.raises(FetchError):
            collector(b"x" * 11)
        received = collector.received
        with pytest.raises(FetchError, match="feed larger than 10 bytes"):
            collector(b"y" * 5)
        assert collector.received == received
