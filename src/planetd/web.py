"""The Klein face: every output over HTTP, cached, conditional and compressed.

Owns HTTP only: routes, query validation (bad input is a 400 with a JSON
error; on ``/search``, the page saying why), ``/healthz``, the feeds' faces at
``/faces/<file>`` (read once at start, served from memory), the WebSub
callbacks at ``/websub/<id>`` (answered by an :class:`AnswersCallbacks`), the guard of
``/metrics`` on the public listener (loopback clients only, unless
``metrics_public``; not served at all when ``metrics_listen`` gives it a
listener of its own), the live river's paths (``/events``, the change feed's
own resource, served as it is: never cached or compressed; ``/static/live.js``;
``/fragments/entries``, the named entries as the river renders them), and which
route template a request matched (the label of its metrics). What the bytes say
comes from
:class:`planetd.site.Site`; when they are built and which a request gets is
:class:`planetd.outputs.OutputCache`'s; the search's answers are :mod:`planetd.websearch`'s
and a request's small checks :mod:`planetd.webargs`'; validators, ``304``, gzip and
headers are :mod:`planetd.httpcache`'s. It is assembled by
:func:`planetd.webface.web_face`. Must not import the store's classes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from klein import Klein
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RoutingException

from planetd.boundaries import (
    AnswersCallbacks,
    FeedURL,
    Output,
    ReadsPlanet,
    SearchTooSlowError,
)
from planetd.faces import face_content_type
from planetd.httpcache import FACE, STYLESHEET, bad_request, prepare, serve
from planetd.httpcache import query_arg as _arg
from planetd.outputs import OutputCache
from planetd.river import CursorError, decode_cursor
from planetd.search import SearchSyntaxError, decode_search_cursor, parse_query
from planetd.site import API_DEFAULT_LIMIT, API_MAX_LIMIT, HTML, JSON, STATIC_FILES, Site
from planetd.submitweb import SubmitDesk
from planetd.webargs import ENTRY_ID as _ENTRY_ID
from planetd.webargs import flag_arg as _flag
from planetd.webargs import is_local as _is_local
from planetd.webargs import limit_arg as _limit
from planetd.webargs import not_found as _not_found
from planetd.websearch import search_api, search_error_page


class PlanetWeb:
    """The web app: routes over the site and the cache of its rendered outputs.

    Args:
        site: Builds the parameterised outputs (older pages, feed pages, API queries).
        outputs: The cache of rendered outputs (the fixed ones are built by ``site``).
        stylesheet: The bytes of ``/planetd.css``.
        is_running: Whether the poller runs (``/healthz`` says ok only then).
        faces: The face files, by name, served at ``/faces/<name>``.
        metrics: The ``/metrics`` resource for the public listener, or None when
            metrics are served on a listener of their own (then this one says 404).
        metrics_public: Serve ``/metrics`` to every client, not only loopback ones.
        groups: The cache of each group's outputs, by slug: built on the first request
            after the store moved on, never by a poll.
        desk: ``/submit`` and ``/moderate`` (None: submissions are off, both say 404).
        websub: Answers the WebSub callbacks at ``/websub/<id>`` (None: push is off, 404).
        events: The live river's ``/events`` resource, or None when the live river is
            off (then ``/events``, ``/static/live.js`` and ``/fragments/entries`` say 404).
        live_script: The bytes of ``/static/live.js``.
    """

    app = Klein()

    def __init__(
        self,
        site: Site,
        outputs: OutputCache,
        *,
        stylesheet: bytes,
        is_running: Callable[[], bool] = lambda: True,
        faces: Mapping[str, bytes] | None = None,
        metrics: IResource | None = None,
        metrics_public: bool = False,
        groups: Mapping[str, OutputCache] | None = None,
        desk: SubmitDesk | None = None,
        websub: AnswersCallbacks | None = None,
        events: IResource | None = None,
        live_script: bytes = b"",
    ) -> None:
        self.site = site
        self.websub = websub
        self.outputs = outputs
        self.is_running = is_running
        self._stylesheet = prepare(
            Output(stylesheet, "text/css; charset=utf-8"), outputs.now(), None, STYLESHEET
        )
        self._faces = {
            name: prepare(Output(body, content_type), outputs.now(), None, FACE)
            for name, body in (faces or {}).items()
            if (content_type := face_content_type(name)) is not None
        }
        self._metrics = metrics
        self._metrics_public = metrics_public
        self._groups = dict(groups or {})
        self.desk = desk
        self._events = events
        self._live_script = prepare(
            Output(live_script, "text/javascript; charset=utf-8"), outputs.now(), None, STYLESHEET
        )

    def stop(self) -> None:
        """Cancel every armed rebuild, the planet's and its groups' (the store is closing)."""
        self.outputs.stop()
        for cache in self._groups.values():
            cache.stop()

    def resource(self) -> IResource:
        """The resource that serves this planet (its Klein app)."""
        resource: IResource = self.app.resource()
        return resource

    def route_of(self, path: bytes, method: bytes) -> str:
        """The route template a request matched (``/feeds/<string:fid>``), or ``other``.

        Metrics label requests by it, so a crawler walking random paths adds
        no new series.
        """
        adapter = self.app.url_map.bind(
            "localhost",
            path_info=path.decode("utf-8", "replace"),
            default_method=method.decode("latin-1"),
        )
        try:
            rule, _ = adapter.match(return_rule=True)
        except (HTTPException, RoutingException):
            return "other"
        return str(rule.rule)

    # -- routes -------------------------------------------------------------------

    @app.route("/", methods=["GET", "HEAD"])
    async def river(self, request: IRequest) -> bytes:
        before_text = _arg(request, "before")
        if before_text is None:
            return serve(request, await self.outputs.fixed("/"))
        try:
            before = decode_cursor(before_text)
        except CursorError as e:
            return bad_request(request, str(e))
        cached = await self.outputs.computed(
            f"/?before={before_text}",
            lambda db, now: Output(self.site.older_page(db, now, before), HTML),
        )
        assert cached is not None
        return serve(request, cached)

    @app.route("/websub/<string:callback_id>", methods=["GET", "POST"])
    async def websub_callback(self, request: IRequest, callback_id: str) -> bytes:
        if self.websub is None:
            request.setResponseCode(404)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"push is off\n"
        return await self.websub.answer(request, callback_id)

    @app.route("/feeds", methods=["GET", "HEAD"])
    async def feeds_page(self, request: IRequest) -> bytes:
        return serve(request, await self.outputs.fixed("/feeds"))

    @app.route("/feeds/<string:fid>", methods=["GET", "HEAD"])
    async def feed_page(self, request: IRequest, fid: str) -> bytes:
        def make(db: ReadsPlanet, now: datetime) -> Output | None:
            body = self.site.feed_page(db, now, fid)
            return None if body is None else Output(body, HTML)

        cached = await self.outputs.computed(f"/feeds/{fid}", make)
        if cached is None:
            request.setResponseCode(404)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"no such feed\n"
        return serve(request, cached)

    @app.route("/atom.xml", methods=["GET", "HEAD"])
    async def atom(self, request: IRequest) -> bytes:
        return serve(request, await self.outputs.fixed("/atom.xml"))

    @app.route("/rss20.xml", methods=["GET", "HEAD"])
    async def rss20(self, request: IRequest) -> bytes:
        return serve(request, await self.outputs.fixed("/rss20.xml"))

    @app.route("/opml.xml", methods=["GET", "HEAD"])
    async def opml(self, request: IRequest) -> bytes:
        return serve(request, await self.outputs.fixed("/opml.xml"))

    @app.route("/feed.json", methods=["GET", "HEAD"])
    async def json_feed(self, request: IRequest) -> bytes:
        return serve(request, await self.outputs.fixed("/feed.json"))

    @app.route("/planetd.css", methods=["GET", "HEAD"])
    def stylesheet(self, request: IRequest) -> bytes:
        return serve(request, self._stylesheet)

    # -- the live river ------------------------------------------------------------------

    @app.route("/events", methods=["GET"])
    def events(self, request: IRequest) -> IResource | bytes:
        """Server-Sent Events, served as they are: never cached, never compressed."""
        if self._events is None:
            return _not_found(request, b"the live river is off (max_event_streams = 0)\n")
        return self._events

    @app.route("/static/live.js", methods=["GET", "HEAD"])
    def live_script(self, request: IRequest) -> bytes:
        if self._events is None:
            return _not_found(request, b"the live river is off (max_event_streams = 0)\n")
        return serve(request, self._live_script)

    @app.route("/fragments/entries", methods=["GET", "HEAD"])
    async def new_entries(self, request: IRequest) -> bytes:
        """The entries named by ``id`` arguments, as the river renders them (live river)."""
        if self._events is None:
            return _not_found(request, b"the live river is off (max_event_streams = 0)\n")
        values = request.args.get(b"id", []) if request.args else []
        ids = sorted({v.decode("ascii", "replace") for v in values if isinstance(v, bytes)})
        if not 1 <= len(ids) <= API_MAX_LIMIT or not all(_ENTRY_ID.match(i) for i in ids):
            return bad_request(request, f"id must name 1 to {API_MAX_LIMIT} entries by their ids")
        cached = await self.outputs.computed(
            "/fragments/entries?" + ",".join(ids),
            lambda db, _: Output(self.site.new_entries_fragment(db, ids), HTML),
        )
        assert cached is not None
        return serve(request, cached)

    @app.route("/api/feeds", methods=["GET", "HEAD"])
    async def api_feeds(self, request: IRequest) -> bytes:
        return serve(request, await self.outputs.fixed("/api/feeds"))

    @app.route("/api/entries", methods=["GET", "HEAD"])
    async def api_entries(self, request: IRequest) -> bytes:
        try:
            limit = _limit(_arg(request, "limit"))
            before_text = _arg(request, "before")
            searching = _arg(request, "q") is not None
            before = decode_cursor(before_text) if before_text and not searching else None
            feed = _arg(request, "feed")
            if feed is not None and not self.site.knows_feed(feed):
                raise ValueError(f"no feed {feed[:200]!r} in this planet")
            hidden = _flag(_arg(request, "hidden"))
        except ValueError as e:
            return bad_request(request, str(e))
        slug = _arg(request, "group")
        group = None if slug is None else self.site.find_group(slug)
        if slug is not None and group is None:
            return bad_request(request, f"no group {slug[:200]!r} in this planet", 404)
        if _arg(request, "q") is not None:
            return await search_api(self.outputs, self.site, request, limit, feed, hidden, group)
        if (
            limit == API_DEFAULT_LIMIT
            and before is None
            and feed is None
            and not hidden
            and group is None
        ):
            return serve(request, await self.outputs.fixed("/api/entries"))
        key = f"/api/entries?{limit}&{before_text}&{feed}&{hidden}&{slug}"
        cached = await self.outputs.computed(
            key,
            lambda db, _: Output(
                self.site.entries_api(
                    db,
                    limit=limit,
                    before=before,
                    feed=FeedURL(feed) if feed else None,
                    hidden=hidden,
                    group=group,
                ),
                JSON,
            ),
        )
        assert cached is not None
        return serve(request, cached)

    # -- groups -------------------------------------------------------------------------

    @app.route("/groups/<string:slug>/", methods=["GET", "HEAD"])
    async def group_river(self, request: IRequest, slug: str) -> bytes:
        before_text = _arg(request, "before")
        group = self.site.find_group(slug)
        if before_text is None or group is None:
            return await self._group_output(request, slug, "/")
        try:
            before = decode_cursor(before_text)
        except CursorError as e:
            return bad_request(request, str(e))
        cached = await self.outputs.computed(
            f"/groups/{slug}/?before={before_text}",
            lambda db, now: Output(self.site.group_older_page(db, now, group, before), HTML),
        )
        assert cached is not None
        return serve(request, cached)

    @app.route("/groups/<string:slug>/<string:name>", methods=["GET", "HEAD"])
    async def group_feed(self, request: IRequest, slug: str, name: str) -> bytes:
        path = "/" + name
        if name == "index.html" or path not in STATIC_FILES.values():
            return _not_found(request, b"no such output of a group\n")
        return await self._group_output(request, slug, path)

    async def _group_output(self, request: IRequest, slug: str, path: str) -> bytes:
        """One of a group's outputs, from its cache (built now if the store moved on)."""
        cache = self._groups.get(slug)
        if cache is None:
            return _not_found(request, b"no such group\n")
        return serve(request, await cache.fixed(path))

    @app.route("/faces/<string:name>", methods=["GET", "HEAD"])
    def face(self, request: IRequest, name: str) -> bytes:
        cached = self._faces.get(name)
        if cached is None:
            request.setResponseCode(404)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"no such face\n"
        return serve(request, cached)

    @app.route("/metrics", methods=["GET", "HEAD"])
    def metrics(self, request: IRequest) -> IResource | bytes:
        request.setHeader(b"cache-control", b"no-store")
        if self._metrics is None:
            request.setResponseCode(404)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"metrics are served on their own listener (metrics_listen)\n"
        if not (self._metrics_public or _is_local(request)):
            request.setResponseCode(403)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"metrics are served to loopback clients only (metrics_public = yes)\n"
        return self._metrics

    # -- search -------------------------------------------------------------------------

    @app.route("/search", methods=["GET", "HEAD"])
    async def search_page(self, request: IRequest) -> bytes:
        text = _arg(request, "q") or ""
        before_text = _arg(request, "before")
        try:
            query = parse_query(text) if text.strip() else None
            offset = decode_search_cursor(before_text) if before_text else 0
        except SearchSyntaxError as e:
            return await search_error_page(self.outputs, self.site, request, text, str(e))
        try:
            cached = await self.outputs.computed(
                f"/search?{offset}&{query and query.text}",
                lambda db, now: Output(self.site.search_page(db, now, query, offset), HTML),
            )
        except SearchTooSlowError as e:
            return await search_error_page(self.outputs, self.site, request, text, str(e))
        assert cached is not None
        return serve(request, cached)

    # -- suggested feeds (off unless ``submissions = yes``) ------------------------------

    @app.route("/submit", methods=["GET", "HEAD", "POST"])
    async def submit(self, request: IRequest) -> bytes:
        if self.desk is None:
            return _not_found(request, b"no submissions here\n")
        return await self.desk.submit(request)

    @app.route("/moderate", methods=["GET", "HEAD", "POST"])
    async def moderate(self, request: IRequest) -> bytes:
        if self.desk is None or not self.desk.config.moderation_token:
            return _not_found(request, b"no moderation here\n")
        return await self.desk.moderate(request)

    @app.route("/healthz", methods=["GET", "HEAD"])
    def healthz(self, request: IRequest) -> bytes:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        if self.outputs.ready and self.is_running():
            return b"ok\n"
        request.setResponseCode(503)
        return b"starting\n"
