"""Reload without restart: a new config, or a reading list that changed, applied live.

Owns the sequence that applies a new configuration to a running planet: read
the file again (off the reactor thread), compute the config the daemon runs
(:func:`planetd.reload.effective_config`: the file plus the feeds its reading
lists name), ask :func:`planetd.reload.plan_reload` what changes, then execute
that plan: the store's feed table first (added feeds get rows, removed ones are
deactivated and keep their entries), the poller's schedule next, and, when
pages must change, a new web face rendered in full before it replaces the old
one, so no request waits on or fails because of a reload. A reading list that
was fetched goes through the very same :meth:`Reloader._apply`. Applies are
serialised: a SIGHUP during a reload waits its turn.

It decides nothing: what changes is the plan's, when a list is fetched the
poller's, how a list reads :func:`planetd.reload.listed_feeds`'. A config that
does not load is refused with one log line (file, line, key) and the running
one stays. Also :class:`CurrentWeb`, the resource the listening ports serve,
which hands each request to the web face current when it arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from twisted.internet.defer import DeferredLock
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.web.resource import IResource, Resource

from planetd.boundaries import (
    FeedURL,
    FetchKind,
    ListedFeed,
    PlanetConfig,
    ReadingList,
    ReadingListState,
)
from planetd.config import ConfigError, load_config
from planetd.opml import OpmlError
from planetd.reload import (
    ReloadPlan,
    effective_config,
    list_fetched,
    listed_feeds,
    plan_reload,
)
from planetd.schedule import next_poll_delay

if TYPE_CHECKING:
    from twisted.web.server import Request

    from planetd.boundaries import IDaemonReactor
    from planetd.wiring import PlanetAssembly


class CurrentWeb(Resource):
    """The listening ports' resource: each request goes to the web face current at arrival.

    A reload swaps ``current`` only once the new face has rendered every page;
    requests already in the old face finish there.
    """

    isLeaf = True

    def __init__(self, current: IResource) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # unannotated in Twisted
        self.current = current

    def render(self, request: Request) -> bytes | int:
        rendered: bytes | int = self.current.render(request)
        return rendered


class Reloader:
    """Applies new configs to one running planet: its store, poller and web face.

    Args:
        assembly: The planet's parts, opened.
        resource: What the ports serve; a re-render swaps its ``current``.
        reactor: The daemon's reactor (its thread pool reads files and lists).
        read_config: Reads and checks the config file (raises ``ConfigError``).
    """

    log = Logger()

    def __init__(
        self,
        assembly: PlanetAssembly,
        resource: CurrentWeb,
        reactor: IDaemonReactor,
        *,
        read_config: Callable[[str], PlanetConfig] | None = None,
    ) -> None:
        self.assembly = assembly
        self.resource = resource
        self.reactor = reactor
        self.read_config = read_config or load_config
        aggregation = assembly.aggregation
        #: The file's config as last loaded (without the feeds of its lists).
        self.file_config = aggregation.config
        self.listed: dict[FeedURL, tuple[ListedFeed, ...]] = dict(aggregation.listed)
        self.list_states: dict[FeedURL, ReadingListState] = {}
        self._lock = DeferredLock()
        self.reloads = 0
        assembly.poller.on_list = self.fetch_list

    @property
    def current(self) -> PlanetConfig:
        """The config the daemon runs now."""
        return self.assembly.poller.config

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.reactor.seconds(), tz=timezone.utc)

    async def load_list_states(self) -> None:
        """Take the lists' feeds as the opened store gave them, and their validators, so
        the first fetch after a start is conditional."""
        self.listed = dict(self.assembly.aggregation.listed)
        states = await self.assembly.aggregation.store.reading_lists()
        self.list_states = {s.url: s for s in states}

    async def reload(self) -> ReloadPlan | None:
        """Read the config file again and apply it; None (and one log line) if it is refused."""
        path = self.file_config.path
        started = self.reactor.seconds()
        try:
            config = await deferToThreadPool(
                self.reactor, self.reactor.getThreadPool(), self.read_config, path
            )
        except ConfigError as e:
            self.log.error("reload refused, the running config stays: {error}", error=str(e))
            self.assembly.metrics.reloaded(False)
            return None
        plan = await self._apply(config, None)
        self.reloads += 1
        self.assembly.metrics.reloaded(True)
        self.log.info(
            "reloaded {path} in {elapsed:.3f}s: {added} feeds added, {removed} removed,"
            " {changed} changed; reading lists {lists_added} added, {lists_removed} removed;"
            " planet keys changed: {keys}",
            path=path,
            elapsed=self.reactor.seconds() - started,
            added=len(plan.added),
            removed=len(plan.removed),
            changed=len(plan.changed),
            lists_added=len(plan.lists_added),
            lists_removed=len(plan.lists_removed),
            keys=", ".join(plan.planet_keys) or "none",
        )
        if plan.needs_restart:
            self.log.warn(
                "{keys} changed: applied at the next start, not by a reload",
                keys=", ".join(plan.needs_restart),
            )
        return plan

    async def _apply(
        self,
        config: PlanetConfig | None,
        listed: tuple[FeedURL, tuple[ListedFeed, ...]] | None,
    ) -> ReloadPlan:
        """Run ``config`` (None: the file's as last loaded) with one list's new feeds, if
        given: the store first, then the poller, then the pages."""
        await self._lock.acquire()
        try:
            if config is not None:
                self.file_config = config
            config = self.file_config
            if listed is not None:
                self.listed[listed[0]] = listed[1]
            wanted = {r.url for r in config.reading_lists}
            self.listed = {u: f for u, f in self.listed.items() if u in wanted}
            # Several planets: each planet's pages take its own lists' feeds from here.
            self.assembly.aggregation.listed = dict(self.listed)
            new = effective_config(config, self.listed)
            plan = plan_reload(self.current, new)
            if plan.empty:
                return plan
            store = self.assembly.store
            await store.sync_feeds(new.feeds, self.now())
            states = await store.feed_states()
            self.assembly.poller.reconfigure(new, states)
            if self.assembly.websub is not None:
                self.assembly.websub.reconfigure(new)
            if plan.rerender:
                await self._swap_web(new)
            return plan
        finally:
            self._lock.release()

    async def _swap_web(self, config: PlanetConfig) -> None:
        """Render every page with ``config``, then serve them instead of the old ones."""
        web = self.assembly.make_web(config)
        await web.outputs.refresh()
        old, self.assembly.web = self.assembly.web, web
        self.resource.current = web.resource()
        old.stop()

    async def fetch_list(self, reading_list: ReadingList) -> float | None:
        """Fetch one reading list, apply the feeds it names; seconds until the next fetch."""
        url = reading_list.url
        state = self.list_states.get(url) or ReadingListState(url=url)
        defaults = reading_list.defaults
        fetched = await self.assembly.aggregation.fetcher.fetch(
            url, state.validators, timeout=defaults.feed_timeout, max_bytes=defaults.max_feed_bytes
        )
        feeds: tuple[ListedFeed, ...] | None = None
        error: str | None = None
        if fetched.kind is FetchKind.OK and fetched.body is not None:
            try:
                feeds = await deferToThreadPool(
                    self.reactor, self.reactor.getThreadPool(), listed_feeds, fetched.body
                )
            except OpmlError as e:
                error = str(e)
        state = list_fetched(state, fetched, feeds, error, self.now())
        if state.last_error is not None:
            self.log.warn(
                "reading list {url}: {error}; its feeds stay as last fetched",
                url=url,
                error=state.last_error,
            )
        self.list_states[url] = state
        await self.assembly.aggregation.store.save_reading_list(state)
        if feeds is not None:
            plan = await self._apply(None, (url, feeds))
            self.log.info(
                "reading list {url}: {count} feeds, {added} added, {removed} removed",
                url=url,
                count=len(feeds),
                added=len(plan.added),
                removed=len(plan.removed),
            )
        return next_poll_delay(
            interval=defaults.poll_interval,
            bounds=self.assembly.poller.bounds,
            kind=fetched.kind,
            consecutive_failures=1,
            retry_after=fetched.retry_after,
            fresh_for=fetched.fresh_for,
            jitter=self.assembly.poller.rng.random(),
        )
