"""The Klein face: every output over HTTP, cached, conditional and compressed.

Owns HTTP only: routes, query validation (bad input is a 400 with a JSON
error), ``ETag``/``Last-Modified``/``304``, gzip, caching headers and the
security headers of HTML pages. What the bytes say comes from
:class:`planetd.site.Site`; they are built on a reader thread, cached, and
rebuilt only when the store's generation moves, never per request.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import attrs
from klein import Klein
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest

from planetd.boundaries import FeedURL, ReadsPlanet, Stores
from planetd.river import CursorError, decode_cursor
from planetd.site import API_DEFAULT_LIMIT, API_MAX_LIMIT, HTML, JSON, Output, Site

CSP = (
    "default-src 'none'; style-src 'self'; img-src http: https: data:; "
    "media-src http: https:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_GZIP_MIN = 512


@attrs.frozen
class Cached:
    """An output ready to serve: both encodings, validators and headers."""

    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: str
    last_modified: datetime
    cache_control: str


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def prepare(output: Output, now: datetime, previous: Cached | None, cache_control: str) -> Cached:
    """Compress and tag an output; unchanged bytes keep their ``Last-Modified``."""
    etag = _etag(output.body)
    if previous is not None and previous.etag == etag:
        return previous
    gzipped = gzip.compress(output.body, 6, mtime=0) if len(output.body) >= _GZIP_MIN else None
    return Cached(
        body=output.body,
        gzipped=gzipped,
        content_type=output.content_type,
        etag=etag,
        last_modified=now.replace(microsecond=0),
        cache_control=cache_control,
    )


def _accepts_gzip(header: str | None) -> bool:
    if not header:
        return False
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            q = re.search(r"q\s*=\s*([0-9.]+)", params)
            return not (q and float(q.group(1) or 0) == 0)
    return False


def _header(request: IRequest, name: bytes) -> str | None:
    value = request.getHeader(name)
    if value is None:
        return None
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _not_modified(request: IRequest, etags: tuple[str, ...], last_modified: datetime) -> bool:
    if_none_match = _header(request, b"if-none-match")
    if if_none_match is not None:
        if if_none_match.strip() == "*":
            return True
        offered = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return any(t in offered for t in etags)
    since = _header(request, b"if-modified-since")
    if since:
        try:
            when = parsedate_to_datetime(since)
        except (TypeError, ValueError, IndexError):
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return last_modified <= when
    return False


def serve(request: IRequest, cached: Cached) -> bytes:
    """Write ``cached`` to ``request`` with validators, 304 and gzip as the request allows."""
    use_gzip = cached.gzipped is not None and _accepts_gzip(_header(request, b"accept-encoding"))
    etag = cached.etag[:-1] + '-gz"' if use_gzip else cached.etag
    request.setHeader(b"content-type", cached.content_type.encode())
    request.setHeader(b"etag", etag.encode())
    request.setHeader(b"last-modified", format_datetime(cached.last_modified, usegmt=True).encode())
    request.setHeader(b"cache-control", cached.cache_control.encode())
    request.setHeader(b"x-content-type-options", b"nosniff")
    if cached.gzipped is not None:
        request.setHeader(b"vary", b"Accept-Encoding")
    if cached.content_type.startswith("text/html"):
        request.setHeader(b"content-security-policy", CSP.encode())
        request.setHeader(b"referrer-policy", b"strict-origin-when-cross-origin")
        request.setHeader(b"x-frame-options", b"DENY")
    if _not_modified(request, (cached.etag, cached.etag[:-1] + '-gz"'), cached.last_modified):
        request.setResponseCode(304)
        return b""
    if use_gzip:
        assert cached.gzipped is not None
        request.setHeader(b"content-encoding", b"gzip")
        return cached.gzipped
    return cached.body


def bad_request(request: IRequest, message: str, code: int = 400) -> bytes:
    """A JSON error, never a traceback."""
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"application/json")
    request.setHeader(b"cache-control", b"no-store")
    return json.dumps({"error": message}).encode()


class PlanetWeb:
    """The web app: holds the site, the store and the cache of rendered outputs."""

    app = Klein()
    log = Logger()

    def __init__(
        self,
        site: Site,
        store: Stores,
        reactor: Any,
        *,
        stylesheet: bytes,
        is_running: Callable[[], bool] = lambda: True,
    ) -> None:
        self.site = site
        self.store = store
        self.reactor = reactor
        self.is_running = is_running
        self._outputs: dict[str, Cached] = {}
        self._generation = -1
        self._building: Deferred[None] | None = None
        self._waiting: list[Deferred[None]] = []
        self._extra: OrderedDict[tuple[int, str], Cached] = OrderedDict()
        self._stylesheet = prepare(
            Output(stylesheet, "text/css; charset=utf-8"),
            self._now(),
            None,
            "public, max-age=3600",
        )
        self.ready = False

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.reactor.seconds(), tz=timezone.utc)

    # -- the cache ----------------------------------------------------------------

    def refresh(self) -> Deferred[None]:
        """Rebuild the fixed outputs if the store moved on; concurrent callers share one build."""
        if self._generation == self.store.generation and self._outputs:
            return Deferred.fromCoroutine(_done())
        if self._building is not None:
            waiting: Deferred[None] = Deferred()
            self._waiting.append(waiting)
            return waiting
        generation = self.store.generation
        now = self._now()
        previous = dict(self._outputs)

        def build(db: ReadsPlanet) -> dict[str, Cached]:
            outputs = self.site.build_all(db, now)
            return {
                path: prepare(
                    output,
                    now,
                    previous.get(path),
                    "no-cache" if path.startswith("/api/") else "public, max-age=60",
                )
                for path, output in outputs.items()
            }

        def built(outputs: dict[str, Cached]) -> None:
            self._outputs = outputs
            self._generation = generation
            self._extra.clear()
            self.ready = True

        def finished(result: object) -> None:
            self._building = None
            waiting, self._waiting = self._waiting, []
            for d in waiting:
                d.callback(None)
            if isinstance(result, Failure):
                self.log.failure("rendering the planet failed", result)

        mine: Deferred[None] = Deferred()
        self._waiting.append(mine)
        self._building = Deferred()
        # The read may fire at once (an in-memory store): wire everything first.
        self.store.reading(build).addCallback(built).addBoth(finished)
        return mine

    async def _fixed(self, path: str) -> Cached:
        """The output at ``path``, rebuilt first if the store moved on.

        While feeds are being polled the store changes many times a second.
        The request that finds the outputs stale waits for one rebuild; every
        request arriving while that build runs gets the previous rendering at
        once instead of queueing behind it. A client that reads after its own
        write still sees it, since its request starts (and awaits) the build.
        """
        if self._outputs and self._building is not None:
            return self._outputs[path]
        await self.refresh()
        return self._outputs[path]

    async def _computed(
        self, key: str, make: Callable[[ReadsPlanet], Output | None]
    ) -> Cached | None:
        """A parameterised output, built on a reader thread, kept while the store is unchanged."""
        generation = self.store.generation
        found = self._extra.get((generation, key))
        if found is not None:
            self._extra.move_to_end((generation, key))
            return found
        now = self._now()
        output = await self.store.reading(make)
        if output is None:
            return None
        cached = prepare(output, now, None, "public, max-age=60")
        self._extra[(generation, key)] = cached
        while len(self._extra) > 256:
            self._extra.popitem(last=False)
        return cached

    # -- routes -------------------------------------------------------------------

    @app.route("/", methods=["GET", "HEAD"])
    async def river(self, request: IRequest) -> bytes:
        before_text = _arg(request, "before")
        if before_text is None:
            return serve(request, await self._fixed("/"))
        try:
            before = decode_cursor(before_text)
        except CursorError as e:
            return bad_request(request, str(e))
        now = self._now()
        cached = await self._computed(
            f"/?before={before_text}",
            lambda db: Output(self.site.older_page(db, now, before), HTML),
        )
        assert cached is not None
        return serve(request, cached)

    @app.route("/feeds", methods=["GET", "HEAD"])
    async def feeds_page(self, request: IRequest) -> bytes:
        return serve(request, await self._fixed("/feeds"))

    @app.route("/feeds/<string:fid>", methods=["GET", "HEAD"])
    async def feed_page(self, request: IRequest, fid: str) -> bytes:
        now = self._now()

        def make(db: ReadsPlanet) -> Output | None:
            body = self.site.feed_page(db, now, fid)
            return None if body is None else Output(body, HTML)

        cached = await self._computed(f"/feeds/{fid}", make)
        if cached is None:
            request.setResponseCode(404)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"no such feed\n"
        return serve(request, cached)

    @app.route("/atom.xml", methods=["GET", "HEAD"])
    async def atom(self, request: IRequest) -> bytes:
        return serve(request, await self._fixed("/atom.xml"))

    @app.route("/rss20.xml", methods=["GET", "HEAD"])
    async def rss20(self, request: IRequest) -> bytes:
        return serve(request, await self._fixed("/rss20.xml"))

    @app.route("/opml.xml", methods=["GET", "HEAD"])
    async def opml(self, request: IRequest) -> bytes:
        return serve(request, await self._fixed("/opml.xml"))

    @app.route("/feed.json", methods=["GET", "HEAD"])
    async def json_feed(self, request: IRequest) -> bytes:
        return serve(request, await self._fixed("/feed.json"))

    @app.route("/planetd.css", methods=["GET", "HEAD"])
    def stylesheet(self, request: IRequest) -> bytes:
        return serve(request, self._stylesheet)

    @app.route("/api/feeds", methods=["GET", "HEAD"])
    async def api_feeds(self, request: IRequest) -> bytes:
        return serve(request, await self._fixed("/api/feeds"))

    @app.route("/api/entries", methods=["GET", "HEAD"])
    async def api_entries(self, request: IRequest) -> bytes:
        try:
            limit = _limit(_arg(request, "limit"))
            before_text = _arg(request, "before")
            before = decode_cursor(before_text) if before_text is not None else None
            feed = _arg(request, "feed")
            if feed is not None and not self.site.knows_feed(feed):
                raise ValueError(f"no feed {feed[:200]!r} in this planet")
            hidden = _flag(_arg(request, "hidden"))
        except ValueError as e:
            return bad_request(request, str(e))
        if limit == API_DEFAULT_LIMIT and before is None and feed is None and not hidden:
            return serve(request, await self._fixed("/api/entries"))
        key = f"/api/entries?{limit}&{before_text}&{feed}&{hidden}"
        cached = await self._computed(
            key,
            lambda db: Output(
                self.site.entries_api(
                    db,
                    limit=limit,
                    before=before,
                    feed=FeedURL(feed) if feed else None,
                    hidden=hidden,
                ),
                JSON,
            ),
        )
        assert cached is not None
        return serve(request, cached)

    @app.route("/healthz", methods=["GET", "HEAD"])
    def healthz(self, request: IRequest) -> bytes:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        if self.ready and self.is_running():
            return b"ok\n"
        request.setResponseCode(503)
        return b"starting\n"


def _arg(request: IRequest, name: str) -> str | None:
    values = request.args.get(name.encode()) if request.args else None
    if not values:
        return None
    value = values[-1]
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _limit(text: str | None) -> int:
    if text is None:
        return API_DEFAULT_LIMIT
    if not text.isdigit() or len(text) > 6:
        raise ValueError(f"limit must be a whole number from 1 to {API_MAX_LIMIT}")
    value = int(text)
    if not 1 <= value <= API_MAX_LIMIT:
        raise ValueError(f"limit must be a whole number from 1 to {API_MAX_LIMIT}")
    return value


def _flag(text: str | None) -> bool:
    if text is None or text in ("0", "false", ""):
        return False
    if text in ("1", "true"):
        return True
    raise ValueError("hidden must be 0 or 1")


async def _done() -> None:
    return None
