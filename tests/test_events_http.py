"""``/events`` and the live river's other paths over real HTTP on 127.0.0.1.

The web face is the daemon's (:func:`planetd.webface.web_face` with a
:class:`planetd.livefeed.ChangeFeed`) over a real SQLite file, listening on a
port the test opens and closes; clients are raw TCP connections, so what is
asserted is exactly what went over the wire: framing, headers, heartbeats,
``Last-Event-ID`` resume, the cap on streams, and streams ended at shutdown
and forgotten when a client leaves.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import treq
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.internet.task import deferLater
from twisted.python.failure import Failure
from twisted.trial import unittest
from twisted.web.server import Site as WebSite

from builders import parsed, utc
from planet_harness import reactor
from planetd.boundaries import EntryID, FeedState, FeedStatus, PollOutcome
from planetd.changes import HEARTBEAT
from planetd.config import parse_config
from planetd.dbthreads import InlineStore
from planetd.livefeed import ChangeFeed
from planetd.store import open_database
from planetd.webface import web_face

CONFIG = """[Planet]
name = Live Planet
items_per_page = 10

[https://a.example.org/feed]
name = Alpha
"""


class RawClient(Protocol):
    """One HTTP/1.1 request, and every byte of the answer as it arrives."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.received = b""
        self.closed: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.request)

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.closed.callback(None)

    def leave(self) -> None:
        assert self.transport is not None
        self.transport.loseConnection()


class EventsOverHTTP(unittest.TestCase):
    """A live planet on a real port; each test's clients and port are closed after it."""

    timeout = 60

    async def start(self, *, max_streams: int = 5, heartbeat: float = 15.0) -> None:
        folder = tempfile.TemporaryDirectory(prefix="planetd-events-")
        self.addCleanup(folder.cleanup)
        self.config = parse_config(CONFIG, str(Path(folder.name) / "planet.ini"))
        self.db = open_database(str(Path(folder.name) / "planet.sqlite"))
        self.addCleanup(self.db.close)
        self.db.sync_feeds(self.config.feeds, utc(2026, 7, 1))
        self.store = InlineStore(self.db)
        self.changes = ChangeFeed(reactor, max_streams=max_streams, heartbeat=heartbeat)
        self.addCleanup(self.changes.close)
        self.web = web_face(self.config, self.store, reactor, rebuild_delay=0, live=self.changes)
        port = reactor.listenTCP(0, WebSite(self.web.app.resource()), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        self.port: int = port.getHost().port
        self.stored = 0

    def store_entries(self, count: int = 1) -> tuple[EntryID, ...]:
        """A poll that stores ``count`` new entries, published as the poller would."""
        feed = self.config.feeds[0]
        state = FeedState(url=feed.url, name=feed.name, status=FeedStatus.OK)
        entries = tuple(
            parsed(f"e{self.stored + n}", utc(2026, 7, 2, 0, self.stored + n)) for n in range(count)
        )
        self.stored += count
        outcome = PollOutcome(state=state, entries=entries)
        record = self.successResultOf(self.store.record_poll(feed, outcome, utc(2026, 7, 2)))
        self.changes.publish(record.new_ids)
        return record.new_ids

    async def connect(self, path: str = "/events", headers: str = "") -> RawClient:
        client = RawClient(
            f"GET {path} HTTP/1.1\r\nHost: planet.test\r\n{headers}\r\n".encode("latin-1")
        )
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.port)
        await connectProtocol(endpoint, client)
        self.addCleanup(lambda: client.closed if client.transport.connected else None)
        self.addCleanup(client.leave)
        return client

    async def until(self, check: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
        """Wait (at most ``timeout`` seconds, in 10 ms steps) until ``check()`` holds."""
        for _ in range(int(timeout / 0.01)):
            if check():
                return
            await deferLater(reactor, 0.01, lambda: None)
        raise AssertionError(f"timed out waiting for {what}")

    async def get(self, path: str) -> tuple[int, Any, bytes]:
        response = await treq.get(f"http://127.0.0.1:{self.port}{path}", persistent=False)
        return response.code, response.headers, await treq.content(response)

    # -- the stream ---------------------------------------------------------------------

    async def test_a_stream_sends_each_store_change_as_it_happens(self) -> None:
        """A client holding ``/events`` gets a text/event-stream (never gzipped, no ETag, even
        when it accepts gzip) and, for each poll that stored entries, one event with their
        ids; the fragment for those ids is the entries as the river renders them."""
        await self.start()
        client = await self.connect(headers="Accept-Encoding: gzip\r\n")
        await self.until(lambda: b"retry: " in client.received, "the stream's opening")
        head = client.received.split(b"\r\n\r\n")[0].lower()
        assert head.startswith(b"http/1.1 200")
        assert b"content-type: text/event-stream" in head
        assert b"content-encoding" not in head and b"etag" not in head
        new = self.store_entries(2)
        await self.until(lambda: b"event: entries" in client.received, "the event")
        assert f"id: {self.changes.epoch}-1\n".encode() in client.received
        assert f'data: {{"ids":["{new[0]}","{new[1]}"]}}'.encode() in client.received
        code, headers, body = await self.get(f"/fragments/entries?id={new[0]}&id={new[1]}")
        assert code == 200 and headers.getRawHeaders(b"content-type")[0].startswith(b"text/html")
        assert sorted(re.findall(rb'id="e-([0-9a-f]+)"', body)) == sorted(i.encode() for i in new)
        assert b"<script" not in body

    async def test_heartbeats_keep_an_idle_stream_alive(self) -> None:
        """An idle stream gets a heartbeat comment every ``event_heartbeat`` seconds."""
        await self.start(heartbeat=0.1)
        client = await self.connect()
        await self.until(lambda: client.received.count(HEARTBEAT) >= 2, "two heartbeats", 3)

    async def test_a_reconnecting_browser_gets_what_it_missed(self) -> None:
        """``Last-Event-ID`` (or ``since``, the id the page was built at) resumes the feed:
        the events after it arrive first, in order, and none before it; an id of another
        run gets a reset event carrying the current id."""
        await self.start()
        first = self.store_entries()
        second = self.store_entries()
        third = self.store_entries()
        epoch = self.changes.epoch
        resumed = await self.connect(headers=f"Last-Event-ID: {epoch}-1\r\n")
        by_since = await self.connect(f"/events?since={epoch}-1")
        stranger = await self.connect(headers="Last-Event-ID: 0-7\r\n")
        for client in (resumed, by_since):
            await self.until(lambda c=client: f"id: {epoch}-3".encode() in c.received, "missed")
            text = client.received
            assert first[0].encode() not in text
            assert text.index(second[0].encode()) < text.index(third[0].encode())
        await self.until(lambda: b"event: reset" in stranger.received, "a reset")
        assert f"id: {epoch}-3\nevent: reset".encode() in stranger.received
        assert b"event: entries" not in stranger.received

    async def test_over_the_cap_a_client_gets_503_and_a_place_frees_when_one_leaves(
        self,
    ) -> None:
        """With ``max_event_streams`` streams open, the next client is answered 503 with
        Retry-After at once; when a client disconnects its stream is forgotten (no leak)
        and a new client is served."""
        await self.start(max_streams=2)
        one = await self.connect()
        two = await self.connect()
        await self.until(lambda: self.changes.open_streams == 2, "two streams")
        refused = await self.connect()
        await self.until(lambda: b"\r\n\r\n" in refused.received, "the refusal")
        head = refused.received.split(b"\r\n\r\n")[0].lower()
        assert head.startswith(b"http/1.1 503") and b"retry-after: 30" in head
        one.leave()
        await self.until(lambda: self.changes.open_streams == 1, "the stream forgotten")
        three = await self.connect()
        await self.until(lambda: b"retry: " in three.received, "a new stream")
        assert self.changes.open_streams == 2 and b"retry: " in two.received

    async def test_streams_end_cleanly_at_shutdown(self) -> None:
        """Closing the feed (the daemon stopping) ends every stream with the end of its
        chunked body, so clients see a clean close, and nothing stays open."""
        await self.start()
        clients = [await self.connect() for _ in range(3)]
        await self.until(lambda: self.changes.open_streams == 3, "three streams")
        self.changes.close()
        for client in clients:
            await self.until(lambda c=client: c.received.endswith(b"0\r\n\r\n"), "the end")
        assert self.changes.open_streams == 0

    # -- the page and its script ------------------------------------------------------

    async def test_the_river_loads_the_live_script_resuming_from_its_build(self) -> None:
        """The river's first page names ``/static/live.js`` (no inline script) with the id
        of the newest event when it was built; the script is served as JavaScript; the
        fragment refuses ids that are not ids."""
        await self.start()
        self.store_entries()
        code, _, page = await self.get("/")
        assert code == 200
        [tag] = re.findall(rb"<script[^>]*></script>", page)
        assert b'src="/static/live.js"' in tag
        assert f'data-events="/events?since={self.changes.epoch}-1"'.encode() in tag
        assert page.count(b"<script") == 1
        code, headers, script = await self.get("/static/live.js")
        assert code == 200 and b"EventSource" in script
        assert headers.getRawHeaders(b"content-type") == [b"text/javascript; charset=utf-8"]
        for bad in ("", "?id=%3Cscript%3E", "?" + "&".join(f"id={n}" for n in range(501))):
            code, _, _ = await self.get("/fragments/entries" + bad)
            assert code == 400, bad

    async def test_without_the_live_river_the_page_has_no_script(self) -> None:
        """``max_event_streams = 0`` turns the live river off: no script on the page and
        ``/events``, ``/static/live.js`` and ``/fragments/entries`` are not found."""
        folder = tempfile.TemporaryDirectory(prefix="planetd-events-")
        self.addCleanup(folder.cleanup)
        config = parse_config(CONFIG, str(Path(folder.name) / "planet.ini"))
        db = open_database(str(Path(folder.name) / "planet.sqlite"))
        self.addCleanup(db.close)
        web = web_face(config, InlineStore(db), reactor, rebuild_delay=0)
        port = reactor.listenTCP(0, WebSite(web.app.resource()), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        self.port = port.getHost().port
        _, _, page = await self.get("/")
        assert b"<script" not in page
        for path in ("/events", "/static/live.js", "/fragments/entries?id=abc"):
            code, _, _ = await self.get(path)
            assert code == 404, path
