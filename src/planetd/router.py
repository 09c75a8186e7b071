"""Several planets behind one listener: the router, and the page of planets.

Owns HTTP for a daemon that serves several planets: each request goes to
one planet's own web face (:class:`planetd.web.PlanetWeb`, unchanged), by its
Host header first, then by the path prefix (``mount``) it starts with, then
to the planet served at ``/``; which one is :func:`planetd.planets.route`'s
rule. Inside a planet its paths stay its own (``/python/feeds`` is the
planet's ``/feeds``; the mount moves into the request's ``prepath``, so Klein
sees the planet's paths). ``/python`` redirects to ``/python/``. It also
serves the page of planets (:mod:`planetd.planetspage`) at
:data:`planetd.planets.PLANETS_PATH`, and at ``/`` when no planet is served
there, rebuilt on a reader thread when the store has moved on.

A part of the web shell (it serves through :mod:`planetd.httpcache`).
Decides nothing about routes itself. Must not import the store's classes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone

from klein import Klein
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request

from planetd.boundaries import Output, PlanetPlace, ReadsAllPlanets, StoresAllPlanets, WebFace
from planetd.httpcache import PUBLIC, Cached, prepare, serve
from planetd.planets import PLANETS_PATH, host_name, route

#: Builds the page of planets from one read of the shared store.
BuildsPage = Callable[[ReadsAllPlanets, datetime], bytes]

HTML = "text/html; charset=utf-8"


class PlanetsPage:
    """The page of planets as Klein serves it: built on a reader thread when the store
    has moved on, at most once per ``rebuild_delay`` (meanwhile, and while a build
    runs, a request gets the page as last built)."""

    app = Klein()

    def __init__(
        self,
        store: StoresAllPlanets,
        reactor: IReactorTime,
        build: BuildsPage,
        *,
        rebuild_delay: float = 1.0,
    ):
        self.store = store
        self.reactor = reactor
        self.build = build
        self.rebuild_delay = rebuild_delay
        self._cached: tuple[int, Cached] | None = None
        self._started = float("-inf")
        self._waiting: list[Deferred[Cached]] | None = None

    async def cached(self) -> Cached:
        """The page as of the store's current generation (built now if it moved on)."""
        held = self._cached
        if held is not None and (
            held[0] == self.store.generation
            or self._waiting is not None
            or self.reactor.seconds() - self._started < self.rebuild_delay
        ):
            return held[1]
        if self._waiting is not None:  # the first build runs: wait for it
            waiter: Deferred[Cached] = Deferred()
            self._waiting.append(waiter)
            return await waiter
        self._waiting = []
        self._started = self.reactor.seconds()
        try:
            cached = await self._build()
        except Exception:
            failure = Failure()
            waiting, self._waiting = self._waiting, None
            for waiter in waiting:
                waiter.errback(failure)
            raise
        waiting, self._waiting = self._waiting, None
        for waiter in waiting:
            waiter.callback(cached)
        return cached

    async def _build(self) -> Cached:
        generation = self.store.generation
        now = datetime.fromtimestamp(self.reactor.seconds(), tz=timezone.utc)
        body = await self.store.reading_all(lambda db: self.build(db, now))
        previous = self._cached[1] if self._cached is not None else None
        cached = prepare(Output(body, HTML), now, previous, PUBLIC)
        self._cached = (generation, cached)
        return cached

    @app.route("/", methods=["GET", "HEAD"])
    async def page(self, request: IRequest) -> bytes:
        return serve(request, await self.cached())


class _AllOutputs:
    """Every planet's outputs (and the page of planets) opened and closed together."""

    def __init__(self, webs: Sequence[WebFace], page: PlanetsPage) -> None:
        self.webs = webs
        self.page = page

    def refresh(self) -> Deferred[None]:
        refreshes = [w.outputs.refresh() for w in self.webs]
        refreshes.append(Deferred.fromCoroutine(self.page.cached()).addCallback(lambda _: None))
        return gatherResults(refreshes).addCallback(lambda _: None)

    def stop(self) -> None:
        for web in self.webs:
            web.stop()


class PlanetsWeb:
    """Several planets' web faces behind one resource, and the page of planets.

    Args:
        places: Where each planet is served (:func:`planetd.planets.places`), in order.
        webs: Each planet's web face, in the same order.
        page: The page of planets.
    """

    def __init__(
        self, places: Sequence[PlanetPlace], webs: Sequence[WebFace], page: PlanetsPage
    ) -> None:
        self.places = tuple(places)
        self.webs = tuple(webs)
        self.page = page
        self._outputs = _AllOutputs(self.webs, page)
        self._resources = [w.resource() for w in self.webs]
        self._page_resource: IResource = page.app.resource()

    @property
    def outputs(self) -> _AllOutputs:
        return self._outputs

    def resource(self) -> IResource:
        return _Router(self)

    def stop(self) -> None:
        """Stop every planet's page builds (theirs and their groups')."""
        self._outputs.stop()

    def _is_page(self, path: str, place: PlanetPlace | None, host_matched: bool) -> bool:
        if len(self.places) > 1 and path in (PLANETS_PATH, PLANETS_PATH.rstrip("/")):
            return not host_matched
        return place is None and path == "/"

    def dispatch(self, request: Request) -> bytes | int:
        """Hand ``request`` to the planet it is for (or the page of planets)."""
        host = request.getHeader(b"host")
        host_text = host.decode("latin-1") if host is not None else None
        segments = [s.decode("utf-8", "replace") for s in request.postpath or [b""]]
        path = "/" + "/".join(segments)
        place, rest = route(self.places, host_text, path)
        host_matched = place is not None and place.host == host_name(host_text)
        if self._is_page(path, place, host_matched):
            request.prepath = [*(request.prepath or []), *(request.postpath or [])]
            request.postpath = [b""]
            result: bytes | int = self._page_resource.render(request)
            return result
        if place is None:
            request.setResponseCode(404)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"no planet is served here\n"
        if place.mount is not None and path == place.mount.rstrip("/"):
            query = request.uri.partition(b"?")[2]
            location = place.mount.encode() + (b"?" + query if query else b"")
            request.setResponseCode(301)
            request.setHeader(b"location", location)
            return b""
        if rest != path and request.postpath:
            taken = len(segments) - len(rest.split("/")) + 1
            request.prepath = [*(request.prepath or []), *request.postpath[:taken]]
            request.postpath = request.postpath[taken:]
        rendered: bytes | int = self._resources[place.index].render(request)
        return rendered

    def route_of(self, path: bytes, method: bytes) -> str:
        """The route a request matched (by path alone), prefixed by its planet's mount."""
        text = path.decode("utf-8", "replace").partition("?")[0]
        place, rest = route(self.places, None, text)
        if place is None or self._is_page(text, place, False):
            return PLANETS_PATH if self._is_page(text, place, False) else "other"
        inner = self.webs[place.index].route_of(rest.encode("utf-8"), method)
        prefix = (place.mount or "/").rstrip("/") if rest != text else ""
        return prefix + inner if inner != "other" else "other"


class _Router(Resource):
    """The listening ports' resource when several planets are served."""

    isLeaf = True

    def __init__(self, web: PlanetsWeb) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # unannotated in Twisted
        self.web = web

    def render(self, request: Request) -> bytes | int:
        return self.web.dispatch(request)
