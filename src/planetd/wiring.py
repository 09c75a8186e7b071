"""The poll path of one planet, wired once for every face that polls.

Owns how the store, the fetcher, the parse pool and the poller are put
together (the daemon's :class:`planetd.service.PlanetService` and
``planetd poll`` both need exactly this), and the order in which they open
and close. It decides nothing and starts no timer: the daemon calls
``poller.start()`` for the endless loop, the command line calls
``poller.poll_once(...)``. Must not import the web layer.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from planetd.boundaries import PlanetConfig, PollReport
from planetd.config import file_path
from planetd.dbthreads import Store
from planetd.fetch import Fetcher
from planetd.poller import Poller
from planetd.workers import ParsePool


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
    """

    def __init__(
        self,
        config: PlanetConfig,
        database: str,
        reactor: Any,
        *,
        rng: random.Random | None = None,
        workers: int | None = None,
        on_poll: Callable[[PollReport], None] | None = None,
    ) -> None:
        self.config = config
        self.store = Store(reactor, database)
        self.parser = ParsePool(reactor, workers=workers)
        self.fetcher = Fetcher(
            reactor,
            user_agent=user_agent(config),
            resolve_file=lambda url: file_path(url, config.path),
        )
        self.poller = Poller(
            config, self.store, self.fetcher, self.parser, reactor, rng=rng, on_poll=on_poll
        )
        self._closed = False

    async def open(self, *, warm_parsers: bool = True) -> None:
        """Open the store, start the parse workers (unless told not to), load feed states.

        Without ``warm_parsers`` the workers start at the first parse instead:
        a command that may poll nothing need not pay for them.
        """
        await self.store.start()
        if warm_parsers:
            self.parser.start()
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
