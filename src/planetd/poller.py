"""The poll loop: which feed runs when, and the fetch → parse → store sequence.

Owns sequencing only. It keeps every feed's next poll in one heap with one
timer, starts due feeds within the global and per-host concurrency caps, and
for each poll calls the fetcher, the parse pool and the store in turn. What
a result *means* (next state, next poll time) is decided by
:mod:`planetd.decide`; this module decides nothing and never lets one feed's
failure reach another: every poll ends in a stored outcome and a rescheduled
timer, whatever happened.

Reading lists share the heap and the caps: a list's turn calls ``on_list``
(the reload shell fetches and applies it) and is rescheduled after the delay
it answers. :meth:`Poller.reconfigure` takes a new config while running:
removed feeds leave the schedule (a poll in flight finishes and is not
rescheduled), added ones are scheduled as at a start, the rest keep theirs.
What happens to a document once fetched or pushed is :mod:`planetd.polldigest`'s.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import attrs
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

from planetd.boundaries import (
    Claim,
    ClaimsFeeds,
    FeedConfig,
    FeedState,
    FeedURL,
    Fetches,
    Metrics,
    Parses,
    PlanetConfig,
    PollReport,
    ReadingList,
    Stores,
)
from planetd.nometrics import NULL_METRICS
from planetd.polldigest import digest
from planetd.schedule import Bounds, startup_delays
from planetd.websubplan import pushed_result


def _host(url: str) -> str:
    if url.startswith("file:"):
        return ""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


class Poller:
    """Polls a planet's feeds forever, each on its own schedule."""

    log = Logger()

    def __init__(
        self,
        config: PlanetConfig,
        store: Stores,
        fetcher: Fetches,
        parser: Parses,
        reactor: Any,
        *,
        rng: random.Random | None = None,
        on_poll: Callable[[PollReport], None] | None = None,
        metrics: Metrics = NULL_METRICS,
        claims: ClaimsFeeds | None = None,
    ) -> None:
        self.config = config
        #: Leases of a store several daemons share: a due feed is polled only once claimed.
        self.claims = claims
        self.store = store
        self.fetcher = fetcher
        self.parser = parser
        self.reactor = reactor
        self.rng = rng or random.Random()
        self.on_poll = on_poll
        self.metrics = metrics
        self.states: dict[FeedURL, FeedState] = {}
        #: Fetches a reading list and applies it; answers the seconds until its next fetch.
        self.on_list: Callable[[ReadingList], Awaitable[float | None]] | None = None
        self._list_next: dict[FeedURL, float | None] = {}
        #: The feed as one poll uses it (WebSub polls a pushed feed at ``max_interval``).
        self.tune: Callable[[FeedConfig], FeedConfig] = lambda feed: feed
        #: Also told of every finished poll or push (the WebSub subscriber listens here).
        self.watchers: list[Callable[[PollReport], None]] = []
        self.use_config(config)
        self._heap: list[tuple[float, int, FeedURL]] = []
        self._scheduled: dict[FeedURL, float] = {}
        self._seq = itertools.count()
        self._timer: IDelayedCall | None = None
        self._ready: deque[FeedURL] = deque()
        self._in_flight: dict[FeedURL, Deferred[PollReport]] = {}
        self._per_host: Counter[str] = Counter()
        self._running = False
        self.polls = 0

    # -- lifecycle ------------------------------------------------------------

    def use_config(self, config: PlanetConfig) -> None:
        """Take ``config``'s feeds, reading lists and limits; schedules nothing."""
        self.config = config
        self.bounds = Bounds(min_interval=config.min_interval, max_interval=config.max_interval)
        self.feeds: dict[FeedURL, FeedConfig] = {f.url: f for f in config.feeds}
        self.lists: dict[FeedURL, ReadingList] = {r.url: r for r in config.reading_lists}

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.reactor.seconds(), tz=timezone.utc)

    async def load(self) -> None:
        """Sync the configured feeds into the store and read their states."""
        await self.store.sync_feeds(self.config.feeds, self.now())
        states = await self.store.feed_states()
        self.states = {s.url: s for s in states if s.url in self.feeds}

    def start(self) -> None:
        """Schedule every feed: due ones spread over a few seconds, the rest as stored."""
        self._running = True
        delays = startup_delays(self.states.values(), self.now(), self.rng.random)
        base = self.reactor.seconds()
        for url, delay in delays.items():
            self._schedule(url, base + max(0.0, delay))
        self._schedule_lists(self.lists)
        self._arm()

    def reconfigure(self, config: PlanetConfig, states: Iterable[FeedState]) -> None:
        """Run ``config`` from now on (a reload, or a reading list that changed).

        Removed feeds and lists leave the schedule (one being polled finishes
        and is not polled again); added ones are polled soon, spread as at a
        start, or when their stored state says if they were polled before;
        the others keep their schedule and take their new keys at their next
        poll. ``states`` are the store's states of the configured feeds.
        """
        old_feeds, old_lists = self.feeds, self.lists
        self.use_config(config)
        for url in [*old_feeds, *old_lists]:
            if url not in self.feeds and url not in self.lists:
                self._forget(url)
        added = [s for s in states if s.url in self.feeds and s.url not in old_feeds]
        for state in added:
            self.states.setdefault(state.url, state)
        if self._running:
            fresh = [s for s in added if s.url not in self._in_flight]
            base = self.reactor.seconds()
            for url, delay in startup_delays(fresh, self.now(), self.rng.random).items():
                self._schedule(url, base + max(0.0, delay))
            self._schedule_lists({u: r for u, r in self.lists.items() if u not in old_lists})
            self._dispatch()
            self._arm()

    def _schedule_lists(self, lists: Iterable[FeedURL]) -> None:
        """Reading lists are fetched soon after they appear (stored feeds serve meanwhile)."""
        base = self.reactor.seconds()
        for url in lists:
            if url not in self._in_flight:
                self._schedule(url, base + self.rng.random())

    def _forget(self, url: FeedURL) -> None:
        self._scheduled.pop(url, None)
        if url in self._ready:
            self._ready.remove(url)
        if url not in self._in_flight:
            self.states.pop(url, None)

    def stop(self, grace: float = 5.0) -> Deferred[None]:
        """Start no more polls; in-flight ones get ``grace`` seconds, then are abandoned."""
        self._running = False
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        self._ready.clear()
        pending = list(self._in_flight.values())
        if not pending:
            return Deferred.fromCoroutine(_nothing())
        done: Deferred[None] = Deferred()
        waiting = DeferredList(pending, consumeErrors=True)

        def abandon() -> None:
            for d in list(self._in_flight.values()):
                d.cancel()

        timer = self.reactor.callLater(grace, abandon)

        def finished(_: object) -> None:
            if timer.active():
                timer.cancel()
            done.callback(None)

        waiting.addBoth(finished)
        return done

    # -- scheduling -------------------------------------------------------------

    def _schedule(self, url: FeedURL, when: float) -> None:
        self._scheduled[url] = when
        heapq.heappush(self._heap, (when, next(self._seq), url))

    def _arm(self) -> None:
        if not self._running:
            return
        # Drop heap entries superseded by a later _schedule of the same feed.
        while self._heap and self._scheduled.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        if not self._heap:
            return
        when = self._heap[0][0]
        delay = max(0.0, when - self.reactor.seconds())
        if self._timer is not None and self._timer.active():
            if abs(self._timer.getTime() - (self.reactor.seconds() + delay)) < 1e-6:
                return
            self._timer.cancel()
        self._timer = self.reactor.callLater(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self.reactor.seconds()
        while self._heap and self._heap[0][0] <= now:
            when, _, url = heapq.heappop(self._heap)
            if self._scheduled.get(url) == when:
                del self._scheduled[url]
                if url not in self._in_flight and url not in self._ready:
                    self._ready.append(url)
        self._dispatch()
        self._arm()

    def _dispatch(self) -> None:
        """Start ready feeds while the global and per-host caps allow."""
        waiting: deque[FeedURL] = deque()
        while self._ready and len(self._in_flight) < self.config.concurrency:
            url = self._ready.popleft()
            host = _host(self._fetch_url(url))
            if host and self._per_host[host] >= self.config.per_host_concurrency:
                waiting.append(url)
                continue
            self._start_poll(url, host)
        waiting.extend(self._ready)
        self._ready = waiting

    def _fetch_url(self, url: FeedURL) -> str:
        state = self.states.get(url)
        return state.moved_to if state is not None and state.moved_to else url

    def _start_poll(self, url: FeedURL, host: str) -> None:
        self._per_host[host] += 1
        is_list = url in self.lists
        d: Deferred[Any] = Deferred.fromCoroutine(
            self._poll_list(url) if is_list else self._claimed_poll(url)
        )
        self._in_flight[url] = d

        def finished(result: object) -> object:
            del self._in_flight[url]
            self._per_host[host] -= 1
            if not self._per_host[host]:
                del self._per_host[host]
            if is_list:
                after = self._list_next.pop(url, None)
                if self._running and url in self.lists and after is not None:
                    self._schedule(url, self.reactor.seconds() + after)
            elif url not in self.feeds:
                self.states.pop(url, None)  # removed while it was polled: not again
            else:
                state = self.states.get(url)
                if self._running and state is not None and state.next_poll_at is not None:
                    self._schedule(url, state.next_poll_at.timestamp())
            self._dispatch()
            self._arm()
            return result

        d.addBoth(finished)
        d.addErrback(lambda f: self.log.failure("poll of {url} failed", f, url=url))

    # -- one poll -----------------------------------------------------------------

    async def _poll_list(self, url: FeedURL) -> None:
        """Fetch and apply one reading list through ``on_list``; a failure retries later."""
        after: float | None = self.bounds.min_interval
        try:
            if self.on_list is not None:
                after = await self.on_list(self.lists[url])
        except Exception:
            self.log.failure("fetching the reading list {url} failed", url=url)
        self._list_next[url] = after

    async def _claimed_poll(self, url: FeedURL) -> PollReport | None:
        """Poll ``url`` if this daemon may: with leases, only once it holds the feed's
        claim (from its state as stored); otherwise its next turn is when the claim says."""
        if self.claims is None:
            return await self.poll_feed(url)
        try:
            claim = await self.claims.claim(url)
        except Exception as e:
            self.log.error("claiming {url} failed: {error}", url=url, error=str(e))
            claim = Claim(state=None, retry_at=self.reactor.seconds() + self.bounds.min_interval)
        if claim.state is None:
            if url in self.states:
                retry = datetime.fromtimestamp(claim.retry_at, tz=timezone.utc)
                self.states[url] = attrs.evolve(self.states[url], next_poll_at=retry)
            return None
        self.states[url] = claim.state
        return await self.poll_feed(url)

    async def poll_feed(self, url: FeedURL) -> PollReport:
        """Fetch, parse and store one feed; every outcome is stored, none is raised."""
        feed = self.feeds[url]
        state = self.states[url]
        started = self.reactor.seconds()
        fetched = await self.fetcher.fetch(
            self._fetch_url(url),
            state.validators,
            timeout=feed.feed_timeout,
            max_bytes=feed.max_feed_bytes,
        )
        self.metrics.fetch_finished(fetched.elapsed)
        return await digest(self, url, feed, state, fetched, started)

    def take_pushed(
        self, url: FeedURL, body: bytes, content_type: str | None
    ) -> Deferred[PollReport | None]:
        """A document a WebSub hub pushed for ``url``: parsed, decided and stored exactly
        as a fetched one (:func:`planetd.polldigest.digest`); None for a feed not polled."""
        state = self.states.get(url)
        if url not in self.feeds or state is None:
            return succeed(None)
        fetched = pushed_result(state, body, content_type)
        d = Deferred.fromCoroutine(
            digest(self, url, self.feeds[url], state, fetched, self.reactor.seconds())
        )

        def reschedule(report: PollReport) -> PollReport:
            state = self.states.get(url)
            idle = url not in self._in_flight and url not in self._ready
            if self._running and idle and state is not None and state.next_poll_at is not None:
                self._schedule(url, state.next_poll_at.timestamp())
                self._arm()
            return report

        return d.addCallback(reschedule)

    def poll_within(self, url: FeedURL, seconds: float) -> None:
        """Poll ``url`` within ``seconds`` unless it is due sooner (its push stopped)."""
        when = self.reactor.seconds() + seconds
        busy = url in self._in_flight or url in self._ready
        later = self._scheduled.get(url, when + 1) > when
        if self._running and url in self.feeds and not busy and later:
            self._schedule(url, when)
            self._arm()

    async def _report_into(self, url: FeedURL, reports: list[PollReport]) -> None:
        try:
            reports.append(await self.poll_feed(url))
        except Exception:
            self.log.failure("poll of {url} failed", url=url)

    async def poll_once(self, urls: Iterable[FeedURL]) -> list[PollReport]:
        """Poll ``urls`` once within the concurrency caps (the command line's ``poll``)."""
        queue = deque(urls)
        reports: list[PollReport] = []
        per_host: Counter[str] = Counter()
        running: dict[FeedURL, Deferred[None]] = {}
        done: Deferred[None] = Deferred()

        def launch() -> None:
            skipped: deque[FeedURL] = deque()
            while queue and len(running) < self.config.concurrency:
                url = queue.popleft()
                host = _host(self._fetch_url(url))
                if host and per_host[host] >= self.config.per_host_concurrency:
                    skipped.append(url)
                    continue
                per_host[host] += 1
                running[url] = Deferred.fromCoroutine(self._report_into(url, reports))
                running[url].addBoth(finish, url, host)
            skipped.extend(queue)
            queue.clear()
            queue.extend(skipped)
            if not queue and not running and not done.called:
                done.callback(None)

        def finish(_: object, url: FeedURL, host: str) -> None:
            del running[url]
            per_host[host] -= 1
            launch()

        launch()
        await done
        return reports


async def _nothing() -> None:
    return None
