"""Counting for ``/metrics``: :class:`planetd.boundaries.Metrics` over prometheus_client.

Owns the metric names (every one starts with ``planetd_``), their labels
and buckets, the private registry they live in, and the ``/metrics``
resource. Each :class:`PrometheusMetrics` has its own ``CollectorRegistry``
(never prometheus_client's global one), so tests and several planets in one
process do not collide.

Labels stay bounded: polls by how the fetch ended and the feed's status
after it; web requests by route template (``/feeds/<string:fid>``, never
the raw path) and status code. Feeds by status and the entries stored are
gauges computed at scrape time from the poller's in-memory feed states
(``feed_states``), so a scrape never waits on SQLite. The scrape itself runs
on a thread of the reactor's pool, through Twisted's WSGI resource (what
prometheus_client's own Twisted ``MetricsResource`` is, built here over the
injected reactor instead of the global one).

A shell: it decides nothing about the daemon. Must not import the store,
the poller or Klein.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import make_wsgi_app

from planetd.boundaries import FeedState, FeedStatus, PollReport

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorThreads
    from twisted.web.resource import IResource

_FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_PARSE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_PAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class PrometheusMetrics:
    """The daemon's metrics in a registry of their own.

    Args:
        feed_states: The poller's current feed states, read at every scrape.
    """

    def __init__(self, feed_states: Callable[[], Iterable[FeedState]] = tuple) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._polls = Counter(
            "planetd_polls",
            "Polls finished, by how the fetch ended and the feed's status after it.",
            ["outcome", "status"],
            registry=r,
        )
        self._new_entries = Counter(
            "planetd_entries_new", "Entries stored since the daemon started.", registry=r
        )
        self._fetch = Histogram(
            "planetd_fetch_seconds",
            "Time to fetch a feed (connect to last byte, or failure).",
            buckets=_FETCH_BUCKETS,
            registry=r,
        )
        self._parse = Histogram(
            "planetd_parse_seconds",
            "Time to parse and sanitize a feed's document in the worker pool.",
            buckets=_PARSE_BUCKETS,
            registry=r,
        )
        self._page = Histogram(
            "planetd_page_build_seconds",
            "Time to build every fixed page and document from the store.",
            buckets=_PAGE_BUCKETS,
            registry=r,
        )
        self._requests = Counter(
            "planetd_http_requests",
            "Web requests answered, by route template and status code.",
            ["route", "status"],
            registry=r,
        )
        self._restarts = Counter(
            "planetd_parse_worker_restarts",
            "Times the parse worker pool was replaced (a worker crashed or hung).",
            registry=r,
        )
        self._reloads = Counter(
            "planetd_reloads", "Config reloads, by result (ok or failed).", ["result"], registry=r
        )
        for result in ("ok", "failed"):
            self._reloads.labels(result=result)
        #: Entries stored since start, for the stored-entries gauge.
        self._stored_since_start = 0
        r.register(_FeedCollector(feed_states, lambda: self._stored_since_start))

    # -- planetd.boundaries.Metrics ------------------------------------------------------

    def poll_finished(self, report: PollReport) -> None:
        """Count one poll, and the entries it stored."""
        self._polls.labels(outcome=report.fetch_kind.value, status=report.status.value).inc()
        if report.new_entries:
            self._new_entries.inc(report.new_entries)
            self._stored_since_start += report.new_entries

    def fetch_finished(self, seconds: float) -> None:
        """Observe one fetch's duration."""
        self._fetch.observe(max(0.0, seconds))

    def parse_finished(self, seconds: float) -> None:
        """Observe one parse's duration."""
        self._parse.observe(max(0.0, seconds))

    def page_built(self, seconds: float) -> None:
        """Observe one build of the fixed outputs."""
        self._page.observe(max(0.0, seconds))

    def request_served(self, route: str, status: int) -> None:
        """Count one web request by its route template and status."""
        self._requests.labels(route=route, status=str(status)).inc()

    def worker_restarted(self) -> None:
        """Count one replacement of the parse pool."""
        self._restarts.inc()

    def reloaded(self, ok: bool) -> None:
        """Count one config reload."""
        self._reloads.labels(result="ok" if ok else "failed").inc()

    # -- exposition --------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)

    def resource(self, reactor: IReactorThreads) -> IResource:
        """The ``/metrics`` resource: the text format, rendered on a thread of the pool."""
        from twisted.web.wsgi import WSGIResource

        return WSGIResource(reactor, reactor.getThreadPool(), make_wsgi_app(self.registry))


class _FeedCollector:
    """Feeds by status and entries stored, computed from the feed states at scrape time."""

    def __init__(
        self, feed_states: Callable[[], Iterable[FeedState]], added: Callable[[], int]
    ) -> None:
        self._feed_states = feed_states
        self._added = added

    def collect(self) -> Iterator[Metric]:
        # A copy first: the scrape runs on a pool thread while the reactor updates states.
        states = list(self._feed_states())
        feeds = GaugeMetricFamily("planetd_feeds", "Configured feeds by status.", labels=["status"])
        for status in FeedStatus:
            feeds.add_metric([status.value], sum(1 for s in states if s.status is status))
        yield feeds
        stored = GaugeMetricFamily(
            "planetd_entries_stored",
            "Entries in the store: the feeds' counts at start plus those stored since"
            " (entries expunged by cache_keep_entries are not subtracted).",
        )
        stored.add_metric([], sum(s.entry_count for s in states) + self._added())
        yield stored
