"""The daemon as a Twisted service: start in the right order, stop cleanly.

Owns the lifecycle of one planet: open the store, load feed states, render
the pages (so the first visitor pays nothing), start listening, then start
polling and say that it is ready; on stop, the reverse, with in-flight polls
given a moment to finish and the database checkpointed and closed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.logger import Logger
from twisted.web.server import Site as WebSite

from planetd import __version__
from planetd.boundaries import PlanetConfig
from planetd.config import file_path
from planetd.dbthreads import Store
from planetd.fetch import Fetcher
from planetd.poller import Poller
from planetd.render import Renderer
from planetd.site import Site
from planetd.web import PlanetWeb
from planetd.workers import ParsePool


def user_agent(config: PlanetConfig) -> str:
    """``planetd/VERSION (+planet link; owner email)``: who is polling, and how to reach them."""
    contact = "; ".join(p for p in (config.link, config.owner_email) if p)
    return f"planetd/{__version__} (+{contact})" if contact else f"planetd/{__version__}"


def read_stylesheet(renderer: Renderer) -> bytes:
    """The stylesheet from the operator's template folder, else planetd's own."""
    source, _, _ = renderer.env.loader.get_source(renderer.env, "planetd.css")  # type: ignore[union-attr]
    return source.encode("utf-8")


class PlanetService(Service):
    """One planet: store, poller, parse pool and web server, started and stopped together."""

    log = Logger()

    def __init__(
        self,
        config: PlanetConfig,
        database: str,
        endpoints: Sequence[IStreamServerEndpoint],
        reactor: Any,
        *,
        rng: random.Random | None = None,
        workers: int | None = None,
    ) -> None:
        self.config = config
        self.reactor = reactor
        self.endpoints = list(endpoints)
        self.store = Store(reactor, database)
        self.parser = ParsePool(reactor, workers=workers)
        self.fetcher = Fetcher(
            reactor,
            user_agent=user_agent(config),
            resolve_file=lambda url: file_path(url, config.path),
        )
        self.poller = Poller(config, self.store, self.fetcher, self.parser, reactor, rng=rng)
        renderer = Renderer(config)
        self.web = PlanetWeb(
            Site(config, renderer),
            self.store,
            reactor,
            stylesheet=read_stylesheet(renderer),
            is_running=lambda: bool(self.running),
        )
        self.ports: list[IListeningPort] = []
        self.started: Deferred[None] | None = None

    def startService(self) -> None:
        Service.startService(self)
        self.started = Deferred.fromCoroutine(self._start())
        self.started.addErrback(self._start_failed)

    async def _start(self) -> None:
        started = self.reactor.seconds()
        await self.store.start()
        self.parser.start()
        await self.poller.load()
        await self.web.refresh()
        site = WebSite(self.web.app.resource())
        site.displayTracebacks = False
        for endpoint in self.endpoints:
            self.ports.append(await endpoint.listen(site))
        self.poller.start()
        self.log.info(
            "planetd {version} ready in {elapsed:.2f}s: {feeds} feeds, serving on {where}",
            version=__version__,
            elapsed=self.reactor.seconds() - started,
            feeds=len(self.config.feeds),
            where=", ".join(str(p.getHost()) for p in self.ports),
        )

    def _start_failed(self, failure: Any) -> None:
        self.log.failure("planetd could not start", failure)
        self.reactor.stop()

    def stopService(self) -> Deferred[None]:
        Service.stopService(self)
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        await self.poller.stop()
        for port in self.ports:
            stopped = port.stopListening()
            if stopped is not None:
                await stopped
        self.ports.clear()
        self.parser.stop()
        await self.fetcher.close()
        await self.store.stop()
        self.log.info("planetd stopped; database closed")
