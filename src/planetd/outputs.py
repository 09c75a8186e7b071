"""The cache of rendered outputs: built off the reactor, each only when it is wanted.

Owns when outputs are built and which bytes a request gets. The river (the
eager outputs, ``build``) is built on a reader thread when the store's
``generation`` has moved; one build runs at a time, and every caller that
wants it fresh waits on the same build. A request that arrives while a
rebuild runs gets the previous bytes at once instead of queueing behind it.
While feeds are polled the store moves many times a second: builds start at
most once per ``rebuild_delay``, and a change that a request finds too soon
after the last build is rendered when the delay is up (new entries show
within ``rebuild_delay`` plus one build). A build that fails is logged, the
previous bytes stay, and the next request tries again.

The other fixed outputs (``lazy``: the health page, the feeds, the API's
default documents) are only marked stale by a change: each is built alone, on
its own first request after the change, under the same rules (one build
shared by the requests that wait for it, the previous bytes served while it
runs or for ``rebuild_delay`` after the last one started). A busy poll then
costs one river build per second, not one build of every output. The warm
start (:meth:`OutputCache.refresh`) builds every output in one read, so the
first visitor of any page pays nothing. Parameterised outputs (older pages,
feed pages, API queries) are kept in a small LRU for the store generation
they were built from.

It takes the builds as functions, so it knows nothing of the site, the
templates or HTTP routes. Must not import Klein or the store's classes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TypeVar

import attrs
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from planetd.boundaries import Output, ReadsPlanet, Stores
from planetd.httpcache import PUBLIC, Cached, fixed_cache_control, prepare

T = TypeVar("T")

#: Seconds between the starts of two builds of the fixed outputs, by default.
REBUILD_DELAY = 1.0

#: Builds every fixed output (path → output) from one read of the store.
BuildsAll = Callable[[ReadsPlanet, datetime], Mapping[str, Output]]
#: Builds one parameterised output, or None when there is nothing at that address.
BuildsOne = Callable[[ReadsPlanet, datetime], "Output | None"]
#: Builds one fixed output that is built only when asked for.
BuildsLazily = Callable[[ReadsPlanet, datetime], Output]


@attrs.define
class _Lazy:
    """One lazily built output: its bytes, what they were built from, its running build."""

    build: BuildsLazily
    cached: Cached | None = None
    generation: int = -1
    building: Deferred[None] | None = None
    last_start: float = float("-inf")


class OutputCache:
    """Rendered outputs for one planet, rebuilt when the store moves on.

    Args:
        store: Where the outputs are read from; its ``generation`` says what is stale.
        reactor: The clock (``Last-Modified`` and the ``now`` every build gets).
        build: Builds the eager fixed outputs (the river); runs on a reader thread.
        lazy: The other fixed outputs by path, each built alone on a reader thread
            when a request finds it stale.
        kept: How many parameterised outputs the LRU keeps.
        rebuild_delay: Least seconds between the starts of two builds. With 0, a
            request after a write always waits for the rebuild, so a client
            that reads after its own write sees it (the in-process tests).
        on_built: Told how many seconds each successful build took (``/metrics``).
    """

    log = Logger()

    def __init__(
        self,
        store: Stores,
        reactor: IReactorTime,
        build: BuildsAll,
        *,
        lazy: Mapping[str, BuildsLazily] | None = None,
        kept: int = 256,
        rebuild_delay: float = REBUILD_DELAY,
        on_built: Callable[[float], None] | None = None,
    ) -> None:
        self._store = store
        #: Told the seconds each successful build of the fixed outputs took.
        self._on_built = on_built
        self._reactor = reactor
        self._build = build
        self._kept = kept
        self._rebuild_delay = rebuild_delay
        #: When the last build that requests asked for started (the first render is not one).
        self._last_start = float("-inf")
        #: The rebuild armed for when the delay is up, if a request found the outputs stale.
        self._timer: IDelayedCall | None = None
        self._fixed: dict[str, Cached] = {}
        self._generation = -1
        #: Fires (with None, whatever the outcome) when the running build ends.
        self._building: Deferred[None] | None = None
        self._computed: OrderedDict[tuple[int, str], Cached] = OrderedDict()
        self._lazy = {path: _Lazy(one) for path, one in (lazy or {}).items()}
        #: True while the running eager build also builds every lazy output (the warm start).
        self._building_all = False

    def now(self) -> datetime:
        """The reactor's time as an aware UTC datetime."""
        return datetime.fromtimestamp(self._reactor.seconds(), tz=timezone.utc)

    @property
    def ready(self) -> bool:
        """True once a build has succeeded (there is something to serve)."""
        return bool(self._fixed)

    @property
    def building(self) -> bool:
        """True while a build runs."""
        return self._building is not None

    def refresh(self) -> Deferred[None]:
        """Rebuild the fixed outputs now if the store moved on; fires when that build ends.

        Concurrent callers share the running build. The Deferred fires with
        None even when the build failed (the failure is logged; the previous
        outputs stay and the next call builds again). For the daemon's first
        render: this build does not hold back the next one by ``rebuild_delay``.
        Every lazy output that is stale is built in the same read (the warm start).
        """
        return self._refresh(paced=False, everything=True)

    def _refresh(self, *, paced: bool, everything: bool = False) -> Deferred[None]:
        """:meth:`refresh`; a ``paced`` build (asked for by requests) starts the delay."""
        if self._building is not None:
            return _when(self._building)
        generation = self._store.generation
        stale = [p for p, one in self._lazy.items() if everything and one.generation != generation]
        if self._generation == generation and self._fixed and not stale:
            return succeed(None)
        if paced:
            self._last_start = self._reactor.seconds()
        return _when(self._start(stale))

    def _start(self, lazy: list[str]) -> Deferred[None]:
        """Build the eager outputs, and the lazy ones at ``lazy`` in the same read."""
        self._disarm()
        generation = self._store.generation
        now = self.now()
        started = self._reactor.seconds()
        previous = dict(self._fixed)
        build = self._build
        extra = {path: (self._lazy[path].build, self._lazy[path].cached) for path in lazy}

        def read(db: ReadsPlanet) -> tuple[dict[str, Cached], dict[str, Cached]]:
            eager = {
                path: prepare(output, now, previous.get(path), fixed_cache_control(path))
                for path, output in build(db, now).items()
            }
            others = {
                path: prepare(one(db, now), now, before, fixed_cache_control(path))
                for path, (one, before) in extra.items()
            }
            return eager, others

        def built(outputs: tuple[dict[str, Cached], dict[str, Cached]]) -> None:
            eager, others = outputs
            self._fixed = eager
            self._generation = generation
            self._computed.clear()
            for path, cached in others.items():
                self._lazy[path].cached = cached
                self._lazy[path].generation = generation
            if self._on_built is not None:
                self._on_built(self._reactor.seconds() - started)

        def failed(failure: Failure) -> None:
            self.log.failure("rendering the planet failed", failure)

        def ended(_: object) -> None:
            self._building = None
            self._building_all = False
            done.callback(None)

        # Set the flag before reading: an in-memory store may answer at once.
        done: Deferred[None] = Deferred()
        self._building = done
        self._building_all = bool(lazy)
        self._store.reading(read).addCallback(built).addErrback(failed).addBoth(ended)
        return done

    async def fixed(self, path: str) -> Cached:
        """The fixed output at ``path``, rebuilt first if the store moved on and it may be.

        While feeds are being polled the store changes many times a second.
        The request that finds the outputs stale, ``rebuild_delay`` or more
        after the last build started, waits for one rebuild (so a client
        that writes, pauses and reads sees its write); every request
        arriving while that build runs, or sooner than the delay, gets the
        previous rendering at once, and the rebuild starts when the delay is
        up. The daemon's first render (:meth:`refresh`) does not count: the
        first request after a start that finds the outputs stale rebuilds at once.

        A lazy output follows the same rules on its own: it is built when a
        request finds it stale, alone, never because the river was.

        Raises:
            KeyError: No build has succeeded yet (the request fails with a 500).
        """
        if path in self._lazy:
            return await self._lazy_output(path)
        if self._fixed and (self._building is not None or self._held()):
            return self._fixed[path]
        await self._refresh(paced=True)
        return self._fixed[path]

    def _held(self) -> bool:
        """True if stale outputs must wait for the delay; then a rebuild is armed for it."""
        if self._generation == self._store.generation:
            return False
        wait = self._last_start + self._rebuild_delay - self._reactor.seconds()
        if wait <= 0:
            return False
        if self._timer is None:
            self._timer = self._reactor.callLater(wait, self._delay_up)
        return True

    async def _lazy_output(self, path: str) -> Cached:
        """The lazy output at ``path``, built first (alone) if it is stale and may be."""
        one = self._lazy[path]
        if one.cached is None and self._building is not None and self._building_all:
            await _when(self._building)  # the warm start is building it already
        generation = self._store.generation
        if one.cached is not None:
            if one.generation == generation or one.building is not None:
                return one.cached
            if one.last_start + self._rebuild_delay > self._reactor.seconds():
                return one.cached
        building = one.building
        if building is None:
            one.last_start = self._reactor.seconds()
            building = self._start_lazy(path, one)
        await _when(building)
        if one.cached is None:
            raise KeyError(path)
        return one.cached

    def _start_lazy(self, path: str, one: _Lazy) -> Deferred[None]:
        """Build the lazy output at ``path`` on a reader thread; fires when the build ends."""
        generation = self._store.generation
        now = self.now()
        started = self._reactor.seconds()
        previous, build = one.cached, one.build

        def read(db: ReadsPlanet) -> Cached:
            return prepare(build(db, now), now, previous, fixed_cache_control(path))

        def built(cached: Cached) -> None:
            one.cached, one.generation = cached, generation
            if self._on_built is not None:
                self._on_built(self._reactor.seconds() - started)

        def failed(failure: Failure) -> None:
            self.log.failure("rendering {path} failed", failure, path=path)

        def ended(_: object) -> None:
            one.building = None
            done.callback(None)

        done: Deferred[None] = Deferred()
        one.building = done
        self._store.reading(read).addCallback(built).addErrback(failed).addBoth(ended)
        return done

    def _delay_up(self) -> None:
        self._timer = None
        self._refresh(paced=True)

    def _disarm(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def stop(self) -> None:
        """Cancel an armed rebuild (the store is about to close)."""
        self._disarm()

    async def computed(self, key: str, make: BuildsOne) -> Cached | None:
        """A parameterised output, built on a reader thread, kept while the store is unchanged."""
        generation = self._store.generation
        found = self._computed.get((generation, key))
        if found is not None:
            self._computed.move_to_end((generation, key))
            return found
        now = self.now()
        output = await self._store.reading(lambda db: make(db, now))
        if output is None:
            return None
        cached = prepare(output, now, None, PUBLIC)
        self._computed[(generation, key)] = cached
        while len(self._computed) > self._kept:
            self._computed.popitem(last=False)
        return cached


def _when(event: Deferred[None]) -> Deferred[None]:
    """A new Deferred that fires when ``event`` does, leaving ``event``'s result alone."""
    waiter: Deferred[None] = Deferred()

    def relay(result: T) -> T:
        waiter.callback(None)
        return result

    event.addBoth(relay)
    return waiter
