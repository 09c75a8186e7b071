"""``/metrics``: what is counted, where it is served, and to whom.

The counting is checked in memory (the Prometheus registry, the poller on a
``Clock``, the output cache, the parse pool on the real reactor); where it is
served is checked against a real ``twistd -n planetd``: on the public
listener to loopback clients by default, on its own listener only when
``metrics_listen`` is set.
"""

from __future__ import annotations

import random
import re
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.web.resource import IResource, Resource
from twisted.web.test.requesthelper import DummyRequest

from builders import utc
from conftest import Daemon, FeedServer, free_port, subprocess_env, twistd
from feeds import atom
from planet_harness import PlanetTestCase, reactor
from planetd.boundaries import FeedState, FeedStatus, FeedURL, FetchKind, PollReport
from planetd.config import parse_config
from planetd.dbthreads import InlineStore
from planetd.nometrics import NULL_METRICS
from planetd.poller import Poller
from planetd.prometheus import PrometheusMetrics
from planetd.store import open_database
from planetd.web import PlanetWeb
from planetd.webface import web_face
from planetd.workers import InlineParser, ParsePool
from test_poller import FAILED, START, ScriptedFetcher, body, ok
from workerjobs import crash_or_parse


class Recording:
    """A :class:`planetd.boundaries.Metrics` that remembers every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def poll_finished(self, report: PollReport) -> None:
        self.calls.append(("poll", report))

    def fetch_finished(self, seconds: float) -> None:
        self.calls.append(("fetch", seconds))

    def parse_finished(self, seconds: float) -> None:
        self.calls.append(("parse", seconds))

    def page_built(self, seconds: float) -> None:
        self.calls.append(("page", seconds))

    def request_served(self, route: str, status: int) -> None:
        self.calls.append(("request", (route, status)))

    def worker_restarted(self) -> None:
        self.calls.append(("restart", None))

    def reloaded(self, ok: bool) -> None:
        self.calls.append(("reload", ok))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.calls]


def samples(text: bytes | str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition, by (name, sorted labels)."""
    if isinstance(text, bytes):
        text = text.decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def report(kind: FetchKind, status: FeedStatus, new: int = 0) -> PollReport:
    return PollReport(
        url=FeedURL("https://a.example/feed"),
        status=status,
        fetch_kind=kind,
        http_status=200,
        parsed=True,
        new_entries=new,
        elapsed=0.1,
        error=None,
        not_modified=False,
    )


# -- the registry ----------------------------------------------------------------------


def test_every_event_is_counted_under_a_planetd_name() -> None:
    """Polls by outcome, latencies, requests by route and status, restarts and reloads
    each land in their own ``planetd_`` metric."""
    metrics = PrometheusMetrics()
    metrics.poll_finished(report(FetchKind.OK, FeedStatus.OK, new=3))
    metrics.poll_finished(report(FetchKind.OK, FeedStatus.OK))
    metrics.poll_finished(report(FetchKind.FAILED, FeedStatus.FAILING))
    metrics.fetch_finished(0.3)
    metrics.parse_finished(0.02)
    metrics.page_built(0.2)
    metrics.request_served("/feeds/<string:fid>", 200)
    metrics.worker_restarted()
    metrics.reloaded(True)
    found = samples(metrics.exposition())
    assert found[("planetd_polls_total", (("outcome", "ok"), ("status", "ok")))] == 2
    assert found[("planetd_polls_total", (("outcome", "failed"), ("status", "failing")))] == 1
    assert found[("planetd_entries_new_total", ())] == 3
    assert found[("planetd_fetch_seconds_count", ())] == 1
    assert found[("planetd_fetch_seconds_bucket", (("le", "0.5"),))] == 1
    assert found[("planetd_parse_seconds_sum", ())] == pytest.approx(0.02)
    assert found[("planetd_page_build_seconds_count", ())] == 1
    route = (("route", "/feeds/<string:fid>"), ("status", "200"))
    assert found[("planetd_http_requests_total", route)] == 1
    assert found[("planetd_parse_worker_restarts_total", ())] == 1
    assert found[("planetd_reloads_total", (("result", "ok"),))] == 1
    assert found[("planetd_reloads_total", (("result", "failed"),))] == 0
    assert all(name.startswith("planetd_") for name, _ in found)


def test_feeds_by_status_and_entries_stored_are_read_at_scrape_time() -> None:
    """The feed gauges come from the feed states as they are when scraped (every status
    present, zero or not); entries stored are the states' counts plus entries stored since."""
    states = [
        FeedState(url=FeedURL("a"), name="a", status=FeedStatus.OK, entry_count=10),
        FeedState(url=FeedURL("b"), name="b", status=FeedStatus.OK, entry_count=5),
        FeedState(url=FeedURL("c"), name="c", status=FeedStatus.FAILING),
    ]
    metrics = PrometheusMetrics(lambda: states)
    found = samples(metrics.exposition())
    assert found[("planetd_feeds", (("status", "ok"),))] == 2
    assert found[("planetd_feeds", (("status", "failing"),))] == 1
    assert found[("planetd_feeds", (("status", "gone"),))] == 0
    assert found[("planetd_entries_stored", ())] == 15
    metrics.poll_finished(report(FetchKind.OK, FeedStatus.OK, new=4))
    states.append(FeedState(url=FeedURL("d"), name="d", status=FeedStatus.GONE))
    found = samples(metrics.exposition())
    assert found[("planetd_entries_stored", ())] == 19
    assert found[("planetd_feeds", (("status", "gone"),))] == 1


def test_two_planets_count_apart() -> None:
    """Each instance has its own registry: one planet's polls never show in another's."""
    one, two = PrometheusMetrics(), PrometheusMetrics()
    one.poll_finished(report(FetchKind.OK, FeedStatus.OK))
    assert ("planetd_polls_total", (("outcome", "ok"), ("status", "ok"))) in samples(
        one.exposition()
    )
    assert not [k for k in samples(two.exposition()) if k[0] == "planetd_polls_total"]


def test_the_null_metrics_take_every_call() -> None:
    """The command line's metrics accept every event and keep nothing."""
    NULL_METRICS.poll_finished(report(FetchKind.OK, FeedStatus.OK))
    NULL_METRICS.fetch_finished(1.0)
    NULL_METRICS.parse_finished(1.0)
    NULL_METRICS.page_built(1.0)
    NULL_METRICS.request_served("/", 200)
    NULL_METRICS.worker_restarted()
    NULL_METRICS.reloaded(False)


# -- the parts that report -------------------------------------------------------------


def test_the_poller_reports_fetch_parse_and_poll(tmp_path: Path) -> None:
    """Each poll tells the metrics its fetch time, its parse time (when it parsed) and
    the finished poll, with how it ended."""
    url = "https://a.example/feed"
    config = parse_config(
        f"[Planet]\nmin_interval = 60s\n[{url}]\nname = A\n", str(tmp_path / "p.ini")
    )
    db = open_database(str(tmp_path / "p.sqlite"))
    clock = Clock()
    clock.advance(START)
    fetcher = ScriptedFetcher()
    fetcher.clock = clock
    fetcher.scripts[url] = [ok(body(2)), FAILED]
    recording = Recording()
    poller = Poller(
        config,
        InlineStore(db),
        fetcher,
        InlineParser(),
        clock,
        rng=random.Random(1),
        metrics=recording,
    )
    try:
        loaded = Deferred.fromCoroutine(poller.load())
        assert loaded.called
        first = Deferred.fromCoroutine(poller.poll_feed(FeedURL(url)))
        second = Deferred.fromCoroutine(poller.poll_feed(FeedURL(url)))
        assert first.called and second.called
    finally:
        db.close()
    assert recording.kinds() == ["fetch", "parse", "poll", "fetch", "poll"]
    polls = [r for kind, r in recording.calls if kind == "poll"]
    assert [(p.fetch_kind, p.new_entries) for p in polls] == [  # type: ignore[attr-defined]
        (FetchKind.OK, 2),
        (FetchKind.FAILED, 0),
    ]


def test_the_output_cache_reports_each_page_build(tmp_path: Path) -> None:
    """A build of the fixed pages tells the metrics how long it took; a request that
    finds the pages fresh builds nothing and reports nothing."""
    config = parse_config("[Planet]\n[https://a.example/f]\nname = A\n", str(tmp_path / "p.ini"))
    db = open_database(str(tmp_path / "p.sqlite"))
    try:
        db.sync_feeds(config.feeds, utc(2026, 7, 1))
        clock = Clock()
        recording = Recording()
        web = web_face(config, InlineStore(db), clock, rebuild_delay=0, metrics=recording)
        assert web.outputs.refresh().called
        assert recording.kinds() == ["page"]
        assert web.outputs.refresh().called
        assert recording.kinds() == ["page"]
    finally:
        db.close()


class ParsePoolMetricsTests(PlanetTestCase):
    """The parse pool reports each replacement of its workers."""

    async def test_a_crashed_worker_is_counted_as_a_restart(self) -> None:
        """A worker that dies mid-parse replaces the pool (the job is run again once, so it
        may be twice), and the metrics hear of every replacement."""
        recording = Recording()
        pool = ParsePool(reactor, workers=1, target=crash_or_parse, metrics=recording)
        self.addCleanup(pool.stop)
        with pytest.raises(BrokenProcessPool):
            await pool.parse(b"crash", "https://s.example/crash", None, {})
        assert pool.restarts >= 1
        assert recording.kinds() == ["restart"] * pool.restarts


# -- the web face: routes and the guard ------------------------------------------------


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[Callable[..., PlanetWeb], Resource]]:
    """Makes web faces of one planet whose ``/metrics`` page is a stand-in resource."""
    config = parse_config("[Planet]\n[https://a.example/f]\nname = A\n", str(tmp_path / "p.ini"))
    db = open_database(str(tmp_path / "p.sqlite"))
    page = Resource()

    def make() -> PlanetWeb:
        return web_face(config, InlineStore(db), Clock(), metrics_page=page)

    yield make, page
    db.close()


@pytest.mark.parametrize(
    ("path", "route"),
    [
        (b"/", "/"),
        (b"/feeds/0123abcd", "/feeds/<string:fid>"),
        (b"/faces/jane.png", "/faces/<string:name>"),
        (b"/api/entries", "/api/entries"),
        (b"/metrics", "/metrics"),
        (b"/wp-login.php", "other"),
        (b"/feeds/a/b/c", "other"),
    ],
)
def test_requests_are_labelled_by_route_template(web, path: bytes, route: str) -> None:
    """A request's label is the route it matched, never its raw path: a crawler walking
    random paths adds no new series."""
    make, _ = web
    assert make().route_of(path, b"GET") == route


def _request(address: object) -> DummyRequest:
    request = DummyRequest([b"metrics"])
    request.client = address
    return request


@pytest.mark.parametrize(
    "address",
    [
        IPv4Address("TCP", "127.0.0.1", 5000),
        IPv4Address("TCP", "127.8.9.10", 5000),
        IPv6Address("TCP", "::1", 5000),
        IPv6Address("TCP", "::ffff:127.0.0.1", 5000),
        UNIXAddress(b"/run/planetd.sock"),
    ],
)
def test_metrics_are_served_to_loopback_clients(web, address: object) -> None:
    """Without ``metrics_listen``, ``/metrics`` on the public listener answers clients on
    this machine (loopback addresses, a UNIX socket)."""
    make, page = web
    assert make().metrics(_request(address)) is page


@pytest.mark.parametrize(
    "address",
    [IPv4Address("TCP", "192.0.2.7", 5000), IPv6Address("TCP", "2001:db8::1", 5000)],
)
def test_metrics_are_refused_to_other_clients_unless_public(web, address: object) -> None:
    """Any other client gets a 403, until the operator says ``metrics_public = yes``."""
    make, page = web
    request = _request(address)
    answer = make().metrics(request)
    assert request.responseCode == 403
    assert b"metrics_public" in answer
    public = make()
    public._metrics_public = True
    assert public.metrics(_request(address)) is page


def test_metrics_on_their_own_listener_are_a_404_on_the_public_one(tmp_path: Path) -> None:
    """With ``metrics_listen`` the public web face has no metrics page: 404, even locally."""
    config = parse_config(
        "[Planet]\nmetrics_listen = tcp:9100\n[https://a.example/f]\nname = A\n",
        str(tmp_path / "p.ini"),
    )
    db = open_database(str(tmp_path / "p.sqlite"))
    try:
        planet = web_face(config, InlineStore(db), Clock())
        request = _request(IPv4Address("TCP", "127.0.0.1", 5000))
        answer = planet.metrics(request)
        assert request.responseCode == 404
        assert not IResource.providedBy(answer)
    finally:
        db.close()


def test_metrics_keys_are_read_from_the_config(tmp_path: Path) -> None:
    """``metrics_listen`` and ``metrics_public`` are planetd keys (never reported unknown)."""
    config = parse_config(
        "[Planet]\nmetrics_listen = tcp:9100:interface=127.0.0.1\nmetrics_public = yes\n",
        str(tmp_path / "p.ini"),
    )
    assert config.metrics_listen == "tcp:9100:interface=127.0.0.1"
    assert config.metrics_public is True
    assert config.unknown == ()
    with pytest.raises(ValueError, match=r":2: key 'metrics_listen'"):
        parse_config("[Planet]\nmetrics_listen = 9100\n", str(tmp_path / "p.ini"))


# -- the real daemon -------------------------------------------------------------------


def metrics_planet(tmp_path: Path, server: FeedServer, extra: str = "") -> Path:
    entries = [
        (f"tag:m,{n}", f"Post {n}", f"2026-07-0{n + 1}T00:00:00Z", "<p>x</p>") for n in range(3)
    ]
    (server.folder / "m.atom").write_text(atom("M", "https://m.example/", entries))
    config = tmp_path / "planet.ini"
    config.write_text(
        f"[Planet]\nname = Planet Metrics\nmin_interval = 1s\n{extra}\n"
        f"[{server.url('m.atom')}]\nname = M\n\n"
        f"[{server.url('missing.atom')}]\nname = Missing\n"
    )
    return config


def scrape(daemon: Daemon, url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        return samples(response.read())


@pytest.mark.e2e
def test_the_daemon_serves_metrics_to_a_local_client(
    tmp_path: Path, feed_server: FeedServer, make_daemon
) -> None:
    """A real daemon without ``metrics_listen`` serves ``/metrics`` on its public listener
    to a loopback client: polls by outcome, latencies, feeds by status, entries stored,
    page builds and web requests by route and status."""
    daemon: Daemon = make_daemon(metrics_planet(tmp_path, feed_server))
    daemon.start()
    daemon.wait_until(lambda: len(daemon.json("/api/entries")["entries"]) == 3, 30, "entries")
    assert daemon.get("/nope/nothing")[0] == 404

    def polled() -> bool:
        found = scrape(daemon, daemon.url("/metrics"))
        return found.get(("planetd_feeds", (("status", "failing"),))) == 1

    daemon.wait_until(polled, 30, "both feeds polled")
    found = scrape(daemon, daemon.url("/metrics"))
    assert found[("planetd_polls_total", (("outcome", "ok"), ("status", "ok")))] >= 1
    assert found[("planetd_polls_total", (("outcome", "failed"), ("status", "failing")))] >= 1
    assert found[("planetd_feeds", (("status", "ok"),))] == 1
    assert found[("planetd_entries_stored", ())] == 3
    assert found[("planetd_fetch_seconds_count", ())] >= 2
    assert found[("planetd_parse_seconds_count", ())] >= 1
    assert found[("planetd_page_build_seconds_count", ())] >= 1
    assert found[("planetd_http_requests_total", (("route", "/healthz"), ("status", "200")))] >= 1
    assert found[("planetd_http_requests_total", (("route", "other"), ("status", "404")))] == 1
    assert found[("planetd_parse_worker_restarts_total", ())] == 0


@pytest.mark.e2e
def test_metrics_listen_serves_metrics_there_only(
    tmp_path: Path, feed_server: FeedServer, make_daemon
) -> None:
    """With ``metrics_listen`` the metrics port serves ``/metrics`` (and nothing else) and
    the public listener answers ``/metrics`` with a 404."""
    port = free_port()
    config = metrics_planet(
        tmp_path, feed_server, f"metrics_listen = tcp:{port}:interface=127.0.0.1\n"
    )
    daemon: Daemon = make_daemon(config)
    daemon.start()
    status, _, body = daemon.get("/metrics")
    assert status == 404
    assert b"planetd_" not in body
    found = scrape(daemon, f"http://127.0.0.1:{port}/metrics")
    assert ("planetd_feeds", (("status", "pending"),)) in found
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10)
    assert caught.value.code == 404


def test_a_bad_metrics_listen_stops_the_daemon_with_its_line(tmp_path: Path) -> None:
    """An endpoint string Twisted cannot parse stops ``twistd planetd`` with one line that
    names the config file, the line and the key, before anything is written."""
    config = tmp_path / "planet.ini"
    config.write_text("[Planet]\nname = P\nmetrics_listen = nosuch:thing\n")
    result = subprocess.run(
        [*twistd(), "-n", "--pidfile=", "planetd", "--config", str(config)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=str(tmp_path),
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert re.search(
        rf"{re.escape(str(config))}:3: key 'metrics_listen': not a server endpoint",
        result.stderr + result.stdout,
    )
    assert not (tmp_path / "planetd.sqlite").exists()
