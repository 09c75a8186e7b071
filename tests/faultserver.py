"""A real ``twisted.web`` server on 127.0.0.1 that misbehaves on request, for fetcher tests.

Every path is one way a feed's server can behave: good (``/feed`` with
validators), moved, looping, failing, throttling, hanging, dripping, too big,
a gzip bomb. :func:`start_fault_server` listens on a free port;
:meth:`FaultServer.stop` stops listening, aborts every connection still open
(a hanging request included) and fires once they are all gone, so a test
leaves a clean reactor behind.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable
from email.utils import formatdate
from functools import cache
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.interfaces import IListeningPort
from twisted.protocols.policies import WrappingFactory
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

MiB = 1024 * 1024

FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Fault server feed</title>
  <id>urn:example:fault</id>
  <updated>2026-01-01T00:00:00Z</updated>
  <entry><title>One</title><id>urn:example:1</id><updated>2026-01-01T00:00:00Z</updated></entry>
</feed>
"""
ETAG = b'"v1"'
LAST_MODIFIED = formatdate(1_700_000_000, usegmt=True).encode()
HTML = b"<!DOCTYPE html><html><head><title>Not a feed</title></head><body>Hi</body></html>"


def gzipped(data: bytes, wbits: int = 31) -> bytes:
    """``data`` compressed: gzip (31), zlib-wrapped deflate (15) or raw deflate (-15)."""
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return c.compress(data) + c.flush()


@cache
def big_body() -> bytes:
    return b"x" * (11 * MiB)


@cache
def gzip_bomb() -> bytes:
    """About 20 KiB on the wire, 20 MiB once inflated."""
    return gzipped(b"\0" * (20 * MiB))


Handler = Callable[["FaultServer", Request], Any]


class _Route(Resource):
    isLeaf = True

    def __init__(self, server: FaultServer, handler: Handler) -> None:
        super().__init__()
        self._server = server
        self._handler = handler

    def render_GET(self, request: Request) -> Any:
        return self._handler(self._server, request)


def _redirect(request: Request, code: int, location: bytes) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"location", location)
    request.setHeader(b"content-type", b"text/plain")
    return b"moved\n"


def _status(code: int, **headers: bytes) -> Handler:
    def handler(server: FaultServer, request: Request) -> bytes:
        request.setResponseCode(code)
        for name, value in headers.items():
            request.setHeader(name.replace("_", "-").encode(), value)
        return b"status page\n"

    return handler


def _feed(server: FaultServer, request: Request) -> bytes:
    request.setHeader(b"etag", ETAG)
    request.setHeader(b"last-modified", LAST_MODIFIED)
    request.setHeader(b"cache-control", b"max-age=300")
    if_none_match = request.getHeader(b"if-none-match")
    if_modified_since = request.getHeader(b"if-modified-since")
    if (if_none_match is not None and if_none_match == ETAG) or (
        if_none_match is None and if_modified_since == LAST_MODIFIED
    ):
        request.setResponseCode(304)
        return b""
    request.setHeader(b"content-type", b"application/atom+xml; charset=utf-8")
    return FEED


def _noval(server: FaultServer, request: Request) -> bytes:
    request.setHeader(b"content-type", b"application/atom+xml")
    request.setHeader(b"date", formatdate(time.time(), usegmt=True).encode())
    request.setHeader(b"expires", formatdate(time.time() + 600, usegmt=True).encode())
    return FEED


def _echo_headers(server: FaultServer, request: Request) -> bytes:
    headers = {
        name.decode().lower(): [v.decode() for v in values]
        for name, values in request.requestHeaders.getAllRawHeaders()
    }
    request.setHeader(b"content-type", b"application/json")
    return json.dumps(headers).encode()


def _chain(server: FaultServer, request: Request) -> bytes:
    n = int(request.args.get(b"n", [b"0"])[0])
    if n <= 0:
        return FEED
    return _redirect(request, 302, b"/chain?n=%d" % (n - 1))


def _retry_date(server: FaultServer, request: Request) -> bytes:
    request.setResponseCode(429)
    request.setHeader(b"retry-after", formatdate(time.time() + 120, usegmt=True).encode())
    return b"slow down\n"


def _encoded(body: bytes, encoding: bytes) -> Handler:
    def handler(server: FaultServer, request: Request) -> bytes:
        request.setHeader(b"content-type", b"application/atom+xml")
        request.setHeader(b"content-encoding", encoding)
        return body

    return handler


def _static(body: bytes, content_type: bytes) -> Handler:
    def handler(server: FaultServer, request: Request) -> bytes:
        request.setHeader(b"content-type", content_type)
        return body

    return handler


def _hang(server: FaultServer, request: Request) -> object:
    server.track(request)
    return NOT_DONE_YET


def _drip(server: FaultServer, request: Request) -> object:
    """One byte every ``every`` seconds (default 1), forever, until the client goes away."""
    every = float(request.args.get(b"every", [b"1"])[0])
    request.setHeader(b"content-type", b"application/atom+xml")
    call: list[Any] = []

    def drip() -> None:
        request.write(b" ")
        call[:] = [server.reactor.callLater(every, drip)]

    def stop(_: object) -> None:
        if call and call[0].active():
            call[0].cancel()

    server.track(request).addBoth(stop)
    drip()
    return NOT_DONE_YET


def _big_chunked(server: FaultServer, request: Request) -> object:
    """11 MiB in 64 KiB chunks, chunked encoding, no Content-Length."""
    request.setHeader(b"content-type", b"application/atom+xml")
    chunk = b"x" * (64 * 1024)
    state = {"left": 11 * MiB, "gone": False, "call": None}

    def more() -> None:
        state["call"] = None
        if state["gone"]:
            return
        if state["left"] <= 0:
            request.finish()
            return
        request.write(chunk)
        state["left"] -= len(chunk)
        state["call"] = server.reactor.callLater(0, more)

    def stop(_: object) -> None:
        state["gone"] = True
        if state["call"] is not None and state["call"].active():
            state["call"].cancel()

    server.track(request).addBoth(stop)
    more()
    return NOT_DONE_YET


ROUTES: dict[bytes, Handler] = {
    b"feed": _feed,
    b"noval": _noval,
    b"echo-headers": _echo_headers,
    b"moved301": lambda s, r: _redirect(r, 301, b"moved301b"),  # relative Location
    b"moved301b": lambda s, r: _redirect(r, 308, s.base_url.encode() + b"/feed"),  # absolute
    b"temp302": lambda s, r: _redirect(r, 302, b"/feed"),
    b"mixed301": lambda s, r: _redirect(r, 301, b"/temp302"),
    b"loop-a": lambda s, r: _redirect(r, 301, b"/loop-b"),
    b"loop-b": lambda s, r: _redirect(r, 301, b"/loop-a"),
    b"to-file": lambda s, r: _redirect(r, 302, b"file:///etc/passwd"),
    b"chain": _chain,
    b"404": _status(404),
    b"500": _status(500),
    b"410": _status(410),
    b"429-seconds": _status(429, retry_after=b"120"),
    b"429-date": _retry_date,
    b"503": _status(503),
    b"hang": _hang,
    b"drip": _drip,
    b"big": lambda s, r: _static(big_body(), b"application/atom+xml")(s, r),
    b"big-chunked": _big_chunked,
    b"gzip-bomb": lambda s, r: _encoded(gzip_bomb(), b"gzip")(s, r),
    b"gzip": _encoded(gzipped(FEED), b"gzip"),
    b"gzip-truncated": _encoded(gzipped(FEED)[:-20], b"gzip"),
    b"deflate": _encoded(gzipped(FEED, 15), b"deflate"),
    b"deflate-raw": _encoded(gzipped(FEED, -15), b"deflate"),
    b"brotli": _encoded(b"\x1b\x03\x00\xf8\xa5", b"br"),
    b"html": _static(HTML, b"text/html; charset=utf-8"),
    b"empty": _static(b"", b"application/atom+xml"),
}


class QuietSite(Site):
    noisy = False

    def log(self, request: Request) -> None:
        """No access log: tests read results, not log lines (shared with planet_harness)."""


class TrackingFactory(WrappingFactory):
    """Remembers open connections so that stopping can abort them and wait."""

    noisy = False

    def __init__(self, wrapped: Site) -> None:
        super().__init__(wrapped)
        self.all_lost: list[Deferred[None]] = []

    def unregisterProtocol(self, p: Any) -> None:
        super().unregisterProtocol(p)
        if not self.protocols:
            waiting, self.all_lost = self.all_lost, []
            for d in waiting:
                d.callback(None)


class FaultServer:
    """The running server: its port, base URL and what is still in flight."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        root = Resource()
        for name, handler in ROUTES.items():
            root.putChild(name, _Route(self, handler))
        self._factory = TrackingFactory(QuietSite(root, reactor=reactor))
        self.port: IListeningPort = reactor.listenTCP(0, self._factory, interface="127.0.0.1")
        self._ports = [self.port]
        self.base_url = f"http://127.0.0.1:{self.port.getHost().port}"
        self._active: set[Request] = set()
        self._idle: list[Deferred[None]] = []

    def url(self, path: str) -> str:
        return self.base_url + path

    def listen_tls(self) -> str:
        """Also serve over TLS with Twisted's self-signed test certificate; return its base URL.

        No client trusts that certificate, so every fetch from it fails the TLS handshake.
        """
        from twisted.internet import ssl
        from twisted.test import __file__ as twisted_test

        pem = str(Path(twisted_test).with_name("server.pem"))
        options = ssl.DefaultOpenSSLContextFactory(pem, pem)
        port = self.reactor.listenSSL(0, self._factory, options, interface="127.0.0.1")
        self._ports.append(port)
        return f"https://127.0.0.1:{port.getHost().port}"

    def track(self, request: Request) -> Deferred[None]:
        """Count ``request`` as in flight until it finishes or its client goes away."""
        self._active.add(request)
        finished: Deferred[None] = request.notifyFinish()

        def done(result: object) -> object:
            self._active.discard(request)
            if not self._active:
                waiting, self._idle = self._idle, []
                for d in waiting:
                    d.callback(None)
            return None  # a lost connection is expected here, not an error

        return finished.addBoth(done)

    @property
    def in_flight(self) -> int:
        """Requests (hang, drip, big-chunked) still being answered."""
        return len(self._active)

    def when_idle(self) -> Deferred[None]:
        """Fires once no tracked request is in flight: the client let go of it."""
        if not self._active:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._idle.append(d)
        return d

    def stop(self) -> Deferred[None]:
        """Stop listening, abort open connections, fire when every one is closed."""
        waits = [d for d in (port.stopListening() for port in self._ports) if d is not None]
        if self._factory.protocols:
            lost: Deferred[None] = Deferred()
            self._factory.all_lost.append(lost)
            waits.append(lost)
            for protocol in list(self._factory.protocols):
                protocol.transport.abortConnection()
        return gatherResults(waits).addCallback(lambda _: None)


def start_fault_server(reactor: Any) -> tuple[FaultServer, str]:
    """Listen on 127.0.0.1 on a free port; return the server and its base URL."""
    server = FaultServer(reactor)
    return server, server.base_url
