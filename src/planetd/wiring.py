"""A planet's parts, wired once for every face: the poll path and the web face.

Owns how the store, the fetcher, the parse pool and the poller are put
together (:class:`Aggregation`: the daemon and ``planetd poll`` both need
exactly this), how the web face is put together (:func:`web_face`: renderer,
site, output cache, Klein app and stylesheet), how the daemon joins the two
(:class:`PlanetAssembly`, used by :class:`planetd.service.PlanetService` and
by the tests' in-process planet), and the order in which they open and close.
The assembly also owns the daemon's metrics (one
:class:`planetd.prometheus.PrometheusMetrics`, handed to every part that
reports) and reads the feeds' face files once, before the reactor runs.
It decides nothing and starts no timer: the daemon calls ``poller.start()``
for the endless loop, the command line calls ``poller.poll_once(...)``.

With a ``public_url``, the assembly also holds the WebSub subscriber
(:class:`planetd.websub.WebSubscriber`), hooked into the poller (its
schedule of pushed feeds and the hubs each poll discovers) and into the web
face (the callbacks).

The web layer (Klein, Jinja2) is imported inside :func:`web_face` only, so
``planetd poll`` never loads it; the parse pool (and with it feedparser, lxml
and nh3) is imported when it is first started or handed a body
(:class:`ParserOnDemand`), so a poll whose feeds are all unchanged never loads it.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.logger import Logger

from planetd.boundaries import (
    AnswersCallbacks,
    EntryKey,
    FeedURL,
    ListedFeed,
    Metrics,
    ParsedFeed,
    PlanetConfig,
    PollReport,
    Preview,
    Stores,
)
from planetd.config import is_database_url
from planetd.configvalues import file_path
from planetd.dbthreads import Store
from planetd.faces import read_faces
from planetd.fetch import Fetcher
from planetd.nometrics import NULL_METRICS
from planetd.poller import Poller
from planetd.reload import effective_config
from planetd.submitweb import DeskState
from planetd.websub import WebSubscriber, hub_client
from planetd.websubplan import websub_enabled
from planetd.websubweb import WebSubCallbacks

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IReactorTime
    from twisted.web.resource import IResource

    from planetd.boundaries import IDaemonReactor, Parses, WebFace
    from planetd.livefeed import ChangeFeed
    from planetd.pgthreads import PgStore
    from planetd.render import Renderer
    from planetd.submitweb import SubmitDesk
    from planetd.web import PlanetWeb
    from planetd.workers import ParsePool

log = Logger()

#: Seconds a suggested feed's preview fetch may take at most (the submitter waits).
PREVIEW_TIMEOUT = 15.0


def user_agent(config: PlanetConfig) -> str:
    """``planetd/VERSION (+planet link; owner email)``: who is polling, and how to reach them."""
    from planetd import __version__

    contact = "; ".join(p for p in (config.link, config.owner_email) if p)
    return f"planetd/{__version__} (+{contact})" if contact else f"planetd/{__version__}"


class ParserOnDemand:
    """The parse pool, imported and made when it is first started or handed a body.

    Args:
        reactor: The pool's reactor.
        workers: Parse processes (default: one per core).
        metrics: Told of every parse-pool restart.
        strip_trackers: Drop tracking pixels and parameters (the `strip_trackers` key).
    """

    def __init__(
        self,
        reactor: IDaemonReactor,
        *,
        workers: int | None,
        metrics: Metrics,
        strip_trackers: bool = True,
    ) -> None:
        self._reactor = reactor
        self._workers = workers
        self._strip_trackers = strip_trackers
        self._metrics = metrics
        self._pool: ParsePool | None = None

    @property
    def pool(self) -> ParsePool:
        """The parse pool, made now if it was not yet."""
        if self._pool is None:
            from planetd.workers import ParsePool

            self._pool = ParsePool(
                self._reactor,
                workers=self._workers,
                metrics=self._metrics,
                strip_trackers=self._strip_trackers,
            )
        return self._pool

    def start(self) -> None:
        """Start the workers now, so the first poll does not wait for them."""
        self.pool.start()

    def stop(self) -> None:
        """Stop the workers, if there are any."""
        if self._pool is not None:
            self._pool.stop()

    def parse(
        self, body: bytes, url: str, content_type: str | None, known: dict[EntryKey, str]
    ) -> Deferred[ParsedFeed]:
        """Parse in a worker (:meth:`planetd.workers.ParsePool.parse`)."""
        return self.pool.parse(body, url, content_type, known)


def make_store(config: PlanetConfig, database: str, reactor: IDaemonReactor) -> Store | PgStore:
    """The store ``database`` names: an SQLite file, or (``postgresql://...``) a
    PostgreSQL database that several daemons may share."""
    if is_database_url(database):
        from planetd.pgthreads import PgStore  # psycopg only where a planet asks for it

        return PgStore(
            reactor,
            database,
            lease_timeout=config.lease_timeout,
            per_host=config.per_host_concurrency,
        )
    return Store(reactor, database)


class Aggregation:
    """Store, fetcher, parse pool and poller for one planet, opened and closed together.

    Args:
        config: The planet.
        database: The SQLite file, or a ``postgresql://`` URL.
        reactor: The reactor everything runs on (the real one in the daemon and CLI).
        rng: Jitter source for the poller.
        workers: Parse processes (default: one per core).
        on_poll: Called with every finished poll's :class:`PollReport`.
        metrics: Told of every poll, fetch, parse and parse-pool restart.
    """

    def __init__(
        self,
        config: PlanetConfig,
        database: str,
        reactor: IDaemonReactor,
        *,
        rng: random.Random | None = None,
        workers: int | None = None,
        on_poll: Callable[[PollReport], None] | None = None,
        metrics: Metrics = NULL_METRICS,
    ) -> None:
        self.config = config
        self.store = make_store(config, database, reactor)
        self.parser = ParserOnDemand(
            reactor, workers=workers, metrics=metrics, strip_trackers=config.strip_trackers
        )
        self.fetcher = Fetcher(
            reactor,
            user_agent=user_agent(config),
            resolve_file=lambda url: file_path(url, config.path),
        )
        self.poller = Poller(
            config,
            self.store,
            self.fetcher,
            self.parser,
            reactor,
            rng=rng,
            on_poll=on_poll,
            metrics=metrics,
            claims=None if isinstance(self.store, Store) else self.store,
        )
        #: The feeds each reading list named when last fetched, as the store kept them.
        self.listed: dict[FeedURL, tuple[ListedFeed, ...]] = {}
        self._closed = False

    async def open(self, *, warm_parsers: bool = True) -> None:
        """Open the store, start the parse workers (unless told not to), load feed states.

        Without ``warm_parsers`` the workers start at the first parse instead:
        a command that may poll nothing need not pay for them. The feeds of the
        config's reading lists, as last fetched, are polled with the others.
        """
        await self.store.start()
        if warm_parsers:
            self.parser.start()
        if self.config.reading_lists:
            self.listed = {s.url: s.feeds for s in await self.store.reading_lists()}
            self.poller.use_config(effective_config(self.config, self.listed))
        await self.poller.load()

    async def close(self) -> None:
        """Stop the parse workers, close pooled connections, checkpoint and close the store.

        Safe to call more than once, and after a failed :meth:`open`. Stop the
        poller first (``await poller.stop()``) if its loop was started.
        """
        if self._closed:
            return
        self._closed = True
        self.parser.stop()
        try:
            await self.fetcher.close()
        finally:
            await self.store.stop()


def web_face(
    config: PlanetConfig,
    store: Stores,
    reactor: IReactorTime,
    *,
    is_running: Callable[[], bool] = lambda: True,
    rebuild_delay: float | None = None,
    metrics: Metrics = NULL_METRICS,
    metrics_page: IResource | None = None,
    root: str = "/",
    make_desk: Callable[[PlanetConfig, Renderer], SubmitDesk | None] | None = None,
    websub: AnswersCallbacks | None = None,
    live: ChangeFeed | None = None,
) -> PlanetWeb:
    """The web app of one planet over ``store``: every output cached, the stylesheet read once.

    Args:
        config: The planet (its templates: the operator's ``template_dir`` first).
        store: Where pages are read from.
        reactor: The clock of the output cache.
        is_running: Whether the poller runs (``/healthz`` says ok only then).
        rebuild_delay: Least seconds between two rebuilds of the pages (0: a request
            after a write always waits for the rebuild; None: the output cache's
            default, :data:`planetd.outputs.REBUILD_DELAY`).
        metrics: Told how long each build of the pages took.
        metrics_page: ``/metrics`` on this web face (None: 404 there).
        root: Where the planet is served (its mount when it is one of several).
        make_desk: ``/submit`` and ``/moderate`` for this face (None: both 404).
        websub: The WebSub callbacks at ``/websub/<id>`` (None: push is off).
        live: The change feed ``/events`` streams (None: no live river).

    The feeds' face files are read here, once: a missing one is logged and
    shows no face.
    """
    from planetd.livefeed import EventsResource
    from planetd.outputs import REBUILD_DELAY, OutputCache
    from planetd.render import Renderer, read_asset, read_stylesheet
    from planetd.site import Site
    from planetd.web import PlanetWeb

    faces = read_faces(config)
    for problem in faces.problems:
        log.warn("{problem}", problem=problem)
    renderer = Renderer(config, faces.files, root=root)
    site = Site(config, renderer, last_event=None if live is None else lambda: live.last_event_id)
    delay = REBUILD_DELAY if rebuild_delay is None else rebuild_delay
    groups = {
        group.slug: OutputCache(
            store, reactor, functools.partial(site.group_outputs, group=group),
            rebuild_delay=delay,
        )
        for group in site.groups
    }  # fmt: skip
    return PlanetWeb(
        site,
        OutputCache(
            store,
            reactor,
            site.build_river,
            lazy=site.lazy_builders(),
            rebuild_delay=delay,
            on_built=metrics.page_built,
        ),
        stylesheet=read_stylesheet(renderer),
        is_running=is_running,
        faces=faces.files,
        metrics=metrics_page,
        metrics_public=config.metrics_public,
        groups=groups,
        desk=None if make_desk is None else make_desk(config, renderer),
        websub=websub,
        events=None if live is None else EventsResource(live),
        live_script=b"" if live is None else read_asset(renderer, "live.js"),
    )


class PlanetAssembly:
    """One planet as the daemon runs it: the poll path and the web face over one store.

    The service adds listening ports and the endless poll loop; the tests'
    in-process planet reads the web face in memory. Both open and close it
    here, so they cannot drift apart.

    Args:
        config: The planet.
        database: The SQLite file.
        reactor: The real reactor (threads, TCP, time).
        rng: Jitter source for the poller.
        workers: Parse processes (default: one per core).
        is_running: Whether the poll loop runs (``/healthz`` says ok only then).
        rebuild_delay: Least seconds between two rebuilds of the pages (None: the default).

    ``metrics`` counts for ``/metrics``: served by the web face, or, with
    ``metrics_listen``, by :attr:`metrics_page` on a listener of its own
    (which :class:`planetd.service.PlanetService` opens).
    """

    def __init__(
        self,
        config: PlanetConfig,
        database: str,
        reactor: IDaemonReactor,
        *,
        rng: random.Random | None = None,
        workers: int | None = None,
        is_running: Callable[[], bool] = lambda: True,
        rebuild_delay: float | None = None,
    ) -> None:
        from planetd.livefeed import ChangeFeed
        from planetd.prometheus import PrometheusMetrics

        self.metrics = PrometheusMetrics(lambda: list(self.poller.states.values()))
        self.metrics_page = self.metrics.resource(reactor)
        #: The live river: every poll that stored visible entries is published here.
        self.changes = ChangeFeed(
            reactor, max_streams=config.max_event_streams, heartbeat=config.event_heartbeat
        )
        self.aggregation = Aggregation(
            config,
            database,
            reactor,
            rng=rng,
            workers=workers,
            metrics=self.metrics,
            on_poll=self.changes.polled,
        )
        self.store = self.aggregation.store
        self.poller = self.aggregation.poller
        self.reactor = reactor
        self.is_running = is_running
        self.rebuild_delay = rebuild_delay
        self.database = database
        #: The submissions' secret and rate limits, kept across reloads.
        self.desk_state = DeskState()
        #: Starts a reload of the config (the service sets it once it can reload).
        self.request_reload: Callable[[], object] = lambda: None
        #: The WebSub subscriber, when the planet has a ``public_url`` (else None).
        self.websub: WebSubscriber | None = None
        self.callbacks: AnswersCallbacks | None = None
        if websub_enabled(config):
            self.websub = WebSubscriber(
                config,
                self.store,
                self.poller,
                hub_client(reactor, user_agent(config)),
                reactor,
            )
            self.poller.tune = self.websub.tune
            self.poller.watchers.append(self.websub.heard)
            self.callbacks = WebSubCallbacks(self.websub)
        self.web = self.make_web(config)

    def make_web(self, config: PlanetConfig) -> WebFace:
        """A web face for ``config`` over this planet's store (a reload makes a new one);
        for several planets (``config.planets``), each one's behind a router."""
        self.changes.configure(
            max_streams=config.max_event_streams, heartbeat=config.event_heartbeat
        )
        if config.planets:
            return self._planets_web(config)
        return web_face(
            config,
            self.store,
            self.reactor,
            is_running=self.is_running,
            rebuild_delay=self.rebuild_delay,
            metrics=self.metrics,
            metrics_page=None if config.metrics_listen else self.metrics_page,
            make_desk=self._desk,
            websub=self.callbacks,
            live=self.changes if config.max_event_streams else None,
        )

    def _desk(self, config: PlanetConfig, renderer: Renderer) -> SubmitDesk | None:
        """``/submit`` and ``/moderate`` when ``submissions = yes``: previews fetched with
        the address guard, approvals through :class:`planetd.moderation.Approver`."""
        if not config.submissions:
            return None
        from planetd.guardedfetch import preview
        from planetd.moderation import Approver
        from planetd.submitweb import SubmitDesk

        reactor = self.reactor
        approver = Approver(reactor, self.store, config.path, lambda: self.request_reload())

        async def fetch_preview(url: str) -> tuple[Preview, str | None]:
            return await preview(
                reactor,
                url,
                user_agent=user_agent(config),
                timeout=min(config.feed_timeout, PREVIEW_TIMEOUT),
                max_bytes=config.max_feed_bytes,
                allow_private=config.allow_private_feeds,
            )

        return SubmitDesk(
            config,
            renderer,
            self.store,
            reactor,
            self.desk_state,
            preview=fetch_preview,
            approve=approver.approve,
        )

    def _planets_web(self, config: PlanetConfig) -> WebFace:
        """Several planets over the one store: each planet's own web face, as it runs
        (its reading lists' feeds included), served where :func:`planets.places` says."""
        from planetd.outputs import REBUILD_DELAY
        from planetd.planetspage import planets_page, shown_planets
        from planetd.planetview import PlanetStore
        from planetd.render import Renderer
        from planetd.router import PlanetsPage, PlanetsWeb

        shown = shown_planets(config, self.aggregation.listed)
        webs = [
            web_face(
                planet.config,
                PlanetStore(self.store, planet.config, config),
                self.reactor,
                is_running=self.is_running,
                rebuild_delay=self.rebuild_delay,
                metrics=self.metrics,
                metrics_page=None if config.metrics_listen else self.metrics_page,
                root=planet.place.link_root,
                websub=self.callbacks,
            )
            for planet in shown
        ]
        found = [planet.place for planet in shown]
        renderer = Renderer(config.planets[0], root=found[0].link_root)
        stylesheet = f"{found[0].link_root}planetd.css"
        page = PlanetsPage(
            self.store,
            self.reactor,
            lambda db, now: planets_page(db, shown, renderer, now, stylesheet=stylesheet),
            rebuild_delay=REBUILD_DELAY if self.rebuild_delay is None else self.rebuild_delay,
        )
        return PlanetsWeb(found, webs, page)

    async def open(self) -> None:
        """Open the poll path, then render every page (so the first visitor pays nothing)."""
        await self.aggregation.open()
        if self.websub is not None:
            await self.websub.load()
        if self.poller.config != self.aggregation.config:  # feeds of reading lists
            self.web = self.make_web(self.poller.config)
        await self.web.outputs.refresh()

    async def close(self) -> None:
        """Stop the poller (in-flight polls get their grace), any armed page rebuild and
        every live river stream, then close the poll path."""
        if self.websub is not None:
            self.websub.stop()
        await self.poller.stop()
        self.web.stop()
        self.changes.close()
        await self.aggregation.close()


if TYPE_CHECKING:  # static conformance: the poller takes the on-demand pool as a parse pool
    _parses: type[Parses] = ParserOnDemand
