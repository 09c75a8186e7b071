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

The web layer (Klein, Jinja2) is imported inside :func:`web_face` only, so
``planetd poll`` never loads it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.logger import Logger

from planetd.boundaries import FeedURL, ListedFeed, Metrics, PlanetConfig, PollReport, Stores
from planetd.config import file_path
from planetd.dbthreads import Store
from planetd.faces import read_faces
from planetd.fetch import Fetcher
from planetd.nometrics import NULL_METRICS
from planetd.outputs import REBUILD_DELAY
from planetd.poller import Poller
from planetd.reload import effective_config
from planetd.workers import ParsePool

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime
    from twisted.web.resource import IResource

    from planetd.boundaries import IDaemonReactor
    from planetd.web import PlanetWeb

log = Logger()


def user_agent(config: PlanetConfig) -> str:
    """``planetd/VERSION (+planet link; owner email)``: who is polling, and how to reach them."""
    from planetd import __version__

    contact = "; ".join(p for p in (config.link, config.owner_email) if p)
    return f"planetd/{__version__} (+{contact})" if contact else f"planetd/{__version__}"


class Aggregation:
    """Store, fetcher, parse pool and poller for one planet, opened and closed together.

    Args:
        config: The planet.
        database: The SQLite file.
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
        self.store = Store(reactor, database)
        self.parser = ParsePool(
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
    rebuild_delay: float = REBUILD_DELAY,
    metrics: Metrics = NULL_METRICS,
    metrics_page: IResource | None = None,
) -> PlanetWeb:
    """The web app of one planet over ``store``: every output cached, the stylesheet read once.

    Args:
        config: The planet (its templates: the operator's ``template_dir`` first).
        store: Where pages are read from.
        reactor: The clock of the output cache.
        is_running: Whether the poller runs (``/healthz`` says ok only then).
        rebuild_delay: Least seconds between two rebuilds of the pages (0: a request
            after a write always waits for the rebuild).
        metrics: Told how long each build of the pages took.
        metrics_page: ``/metrics`` on this web face (None: 404 there).

    The feeds' face files are read here, once: a missing one is logged and
    shows no face.
    """
    from planetd.outputs import OutputCache
    from planetd.render import Renderer, read_stylesheet
    from planetd.site import Site
    from planetd.web import PlanetWeb

    faces = read_faces(config)
    for problem in faces.problems:
        log.warn("{problem}", problem=problem)
    renderer = Renderer(config, faces.files)
    site = Site(config, renderer)
    return PlanetWeb(
        site,
        OutputCache(
            store,
            reactor,
            site.build_all,
            rebuild_delay=rebuild_delay,
            on_built=metrics.page_built,
        ),
        stylesheet=read_stylesheet(renderer),
        is_running=is_running,
        faces=faces.files,
        metrics=metrics_page,
        metrics_public=config.metrics_public,
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
        rebuild_delay: Least seconds between two rebuilds of the pages.

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
        rebuild_delay: float = REBUILD_DELAY,
    ) -> None:
        from planetd.prometheus import PrometheusMetrics

        self.metrics = PrometheusMetrics(lambda: list(self.poller.states.values()))
        self.metrics_page = self.metrics.resource(reactor)
        self.aggregation = Aggregation(
            config, database, reactor, rng=rng, workers=workers, metrics=self.metrics
        )
        self.store = self.aggregation.store
        self.poller = self.aggregation.poller
        self.reactor = reactor
        self.is_running = is_running
        self.rebuild_delay = rebuild_delay
        self.web = self.make_web(config)

    def make_web(self, config: PlanetConfig) -> PlanetWeb:
        """A web face for ``config`` over this planet's store (a reload makes a new one)."""
        return web_face(
            config,
            self.store,
            self.reactor,
            is_running=self.is_running,
            rebuild_delay=self.rebuild_delay,
            metrics=self.metrics,
            metrics_page=None if config.metrics_listen else self.metrics_page,
        )

    async def open(self) -> None:
        """Open the poll path, then render every page (so the first visitor pays nothing)."""
        await self.aggregation.open()
        if self.poller.config != self.aggregation.config:  # feeds of reading lists
            self.web = self.make_web(self.poller.config)
        await self.web.outputs.refresh()

    async def close(self) -> None:
        """Stop the poller (in-flight polls get their grace) and any armed page rebuild,
        then close the poll path."""
        await self.poller.stop()
        self.web.outputs.stop()
        await self.aggregation.close()
