"""The daemon as a Twisted service: start in the right order, stop cleanly.

Owns the lifecycle of one planet: open the store, load feed states, render
the pages (so the first visitor pays nothing), start listening, then start
polling and say that it is ready; on stop, the reverse, with in-flight polls
given a moment to finish and the database checkpointed and closed. The
parts themselves are assembled, opened and closed by
:class:`planetd.wiring.PlanetAssembly`; this module adds the ports: the
public ones, and ``/metrics`` alone on its own port when ``metrics_listen``
is set. Every answered request is counted by route template and status. It
also installs the ``SIGHUP`` handler that reloads the config
(:class:`planetd.reloading.Reloader` applies it). The handler only schedules
the reload on the reactor; it is installed once the planet runs and the
previous handler is put back on stop. Likewise only the first SIGTERM or SIGINT
reaches the reactor's handler; repeats while stopping are logged and ignored.
"""

from __future__ import annotations

import random
import signal
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http import Request
from twisted.web.resource import Resource
from twisted.web.server import Site as WebSite

from planetd import __version__
from planetd.boundaries import PlanetConfig
from planetd.reload import ReloadPlan
from planetd.reloading import CurrentWeb, Reloader
from planetd.websubweb import bounded_request
from planetd.wiring import PlanetAssembly

if TYPE_CHECKING:
    from planetd.boundaries import IDaemonReactor, WebFace


class _PlanetSite(WebSite):
    """twisted.web's site as planetd runs it: named in the log, and quiet unless asked.

    Without ``access_log`` no line is written per request: a line per request
    costs a quarter of the reactor's time under load, and the reverse proxy in
    front usually keeps one. An idle or dripping client is dropped after a
    minute (twisted.web's default is twelve hours), so slow clients cannot
    pile up for ever.
    """

    noisy = False  # no "Starting factory <...>" lines

    def __init__(
        self,
        resource: object,
        *,
        access_log: bool,
        on_answer: Callable[[Request], None] | None = None,
    ) -> None:
        super().__init__(resource, timeout=60)  # type: ignore[no-untyped-call]
        self.access_log = access_log
        self.on_answer = on_answer
        self.displayTracebacks = False

    def logPrefix(self) -> str:
        """How the port's own lines name us: "planetd web starting on 8080"."""
        return "planetd web"

    def log(self, request: Request) -> None:
        """Called once per answered request: count it, and log it if asked to."""
        if self.on_answer is not None:
            self.on_answer(request)
        if self.access_log:
            super().log(request)


def where(address: object) -> str:
    """A listening address as a person would type it: ``http://127.0.0.1:8080/``."""
    host, port = getattr(address, "host", None), getattr(address, "port", None)
    if isinstance(host, str) and isinstance(port, int):
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
    name = getattr(address, "name", None)
    if isinstance(name, bytes | str):
        return f"unix:{name.decode() if isinstance(name, bytes) else name}"
    return str(address)


class PlanetService(Service):
    """One planet: store, poller, parse pool and web server, started and stopped together."""

    log = Logger()

    def __init__(
        self,
        config: PlanetConfig,
        database: str,
        endpoints: Sequence[IStreamServerEndpoint],
        reactor: IDaemonReactor,
        *,
        rng: random.Random | None = None,
        workers: int | None = None,
        metrics_endpoint: IStreamServerEndpoint | None = None,
        read_config: Callable[[str], PlanetConfig] | None = None,
    ) -> None:
        self.config = config
        self.reactor = reactor
        self.endpoints = list(endpoints)
        self.metrics_endpoint = metrics_endpoint
        self.parts = PlanetAssembly(
            config,
            database,
            reactor,
            rng=rng,
            workers=workers,
            is_running=lambda: bool(self.running),
        )
        self.aggregation = self.parts.aggregation
        self.store = self.parts.store
        self.poller = self.parts.poller
        self.resource = CurrentWeb(self.web.resource())
        # Several planets (``--config`` repeated): a reload reads every file again.
        self.reloader = Reloader(self.parts, self.resource, reactor, read_config=read_config)
        self.parts.request_reload = self.request_reload
        self.ports: list[IListeningPort] = []
        self.started: Deferred[None] | None = None
        self._up = False
        self._reload_waiting = False
        self._previous_hup: Any = None
        self._hup_installed = False
        #: The reactor's SIGTERM/SIGINT handlers, put back once the planet has stopped.
        self._stop_handlers: dict[int, Callable[[int, FrameType | None], object]] = {}
        self._stop_requested = False

    @property
    def web(self) -> WebFace:
        """The web face serving now (a reload that changes pages replaces it)."""
        return self.parts.web

    def startService(self) -> None:
        Service.startService(self)
        self.started = Deferred.fromCoroutine(self._start())
        self.started.addErrback(self._start_failed)

    async def _start(self) -> None:
        started = self.reactor.seconds()
        await self.parts.open()
        metrics = self.parts.metrics

        def count(request: Request) -> None:
            # The current face: a reload may have replaced the one served at start.
            route = self.web.route_of(request.path, request.method)
            metrics.request_served(route, request.code)

        self.resource.current = self.web.resource()
        site = _PlanetSite(self.resource, access_log=self.config.access_log, on_answer=count)
        site.requestFactory = bounded_request(self.config, self.reactor)
        for endpoint in self.endpoints:
            self.ports.append(await endpoint.listen(site))
        if self.metrics_endpoint is not None:
            root = Resource()
            root.putChild(b"metrics", self.parts.metrics_page)
            metrics_site = _PlanetSite(root, access_log=False)
            self.ports.append(await self.metrics_endpoint.listen(metrics_site))
        await self.reloader.load_list_states()
        self.poller.start()
        if self.parts.websub is not None:
            self.parts.websub.start()
        self._install_hup()
        self._install_stop_signals()
        self._up = True
        if self._reload_waiting:
            self.request_reload()
        self.log.info(
            "planetd {version} ready in {elapsed:.2f}s: {feeds} feeds, serving on {where}",
            version=__version__,
            elapsed=self.reactor.seconds() - started,
            feeds=len(self.config.feeds),
            where=", ".join(where(p.getHost()) for p in self.ports),
        )

    def _start_failed(self, failure: Failure) -> None:
        self.log.failure("planetd could not start", failure)
        self.reactor.stop()

    # -- reload ---------------------------------------------------------------------

    def _install_hup(self) -> None:
        self._hup_installed = False
        if not hasattr(signal, "SIGHUP"):
            return
        try:
            self._previous_hup = signal.signal(signal.SIGHUP, self._on_hup)
        except ValueError:  # not the main thread (an embedding program): no signal
            self.log.warn("SIGHUP does not reload here: the reactor is not in the main thread")
            return
        self._hup_installed = True

    def _remove_hup(self) -> None:
        if self._hup_installed:
            self._hup_installed = False
            previous = self._previous_hup
            signal.signal(signal.SIGHUP, signal.SIG_DFL if previous is None else previous)

    def _on_hup(self, signum: int, frame: FrameType | None) -> None:
        # A signal handler may interrupt the reactor anywhere: it only schedules.
        self.reactor.callFromThread(self.request_reload)

    def request_reload(self) -> Deferred[ReloadPlan | None] | None:
        """Reload the config now, or as soon as the planet runs; None if deferred or stopped."""
        if not self.running:
            return None
        if not self._up:
            self.log.info("reload requested while starting: it runs once the planet is up")
            self._reload_waiting = True
            return None
        self._reload_waiting = False
        d = Deferred.fromCoroutine(self.reloader.reload())
        d.addErrback(lambda f: self.log.failure("reloading the config failed", f))
        return d

    # -- stop signals -----------------------------------------------------------------

    def _install_stop_signals(self) -> None:
        """Pass the first SIGTERM or SIGINT to the reactor's handler, and note the rest.

        The reactor's handler calls ``reactor.stop()`` each time; a second signal
        while the planet stops (systemd, an impatient operator) made it log a
        ``ReactorNotRunning`` traceback.
        """
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(sig)
            if not callable(previous):
                continue
            try:
                signal.signal(sig, self._on_stop_signal)
            except ValueError:  # not the main thread: no signal handling of ours
                return
            self._stop_handlers[sig] = previous

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        previous = self._stop_handlers.get(signum)
        if self._stop_requested or previous is None:
            self.reactor.callFromThread(
                self.log.info,
                "planetd is already stopping; {signal} ignored",
                signal=signal.Signals(signum).name,
            )
            return
        self._stop_requested = True
        previous(signum, frame)

    def _remove_stop_signals(self) -> None:
        handlers, self._stop_handlers = self._stop_handlers, {}
        for sig, previous in handlers.items():
            signal.signal(sig, previous)

    def stopService(self) -> Deferred[None]:
        Service.stopService(self)
        self._remove_hup()
        if self._stop_requested:
            # Stopped by a signal: keep noting repeats until the reactor is gone.
            self.reactor.addSystemEventTrigger("after", "shutdown", self._remove_stop_signals)
        else:
            self._remove_stop_signals()
        self._up = False
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        # Polls end first (closing the assembly stops the poller again: a no-op).
        await self.poller.stop()
        for port in self.ports:
            stopped = port.stopListening()
            if stopped is not None:
                await stopped
        self.ports.clear()
        await self.parts.close()
        self.log.info("planetd stopped; database closed")
