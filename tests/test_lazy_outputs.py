"""Only the outputs asked for are built: a change of the store rebuilds the river, and
every other fixed output waits for its own first request after the change.

The unit tests drive :class:`planetd.outputs.OutputCache` with a ``Clock`` and a
store whose reads wait until the test runs them (as in ``test_outputs``); the last
ones build a real planet's outputs from a real SQLite file and count its reads.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.task import Clock
from twisted.logger import Logger

from builders import utc
from planetd.boundaries import FeedState, FeedStatus, Output, PollOutcome
from planetd.config import parse_config
from planetd.dbthreads import InlineStore
from planetd.outputs import REBUILD_DELAY, OutputCache
from planetd.site import EAGER_PATHS, FIXED_PATHS
from planetd.store import open_database
from planetd.webface import web_face
from test_metrics import Recording
from test_outputs import HTML, HeldStore, fired, pending, start

LAZY = ("/feeds", "/api/feeds")


class LazyPlanet:
    """A cache whose river is eager and whose ``/feeds`` and ``/api/feeds`` are lazy;
    every build of each path is counted."""

    def __init__(self, rebuild_delay: float = REBUILD_DELAY) -> None:
        self.store = HeldStore()
        self.clock = Clock()
        self.clock.advance(1_800_000_000)
        self.builds: Counter[str] = Counter()
        self.fail: set[str] = set()
        self.cache = OutputCache(
            self.store,  # type: ignore[arg-type]
            self.clock,
            lambda db, now: {"/": self.render("/")},
            lazy={path: self._lazy(path) for path in LAZY},
            rebuild_delay=rebuild_delay,
        )
        self.events: list[dict[str, Any]] = []
        self.cache.log = Logger(observer=self.events.append)

    def render(self, path: str) -> Output:
        self.builds[path] += 1
        if path in self.fail:
            self.fail.discard(path)
            raise RuntimeError(f"{path} exploded")
        return Output(f"{path} at {self.store.generation}".encode(), HTML)

    def _lazy(self, path: str) -> Any:
        return lambda db, now: self.render(path)

    def get(self, path: str) -> Any:
        return start(self.cache.fixed(path))

    def run_all(self) -> None:
        while self.store.pending:
            self.store.run()

    def warm(self) -> None:
        done = self.cache.refresh()
        self.run_all()
        assert fired(done) is None


@pytest.fixture
def planet() -> LazyPlanet:
    return LazyPlanet()


def test_the_warm_start_builds_every_output_in_one_read(planet: LazyPlanet) -> None:
    """The daemon's first render builds the river and every lazy output in one read, so
    the first visitor of any page waits for nothing."""
    done = planet.cache.refresh()
    assert len(planet.store.pending) == 1
    planet.store.run()
    assert fired(done) is None
    assert planet.builds == Counter({"/": 1, "/feeds": 1, "/api/feeds": 1})
    for path in ("/", *LAZY):
        assert fired(planet.get(path)).body == f"{path} at 0".encode()
    assert planet.store.pending == []
    assert fired(planet.cache.refresh()) is None and planet.store.pending == []


def test_a_change_rebuilds_only_what_is_asked_for(planet: LazyPlanet) -> None:
    """After a write, requests for the river rebuild the river alone; ``/api/feeds`` is
    rebuilt at its own first request, once; ``/feeds``, never asked for, is not built."""
    planet.warm()
    planet.clock.advance(REBUILD_DELAY)
    planet.store.generation = 1
    river = planet.get("/")
    planet.run_all()
    assert fired(river).body == b"/ at 1"
    assert planet.builds == Counter({"/": 2, "/feeds": 1, "/api/feeds": 1})
    api = planet.get("/api/feeds")
    assert pending(api) and len(planet.store.pending) == 1
    planet.run_all()
    assert fired(api).body == b"/api/feeds at 1"
    assert fired(planet.get("/api/feeds")).body == b"/api/feeds at 1"
    assert planet.store.pending == []
    assert planet.builds == Counter({"/": 2, "/feeds": 1, "/api/feeds": 2})


def test_concurrent_requests_share_one_lazy_build(planet: LazyPlanet) -> None:
    """Requests that find no bytes for a lazy output wait for one build between them; the
    build runs on a reader (the store's read), never inline on the reactor thread."""
    first, second, third = (planet.get("/api/feeds") for _ in range(3))
    assert len(planet.store.pending) == 1 and planet.builds == Counter()
    assert pending(first) and pending(second) and pending(third)
    planet.store.run()
    assert fired(first).body == fired(second).body == fired(third).body == b"/api/feeds at 0"
    assert planet.builds == Counter({"/api/feeds": 1})


def test_a_stale_lazy_output_is_served_while_its_rebuild_runs(planet: LazyPlanet) -> None:
    """The request that finds a lazy output stale waits for its rebuild (it sees the
    write); requests arriving during that build get the previous bytes at once."""
    planet.warm()
    planet.clock.advance(REBUILD_DELAY)
    planet.store.generation = 1
    writer = planet.get("/feeds")
    assert pending(writer)
    during = planet.get("/feeds")
    assert fired(during).body == b"/feeds at 0"
    assert len(planet.store.pending) == 1
    planet.store.run()
    assert fired(writer).body == b"/feeds at 1"
    assert planet.builds["/feeds"] == 2


def test_a_lazy_output_is_rebuilt_at_most_once_per_delay(planet: LazyPlanet) -> None:
    """Under a busy poll (a write every 50 ms, a request every 10 ms) ``/api/feeds`` is
    rebuilt at most once per rebuild_delay, and every write shows within two seconds."""
    planet.warm()
    written_at: dict[int, float] = {}
    seen_at: dict[int, float] = {}
    for tick in range(1, 501):  # five seconds in steps of 10 ms
        planet.clock.advance(0.01)
        if tick % 5 == 0 and tick <= 400:
            planet.store.generation += 1
            written_at[planet.store.generation] = planet.clock.seconds()
        answer = planet.get("/api/feeds")
        planet.run_all()
        generation = int(fired(answer).body.split()[-1])
        seen_at.setdefault(generation, planet.clock.seconds())
    assert planet.builds["/api/feeds"] <= 1 + 6, planet.builds
    assert planet.builds["/"] == 1 and planet.builds["/feeds"] == 1
    for generation, when in written_at.items():
        shown = min(t for g, t in seen_at.items() if g >= generation)
        assert shown - when <= 2.0, (generation, shown - when)


def test_a_failed_lazy_build_keeps_the_previous_bytes_and_is_retried(planet: LazyPlanet) -> None:
    """A lazy build that raises is logged with its path; the previous bytes are served and
    the next request builds again."""
    planet.warm()
    planet.clock.advance(REBUILD_DELAY)
    planet.store.generation = 1
    planet.fail.add("/api/feeds")
    failed = planet.get("/api/feeds")
    planet.run_all()
    assert fired(failed).body == b"/api/feeds at 0"
    assert [e["log_format"] for e in planet.events] == ["rendering {path} failed"]
    assert planet.events[0]["path"] == "/api/feeds"
    planet.clock.advance(REBUILD_DELAY)
    retry = planet.get("/api/feeds")
    planet.run_all()
    assert fired(retry).body == b"/api/feeds at 1"


def test_a_lazy_request_during_the_warm_start_waits_for_it(planet: LazyPlanet) -> None:
    """A request for a lazy output that arrives while the warm start runs is answered by
    that build: nothing is built twice."""
    planet.cache.refresh()
    early = planet.get("/feeds")
    assert pending(early) and len(planet.store.pending) == 1
    planet.run_all()
    assert fired(early).body == b"/feeds at 0"
    assert planet.builds == Counter({"/": 1, "/feeds": 1, "/api/feeds": 1})


def test_the_first_lazy_build_that_fails_fails_its_request() -> None:
    """With no bytes yet, a lazy output whose build fails has nothing to serve: the
    request fails (a 500) and the next one builds again."""
    planet = LazyPlanet(rebuild_delay=0)
    planet.fail.add("/feeds")
    failed = planet.get("/feeds")
    planet.run_all()
    with pytest.raises(KeyError):
        fired(failed)
    retry = planet.get("/feeds")
    planet.run_all()
    assert fired(retry).body == b"/feeds at 0"


class CountingDatabase:
    """A real database whose feed and entry reads are counted."""

    def __init__(self, db: Any) -> None:
        self._db = db
        self.reads: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        if name in ("feed_states", "entries", "hidden_counts"):
            self.reads[name] += 1
        return getattr(self._db, name)


def test_a_real_planet_rebuilds_only_the_river_after_a_poll(tmp_path: Path) -> None:
    """Over a real SQLite file: the daemon's web face builds every output at its start;
    after a poll is written, a request for ``/`` reads the store once for the river (its
    entries, then its feeds) and builds no other output; ``/api/feeds`` reads the feeds
    alone, and its bytes show the poll."""
    config = parse_config(
        "[Planet]\n[https://a.example/f]\nname = A\n[https://b.example/f]\nname = B\n",
        str(tmp_path / "p.ini"),
    )
    db = open_database(str(tmp_path / "p.sqlite"))
    try:
        db.sync_feeds(config.feeds, utc(2026, 7, 1))
        counting = CountingDatabase(db)
        store = InlineStore(counting)  # type: ignore[arg-type]
        clock = Clock()
        clock.advance(1_800_000_000)
        recording = Recording()
        web = web_face(config, store, clock, rebuild_delay=0, metrics=recording)

        def builds() -> int:
            return recording.kinds().count("page")

        assert set(web.outputs._lazy) | set(EAGER_PATHS) == set(FIXED_PATHS)
        assert web.outputs.refresh().called and builds() == 1
        counting.reads.clear()
        feed = config.feeds[0]
        state = FeedState(url=feed.url, name=feed.name, status=FeedStatus.OK, http_status=200)
        store.record_poll(feed, PollOutcome(state=state), utc(2026, 7, 2))
        river = fired(start(web.outputs.fixed("/")))
        assert b"A" in river.body
        assert counting.reads == Counter({"entries": 1, "feed_states": 1, "hidden_counts": 1})
        assert builds() == 2
        counting.reads.clear()
        api = fired(start(web.outputs.fixed("/api/feeds")))
        assert b'"http_status":200' in api.body
        assert counting.reads == Counter({"feed_states": 1})
        assert builds() == 3
        assert fired(start(web.outputs.fixed("/api/feeds"))) is api
        assert builds() == 3
    finally:
        db.close()
