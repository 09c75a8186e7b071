"""The poll path of one planet, put together: store, fetcher, parse pool and poller.

Owns how the store, the fetcher, the parse pool and the poller are put
together (:class:`Aggregation`: the daemon and ``planetd poll`` both need
exactly this), which store a database names (:func:`make_store`), the
parse pool made on demand (:class:`ParserOnDemand`), the ``User-Agent`` every
request of the planet sends (:func:`user_agent`), and the order in which they
open and close. A composition root split from :mod:`planetd.wiring` for size,
so the command line can poll without the daemon's assembly; it must not import
the web face (:mod:`planetd.webface`, Klein, Jinja2) nor :mod:`planetd.wiring`.

It decides nothing and starts no timer: the daemon calls ``poller.start()``
for the endless loop, the command line calls ``poller.poll_once(...)``. The
parse pool (and with it feedparser, lxml and nh3) is imported when it is first
started or handed a body (:class:`ParserOnDemand`), so a poll whose feeds are
all unchanged never loads it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from planetd.boundaries import (
    EntryKey,
    FeedURL,
    ListedFeed,
    Metrics,
    ParsedFeed,
    PlanetConfig,
    PollReport,
)
from planetd.config import is_database_url
from planetd.configvalues import file_path
from planetd.dbthreads import Store
from planetd.fetch import Fetcher
from planetd.nometrics import NULL_METRICS
from planetd.poller import Poller
from planetd.reload import effective_config

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from planetd.boundaries import IDaemonReactor, Parses
    from planetd.pgthreads import PgStore
    from planetd.workers import ParsePool


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


if TYPE_CHECKING:  # static conformance: the poller takes the on-demand pool as a parse pool
    _parses: type[Parses] = ParserOnDemand
