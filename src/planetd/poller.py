"""The poll loop: which feed runs when, and the fetch → parse → store sequence.

Owns sequencing only. It keeps every feed's next poll in one heap with one
timer, starts due feeds within the global and per-host concurrency caps, and
for each poll calls the fetcher, the parse pool and the store in turn. What
a result *means* (next state, next poll time) is decided by
:mod:`planetd.decide`; this module decides nothing and never lets one feed's
failure reach another: every poll ends in a stored outcome and a rescheduled
timer, whatever happened.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter, deque
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import attrs
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

from planetd.boundaries import (
    FeedConfig,
    FeedState,
    FeedStatus,
    FeedURL,
    Fetches,
    Metrics,
    ParsedFeed,
    Parses,
    PlanetConfig,
    PollRecord,
    PollReport,
    Stores,
)
from planetd.decide import decide_poll, needs_parse
from planetd.nometrics import NULL_METRICS
from planetd.schedule import Bounds, startup_delays


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
    ) -> None:
        self.config = config
        self.store = store
        self.fetcher = fetcher
        self.parser = parser
        self.reactor = reactor
        self.rng = rng or random.Random()
        self.on_poll = on_poll
        self.metrics = metrics
        self.bounds = Bounds(min_interval=config.min_interval, max_interval=config.max_interval)
        self.feeds: dict[FeedURL, FeedConfig] = {f.url: f for f in config.feeds}
        self.states: dict[FeedURL, FeedState] = {}
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
        self._arm()

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
        d = Deferred.fromCoroutine(self.poll_feed(url))
        self._in_flight[url] = d

        def finished(result: object) -> object:
            del self._in_flight[url]
            self._per_host[host] -= 1
            if not self._per_host[host]:
                del self._per_host[host]
            state = self.states.get(url)
            if self._running and state is not None and state.next_poll_at is not None:
                self._schedule(url, state.next_poll_at.timestamp())
            self._dispatch()
            self._arm()
            return result

        d.addBoth(finished)
        d.addErrback(lambda f: self.log.failure("poll of {url} failed", f, url=url))

    # -- one poll -----------------------------------------------------------------

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
        parsed: ParsedFeed | None = None
        if needs_parse(state, fetched):
            assert fetched.body is not None
            try:
                known = await self.store.known_hashes(url)
                parse_started = self.reactor.seconds()
                parsed = await self.parser.parse(
                    fetched.body, fetched.final_url or url, fetched.content_type, known
                )
                self.metrics.parse_finished(self.reactor.seconds() - parse_started)
            except Exception as e:
                parsed = ParsedFeed(error=f"parser failed: {type(e).__name__}: {e}"[:300])
        now = self.now()
        outcome = decide_poll(
            feed, state, fetched, parsed, now=now, bounds=self.bounds, jitter=self.rng.random()
        )
        try:
            record = await self.store.record_poll(feed, outcome, now)
        except Exception as e:
            self.log.error("storing a poll of {url} failed: {error}", url=url, error=str(e))
            retry = self.reactor.seconds() + self.bounds.min_interval
            self.states[url] = attrs.evolve(
                state,
                last_error=f"storing failed: {e}"[:300],
                next_poll_at=datetime.fromtimestamp(retry, tz=timezone.utc),
            )
            record = PollRecord()
            outcome = attrs.evolve(outcome, state=self.states[url])
        else:
            self.states[url] = outcome.state
        self.polls += 1
        elapsed = self.reactor.seconds() - started
        report = PollReport(
            url=url,
            status=outcome.state.status,
            fetch_kind=fetched.kind,
            http_status=fetched.http_status,
            parsed=parsed is not None,
            new_entries=record.new_entries,
            elapsed=elapsed,
            error=(
                outcome.state.last_error
                if outcome.state.status in (FeedStatus.FAILING, FeedStatus.GONE)
                else None
            ),
            not_modified=parsed is None and outcome.state.status is FeedStatus.OK,
        )
        self.log.info(
            "polled {url}: {status}{http_text} in {elapsed:.3f}s,"
            " {new_entries} new entries{error_text}",
            url=url,
            status=report.status.value,
            http_status=report.http_status,
            http_text=f" (HTTP {report.http_status})" if report.http_status else "",
            elapsed=elapsed,
            new_entries=record.new_entries,
            error_text=f": {report.error}" if report.error else "",
        )
        self.metrics.poll_finished(report)
        if self.on_poll is not None:
            self.on_poll(report)
        return report

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
