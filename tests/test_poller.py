"""The poll loop under a deterministic clock: schedules, caps, failures, isolation.

The fetcher here is an in-memory one that answers from a script (or never);
the parser and the store are the real ones, run inline on the test's thread.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import attrs
import pytest
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from feeds import atom
from planetd.boundaries import FeedStatus, FeedURL, FetchKind, FetchResult, PollReport, Validators
from planetd.config import parse_config
from planetd.dbthreads import InlineStore
from planetd.poller import Poller
from planetd.store import Database, open_database
from planetd.workers import InlineParser

START = 1_780_000_000.0  # 2026-05-28, any fixed moment


def body(n: int, content: str = "<p>x</p>") -> bytes:
    entries = [
        (f"tag:e,2026:{i}", f"Post {i}", f"2026-05-2{i % 8}T10:00:00Z", content) for i in range(n)
    ]
    return atom("Blog", "https://blog.example/", entries).encode()


class ScriptedFetcher:
    """Answers each URL from a queue of results; an empty queue repeats the last; None hangs."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[FetchResult | None]] = defaultdict(list)
        self.calls: list[tuple[float, str]] = []
        self.clock: Clock | None = None
        self.hanging: list[Deferred[FetchResult]] = []

    def fetch(
        self, url: str, validators: Validators, *, timeout: float, max_bytes: int
    ) -> Deferred[FetchResult]:
        assert self.clock is not None
        self.calls.append((self.clock.seconds(), url))
        script = self.scripts[url]
        result = script.pop(0) if len(script) > 1 else script[0]
        if result is None:
            d: Deferred[FetchResult] = Deferred()
            self.hanging.append(d)
            return d
        return succeed(result)

    def times(self, url: str) -> list[float]:
        return [t - START for t, u in self.calls if u == url]


def ok(payload: bytes) -> FetchResult:
    import hashlib

    return FetchResult(
        kind=FetchKind.OK,
        http_status=200,
        body=payload,
        content_type="application/atom+xml",
        validators=Validators(etag='"v1"', body_hash=hashlib.sha256(payload).hexdigest()),
    )


FAILED = FetchResult(kind=FetchKind.FAILED, http_status=500, error="HTTP 500 Internal Server Error")
GONE = FetchResult(kind=FetchKind.GONE, http_status=410)


class Harness:
    def __init__(self, folder: Path, feeds: list[str], **planet: str) -> None:
        settings = {"min_interval": "60s", "poll_interval": "1h", **planet}
        text = "[Planet]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
        text += "".join(f"[{url}]\nname = Feed {i}\n" for i, url in enumerate(feeds))
        self.config = parse_config(text, str(folder / "planet.ini"))
        self.db: Database = open_database(str(folder / "planet.sqlite"))
        self.clock = Clock()
        self.clock.advance(START)
        self.fetcher = ScriptedFetcher()
        self.fetcher.clock = self.clock
        self.reports: list[PollReport] = []
        self.poller = Poller(
            self.config,
            InlineStore(self.db),
            self.fetcher,
            InlineParser(),
            self.clock,
            rng=random.Random(7),
            on_poll=self.reports.append,
        )

    def start(self) -> None:
        d = Deferred.fromCoroutine(self.poller.load())
        assert d.called
        self.poller.start()

    def run_for(self, seconds: float, step: float = 1.0) -> None:
        for _ in range(int(seconds / step)):
            self.clock.advance(step)


@pytest.fixture
def harness_factory(tmp_path: Path) -> Iterator[type]:
    made: list[Harness] = []

    def make(feeds: list[str], **planet: str) -> Harness:
        h = Harness(tmp_path, feeds, **planet)
        made.append(h)
        return h

    yield make  # type: ignore[misc]
    for h in made:
        h.poller.stop()
        h.db.close()


A, B, C = "https://a.example/feed", "https://b.example/feed", "https://c.example/feed"


def test_pending_feeds_are_polled_at_once_but_spread(harness_factory) -> None:
    """After a start every never-polled feed is polled within seconds, not all at one instant."""
    h = harness_factory([A, B, C])
    for url in (A, B, C):
        h.fetcher.scripts[url] = [ok(body(3))]
    h.start()
    h.run_for(5, step=0.01)
    firsts = [h.fetcher.times(url)[0] for url in (A, B, C)]
    assert all(0 <= t < 1 for t in firsts)
    assert len(set(firsts)) == 3
    assert {r.status for r in h.reports} == {FeedStatus.OK}
    assert sum(r.new_entries for r in h.reports) == 9


def test_a_good_feed_is_polled_again_after_its_interval(harness_factory) -> None:
    """A healthy feed's next poll comes one interval later, give or take the jitter."""
    h = harness_factory([A])
    h.fetcher.scripts[A] = [ok(body(2))]
    h.start()
    h.run_for(2.5 * 3600, step=10)
    times = h.fetcher.times(A)
    gaps = [b - a for a, b in pairwise(times)]
    assert len(times) == 3
    assert all(0.9 * 3600 - 10 <= g <= 1.1 * 3600 + 10 for g in gaps)


def test_an_unchanged_body_is_not_parsed_again(harness_factory) -> None:
    """A 200 with the same bytes as last time (validators ignored) costs no parse."""
    h = harness_factory([A])
    h.fetcher.scripts[A] = [ok(body(2))]
    h.start()
    h.run_for(1.5 * 3600, step=10)
    assert [r.parsed for r in h.reports] == [True, False]
    assert h.reports[1].not_modified


def test_a_failing_feed_backs_off_and_never_stops_the_others(harness_factory) -> None:
    """Failures double the wait; the healthy feed keeps its own schedule meanwhile."""
    h = harness_factory([A, B])
    h.fetcher.scripts[A] = [FAILED]
    h.fetcher.scripts[B] = [ok(body(1))]
    h.start()
    h.run_for(8 * 3600, step=30)
    failing = h.fetcher.times(A)
    gaps = [b - a for a, b in pairwise(failing)]
    assert gaps == sorted(gaps) and gaps[-1] > 1.5 * gaps[0]
    assert len(h.fetcher.times(B)) >= 7
    states = {s.url: s for s in h.db.feed_states()}
    assert states[FeedURL(A)].status is FeedStatus.FAILING
    assert states[FeedURL(A)].consecutive_failures == len(failing)
    assert states[FeedURL(A)].last_error == "HTTP 500 Internal Server Error"
    assert states[FeedURL(B)].status is FeedStatus.OK


def test_a_gone_feed_is_not_polled_again(harness_factory) -> None:
    """After a 410 the feed is marked gone and left alone."""
    h = harness_factory([A])
    h.fetcher.scripts[A] = [GONE]
    h.start()
    h.run_for(3 * 86400, step=600)
    assert len(h.fetcher.times(A)) == 1
    assert h.db.feed_states()[0].status is FeedStatus.GONE


def test_a_gone_feed_s_poll_report_says_why(harness_factory) -> None:
    """The poll of a feed that answers 410 reports the reason, as a failing poll does: the
    command line's poll line and the log say "gone (HTTP 410)", not just "gone"."""
    h = harness_factory([A])
    h.fetcher.scripts[A] = [GONE]
    h.start()
    h.run_for(10)
    [report] = h.reports
    assert report.status is FeedStatus.GONE
    assert report.error is not None and "410" in report.error


def test_the_poll_log_line_reads_as_a_sentence(harness_factory) -> None:
    """One log line per poll, written for a person: the HTTP status where there was one
    (never "HTTP None", as a ``file:`` feed or a refused connection has none), the reason
    of a failure after a colon."""
    from twisted.logger import formatEvent, globalLogPublisher

    h = harness_factory([A, B])
    h.fetcher.scripts[A] = [attrs.evolve(ok(body(2)), http_status=None)]
    h.fetcher.scripts[B] = [FAILED]
    lines: list[str] = []

    def observe(event: dict) -> None:
        if event.get("log_namespace", "").startswith("planetd.poller"):
            lines.append(formatEvent(event))

    globalLogPublisher.addObserver(observe)
    try:
        h.start()
        h.run_for(5)
    finally:
        globalLogPublisher.removeObserver(observe)
    assert len(lines) == 2, lines
    assert any(line.startswith(f"polled {A}: ok in ") and "2 new entries" in line for line in lines)
    assert any(
        line.startswith(f"polled {B}: failing (HTTP 500) in ")
        and line.endswith(": HTTP 500 Internal Server Error")
        for line in lines
    ), lines
    assert not [line for line in lines if "None" in line]


def test_a_hanging_feed_holds_up_nobody(harness_factory) -> None:
    """While one feed's fetch never answers, the others are polled on time, again and again."""
    h = harness_factory([A, B, C])
    h.fetcher.scripts[A] = [None]
    h.fetcher.scripts[B] = [ok(body(1))]
    h.fetcher.scripts[C] = [ok(body(2))]
    h.start()
    h.run_for(2.5 * 3600, step=30)
    assert len(h.fetcher.times(A)) == 1
    assert len(h.fetcher.times(B)) == 3
    assert len(h.fetcher.times(C)) == 3


def test_per_host_cap_queues_feeds_of_a_busy_host(harness_factory) -> None:
    """With per_host_concurrency = 1, a second feed on the same host waits for the first."""
    same_host = ["https://host.example/a", "https://host.example/b", "https://other.example/c"]
    h = harness_factory(same_host, per_host_concurrency="1")
    h.fetcher.scripts[same_host[0]] = [None]
    h.fetcher.scripts[same_host[1]] = [ok(body(1))]
    h.fetcher.scripts[same_host[2]] = [ok(body(1))]
    h.start()
    h.run_for(30)
    assert h.fetcher.times(same_host[1]) == []
    assert len(h.fetcher.times(same_host[2])) == 1
    h.fetcher.hanging[0].callback(FAILED)
    assert len(h.fetcher.times(same_host[1])) == 1


def test_global_cap_bounds_feeds_in_flight(harness_factory) -> None:
    """With concurrency = 2, at most two polls run at once; the rest start as they finish."""
    urls = [f"https://h{i}.example/feed" for i in range(5)]
    h = harness_factory(urls, concurrency="2")
    for url in urls:
        h.fetcher.scripts[url] = [None]
    h.start()
    h.run_for(30)
    assert len(h.fetcher.calls) == 2
    h.fetcher.hanging[0].callback(ok(body(1)))
    assert len(h.fetcher.calls) == 3


def test_a_store_that_cannot_write_fails_the_poll_not_the_loop(harness_factory) -> None:
    """A write error (a read-only database here) is logged; the feed is retried later."""
    h = harness_factory([A])
    h.fetcher.scripts[A] = [ok(body(1))]
    h.start()
    h.db._conn.execute("PRAGMA query_only = ON")
    h.run_for(5, step=0.1)
    assert len(h.fetcher.times(A)) == 1
    assert "storing failed" in (h.poller.states[FeedURL(A)].last_error or "")
    h.db._conn.execute("PRAGMA query_only = OFF")
    h.run_for(120, step=1)
    assert len(h.fetcher.times(A)) == 2
    assert h.db.feed_states()[0].status is FeedStatus.OK


def test_stop_abandons_polls_that_do_not_finish(harness_factory) -> None:
    """Stopping cancels the timer and gives in-flight polls a grace period, then cancels them."""
    h = harness_factory([A, B])
    h.fetcher.scripts[A] = [None]
    h.fetcher.scripts[B] = [ok(body(1))]
    h.start()
    h.run_for(5, step=0.1)
    stopped = h.poller.stop(grace=5.0)
    assert not stopped.called
    h.clock.advance(5)
    assert stopped.called
    calls = len(h.fetcher.calls)
    h.run_for(3 * 3600, step=60)
    assert len(h.fetcher.calls) == calls


def test_poll_once_polls_each_feed_once(harness_factory) -> None:
    """The command line's one-shot poll visits every given feed once and reports each."""
    h = harness_factory([A, B], concurrency="1")
    h.fetcher.scripts[A] = [ok(body(2))]
    h.fetcher.scripts[B] = [FAILED]
    Deferred.fromCoroutine(h.poller.load())
    done = Deferred.fromCoroutine(h.poller.poll_once([FeedURL(A), FeedURL(B)]))
    reports = done.result
    assert sorted((r.url, r.status) for r in reports) == [
        (A, FeedStatus.OK),
        (B, FeedStatus.FAILING),
    ]


def test_a_full_disk_fails_the_poll_and_keeps_what_was_stored(harness_factory) -> None:
    """SQLITE_FULL mid-poll: the poll is retried later, stored entries stay readable."""
    big = ok(body(7, "<p>" + "many words " * 5000 + "</p>"))
    h = harness_factory([A, B])
    h.fetcher.scripts[A] = [ok(body(2))]
    h.fetcher.scripts[B] = [None, big]
    h.start()
    h.run_for(1, step=0.05)
    assert len(h.db.entries(limit=50)) == 2
    pages = h.db._conn.execute("PRAGMA page_count").fetchone()[0]
    h.db._conn.execute(f"PRAGMA max_page_count = {pages}")
    h.fetcher.hanging[0].callback(big)
    assert "full" in (h.poller.states[FeedURL(B)].last_error or "")
    assert len(h.db.entries(limit=50)) == 2
    h.db._conn.execute("PRAGMA max_page_count = 1073741823")
    h.run_for(120, step=1)
    assert {e.feed_url for e in h.db.entries(limit=50)} == {A, B}
