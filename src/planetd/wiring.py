"""A planet as the daemon runs it: the poll path and the web face joined over one store.

Owns how the daemon joins the poll path (:class:`planetd.aggregation.Aggregation`)
and the web face (:func:`planetd.webface.web_face`) into one planet
(:class:`PlanetAssembly`, used by :class:`planetd.service.PlanetService` and
by the tests' in-process planet), and the order in which they open and close.
The assembly also owns the daemon's metrics (one
:class:`planetd.prometheus.PrometheusMetrics`, handed to every part that
reports), the submissions desk of a planet that takes suggestions, and the
web of several planets behind a router.
It decides nothing and starts no timer: the daemon calls ``poller.start()``
for the endless loop.

With a ``public_url``, the assembly also holds the WebSub subscriber
(:class:`planetd.websub.WebSubscriber`), hooked into the poller (its
schedule of pushed feeds and the hubs each poll discovers) and into the web
face (the callbacks).

The web layer (Klein, Jinja2) is imported inside :func:`planetd.webface.web_face`
and the methods here only; ``planetd poll`` builds the poll path from
:mod:`planetd.aggregation` and never imports this module.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from planetd.aggregation import Aggregation, user_agent
from planetd.boundaries import AnswersCallbacks, PlanetConfig, Preview
from planetd.submitweb import DeskState
from planetd.webface import web_face
from planetd.websub import WebSubscriber, hub_client
from planetd.websubplan import websub_enabled
from planetd.websubweb import WebSubCallbacks

if TYPE_CHECKING:
    from planetd.boundaries import IDaemonReactor, WebFace
    from planetd.render import Renderer
    from planetd.submitweb import SubmitDesk

#: Seconds a suggested feed's preview fetch may take at most (the submitter waits).
PREVIEW_TIMEOUT = 15.0


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
