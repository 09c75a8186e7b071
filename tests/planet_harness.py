"""An in-process planet for tests, built from the daemon's real parts.

:class:`DocumentServer` is a ``twisted.web`` server on 127.0.0.1 (port 0) that
serves documents from a dict, each with its own status and response headers, so
corpus files can be served with their ``Header:`` lines. :class:`Planet` runs a
temporary SQLite file through :class:`planetd.wiring.PlanetAssembly` (the store, fetcher,
parse pool, poller and web face: the daemon's service uses the same assembly), and reads
``/api/entries``, ``/api/feeds`` and ``/`` through the Klein app in memory
(``StubTreq``; the daemon's end-to-end test covers real HTTP).

:class:`PlanetTestCase` is a trial test case (real reactor, ``async def`` tests)
whose cleanups stop everything a test started: the poller, the parse workers,
the store's threads, the fetcher's pooled connections and the listening port.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote, unquote, urlencode

import attrs
import treq
from treq.testing import StubTreq
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.task import deferLater
from twisted.trial import unittest
from twisted.web.resource import Resource
from twisted.web.server import Request

from faultserver import QuietSite, TrackingFactory
from planetd.boundaries import FeedConfig, FeedURL, PlanetConfig, PollReport
from planetd.config import parse_config
from planetd.wiring import PlanetAssembly

if TYPE_CHECKING:
    from planetd.boundaries import IDaemonReactor

#: The real reactor, typed as everything the daemon uses of it.
reactor = cast("IDaemonReactor", _reactor)

__all__ = [
    "Document",
    "DocumentServer",
    "Planet",
    "PlanetTestCase",
    "make_config",
    "reactor",
]


@attrs.frozen
class Document:
    """One served document: its bytes, its status and the response headers to send."""

    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    status: int = 200


class _DocumentResource(Resource):
    isLeaf = True

    def __init__(self, server: DocumentServer) -> None:
        super().__init__()
        self._server = server

    def render_GET(self, request: Request) -> bytes:
        path = unquote(request.path.decode("ascii"))
        document = self._server.documents.get(path)
        if document is None:
            self._server.requests.append((path, 404))
            request.setResponseCode(404)
            request.setHeader(b"content-type", b"text/plain")
            return b"not found\n"
        names = {name.lower() for name, _ in document.headers}
        for name, value in document.headers:
            request.responseHeaders.addRawHeader(
                name.encode("latin-1"), value.encode("latin-1", "replace")
            )
        if "content-type" not in names and document.status == 200:
            request.setHeader(b"content-type", b"application/xml")
        status = 304 if _unchanged(request, document) else document.status
        self._server.requests.append((path, status))
        request.setResponseCode(status)
        return b"" if status in (204, 304) else document.body


def _unchanged(request: Request, document: Document) -> bool:
    """What feedparser's old test server did: 304 when a validator matches exactly."""
    sent = {name.lower(): value for name, value in document.headers}
    if_none_match = request.getHeader(b"if-none-match")
    if if_none_match is not None and "etag" in sent:
        return bool(if_none_match.decode("latin-1") == sent["etag"])
    since = request.getHeader(b"if-modified-since")
    if since is not None and "last-modified" in sent:
        return bool(since.decode("latin-1") == sent["last-modified"])
    return False


class DocumentServer:
    """Serves ``documents`` (path → :class:`Document`) on 127.0.0.1; change them at will."""

    def __init__(
        self, reactor: IDaemonReactor, documents: Mapping[str, Document] | None = None
    ) -> None:
        self.documents: dict[str, Document] = dict(documents or {})
        #: ``(path, status)`` of every request, in order.
        self.requests: list[tuple[str, int]] = []
        self._factory = TrackingFactory(QuietSite(_DocumentResource(self), reactor=reactor))
        self._port = reactor.listenTCP(0, self._factory, interface="127.0.0.1")
        self.base_url = f"http://127.0.0.1:{self._port.getHost().port}"

    def url(self, path: str) -> str:
        """The URL that serves ``path`` (which starts with ``/``)."""
        return self.base_url + quote(path, safe="/+")

    def stop(self) -> Deferred[None]:
        """Stop listening, close open connections, fire once every one is gone."""
        waits: list[Deferred[Any]] = []
        stopped = self._port.stopListening()
        if stopped is not None:
            waits.append(stopped)
        if self._factory.protocols:
            lost: Deferred[None] = Deferred()
            self._factory.all_lost.append(lost)
            waits.append(lost)
            for protocol in list(self._factory.protocols):
                protocol.transport.abortConnection()
        return gatherResults(waits).addCallback(lambda _: None) if waits else succeed(None)


def make_config(
    urls: Iterable[str],
    folder: str,
    *,
    feed_options: Mapping[str, Mapping[str, Any]] | None = None,
    **planet: Any,
) -> PlanetConfig:
    """A :class:`PlanetConfig` for ``urls`` with test-friendly polling limits.

    Every feed is named after its URL; ``feed_options`` overrides
    :class:`FeedConfig` fields per URL and ``planet`` sets ``[Planet]`` fields.
    """
    values: dict[str, Any] = {
        "name": "Test Planet",
        "min_interval": 1.0,
        "concurrency": 64,
        "per_host_concurrency": 64,
        "feed_timeout": 20.0,
    }
    values.update(planet)
    feed_options = feed_options or {}
    feeds = tuple(
        FeedConfig(
            url=FeedURL(url),
            name=url,
            poll_interval=3600.0,
            feed_timeout=values["feed_timeout"],
            max_feed_bytes=10 * 1024 * 1024,
            **dict(feed_options.get(url, {})),
        )
        for url in urls
    )
    return PlanetConfig(path=str(Path(folder) / "planet.ini"), feeds=feeds, **values)


def config_from_ini(text: str, folder: str) -> PlanetConfig:
    """A :class:`PlanetConfig` read from INI ``text`` by planetd's own config reader."""
    path = Path(folder) / "planet.ini"
    path.write_text(text, encoding="utf-8")
    return parse_config(text, str(path))


class Planet:
    """A planet as the daemon assembles it (:class:`~planetd.wiring.PlanetAssembly`),
    its Klein app read in memory."""

    def __init__(
        self, reactor: IDaemonReactor, config: PlanetConfig, database: str, *, workers: int = 2
    ):
        self.reactor = reactor
        self.config = config
        # The tests poll, then read what the poll wrote: the pages are rebuilt at once
        # for them (rebuild_delay=0) rather than at most once a second as in the daemon.
        self.parts = PlanetAssembly(
            config, database, reactor, rng=random.Random(4), workers=workers, rebuild_delay=0
        )
        self.aggregation = self.parts.aggregation
        self.store = self.parts.store
        self.poller = self.parts.poller
        self.web = self.parts.web
        self.http = StubTreq(self.web.resource())
        self._open = False

    async def start(self) -> None:
        """The service's start, minus ports: open the store, start the workers, load the
        feeds, render the pages."""
        self._open = True
        await self.parts.open()

    async def stop(self) -> None:
        """The service's stop: the poller, then workers, pooled connections and store."""
        if not self._open:
            return
        self._open = False
        await self.parts.close()

    async def poll(self, urls: Iterable[str] | None = None) -> list[PollReport]:
        """Poll ``urls`` (default: every feed) once, concurrently within the caps."""
        chosen = [FeedURL(u) for u in (urls if urls is not None else self.poller.feeds)]
        return await self.poller.poll_once(chosen)

    async def _settle(self, d: Deferred[Any]) -> Any:
        """Wait for ``d`` while pumping the in-memory connection and letting threads finish."""
        box: list[Any] = []
        d.addBoth(box.append)
        while not box:
            self.http.flush()
            if not box:
                await deferLater(self.reactor, 0.002, lambda: None)
        result = box[0]
        if hasattr(result, "raiseException"):
            result.raiseException()
        return result

    async def get(self, path: str, **params: str) -> tuple[int, bytes]:
        """``GET path`` from the Klein app: status and body."""
        url = "http://planet.test" + path + ("?" + urlencode(params) if params else "")
        response = await self._settle(self.http.get(url))
        body = await self._settle(treq.content(response))
        return int(response.code), bytes(body)

    async def get_json(self, path: str, **params: str) -> Any:
        status, body = await self.get(path, **params)
        assert status == 200, (path, params, status, body[:300])
        return json.loads(body.decode("utf-8"))

    async def entries(self, *, hidden: bool = True, feed: str | None = None) -> list[Any]:
        """Every entry ``/api/entries`` lists (``hidden=1``, ``limit=500``), following ``next``."""
        params: dict[str, str] = {"limit": "500"}
        if hidden:
            params["hidden"] = "1"
        if feed is not None:
            params["feed"] = feed
        found: list[Any] = []
        while True:
            page = await self.get_json("/api/entries", **params)
            found.extend(page["entries"])
            if not page["next"]:
                return found
            params["before"] = page["next"]

    async def feeds(self) -> list[Any]:
        """The ``/api/feeds`` list."""
        return list((await self.get_json("/api/feeds"))["feeds"])

    async def river(self) -> str:
        """The ``/`` page as text."""
        status, body = await self.get("/")
        assert status == 200, (status, body[:300])
        return body.decode("utf-8")


class PlanetTestCase(unittest.TestCase):
    """Trial test case with helpers that start a server and planets and clean them up."""

    timeout = 120

    def serve(self, documents: Mapping[str, Document] | None = None) -> DocumentServer:
        """Start a :class:`DocumentServer`; it stops after the test."""
        server = DocumentServer(reactor, documents)
        self.addCleanup(server.stop)
        return server

    def folder(self) -> str:
        """A temporary folder removed after the test."""
        holder = tempfile.TemporaryDirectory(prefix="planetd-harness-")
        self.addCleanup(holder.cleanup)
        return holder.name

    async def planet(
        self, config: PlanetConfig, *, workers: int = 2, database: str | None = None
    ) -> Planet:
        """Start a :class:`Planet` (on a fresh SQLite file unless ``database`` names one).

        It stops after the test; :meth:`Planet.stop` may also be awaited earlier, for
        instance to restart on the same database with another config.
        """
        database = database or str(Path(self.folder()) / "planet.sqlite")
        planet = Planet(reactor, config, database, workers=workers)
        self.addCleanup(lambda: Deferred.fromCoroutine(planet.stop()))
        await planet.start()
        return planet

    async def planet_for(self, urls: Sequence[str], *, workers: int = 2, **options: Any) -> Planet:
        """A started planet subscribed to ``urls`` (options as :func:`make_config`)."""
        return await self.planet(make_config(urls, self.folder(), **options), workers=workers)
