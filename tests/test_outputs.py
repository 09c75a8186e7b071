"""The output cache on its own: a ``Clock``, an in-memory store whose reads the test runs.

Reads stay pending until the test runs them, so "a build is running" is a
state the tests can hold and look at.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import Logger
from twisted.python.failure import Failure

from planetd.boundaries import Output
from planetd.outputs import REBUILD_DELAY, OutputCache

HTML = "text/html; charset=utf-8"


class HeldStore:
    """The reading side of a store, in memory: each read waits until :meth:`run` runs it."""

    def __init__(self) -> None:
        self.generation = 0
        self.pending: list[tuple[Callable[[Any], Any], Deferred[Any]]] = []

    def reading(self, build: Callable[[Any], Any]) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        self.pending.append((build, d))
        return d

    def run(self) -> None:
        """Run the oldest pending read (on "a reader thread"), firing its Deferred."""
        build, d = self.pending.pop(0)
        try:
            result = build(object())
        except Exception:
            d.errback()
        else:
            d.callback(result)


class Planet:
    """A cache over a :class:`HeldStore` whose build renders the store's generation."""

    def __init__(self, rebuild_delay: float = REBUILD_DELAY) -> None:
        self.store = HeldStore()
        self.clock = Clock()
        self.clock.advance(1_800_000_000)
        self.builds = 0
        self.fail_next = False
        self.cache = OutputCache(
            self.store,  # type: ignore[arg-type]
            self.clock,
            self.build,
            kept=2,
            rebuild_delay=rebuild_delay,
        )
        self.events: list[dict[str, Any]] = []
        self.cache.log = Logger(observer=self.events.append)

    def build(self, db: object, now: Any) -> dict[str, Output]:
        self.builds += 1
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("template exploded")
        body = f"generation {self.store.generation}".encode()
        return {"/": Output(body, HTML), "/api/feeds": Output(b"{}", "application/json")}


def start(coroutine: Coroutine[Any, Any, Any]) -> Deferred[Any]:
    return Deferred.fromCoroutine(coroutine)


def _keep(results: list[Any]) -> Callable[[Any], Any]:
    """A callback that records a result and passes it on (a failure is consumed)."""

    def keep(result: Any) -> Any:
        results.append(result)
        return None if isinstance(result, Failure) else result

    return keep


def fired(d: Deferred[Any]) -> Any:
    """The result of a Deferred that must have fired already (it may be asked again)."""
    results: list[Any] = []
    d.addBoth(_keep(results))
    assert results, "the Deferred has not fired"
    if hasattr(results[0], "raiseException"):
        results[0].raiseException()
    return results[0]


def pending(d: Deferred[Any]) -> bool:
    """True if ``d`` has not fired yet."""
    results: list[Any] = []
    d.addBoth(_keep(results))
    return not results


@pytest.fixture
def planet() -> Planet:
    return Planet()


def test_concurrent_callers_share_one_build(planet: Planet) -> None:
    """Requests that find no outputs all wait for the same single build, then get its bytes."""
    first = start(planet.cache.fixed("/"))
    second = start(planet.cache.fixed("/"))
    refresh = planet.cache.refresh()
    assert len(planet.store.pending) == 1 and planet.cache.building
    assert pending(first) and pending(second) and pending(refresh)
    planet.store.run()
    assert fired(first).body == fired(second).body == b"generation 0"
    assert fired(refresh) is None
    assert planet.builds == 1 and not planet.cache.building and planet.cache.ready


def test_nothing_is_rebuilt_while_the_store_is_unchanged(planet: Planet) -> None:
    """Once built, the same bytes are served with no read until the store's generation moves."""
    first = start(planet.cache.fixed("/"))
    planet.store.run()
    again = fired(start(planet.cache.fixed("/")))
    assert again is fired(first)
    assert planet.store.pending == [] and planet.builds == 1


def test_stale_bytes_are_served_while_a_rebuild_runs(planet: Planet) -> None:
    """After a write, the first request starts the rebuild and waits for it (it sees its
    own write); requests arriving during the rebuild get the previous bytes at once."""
    start(planet.cache.fixed("/"))
    planet.store.run()
    planet.clock.advance(REBUILD_DELAY)
    planet.store.generation = 1
    writer = start(planet.cache.fixed("/"))
    assert pending(writer) and planet.cache.building
    during = start(planet.cache.fixed("/"))
    assert fired(during).body == b"generation 0"
    assert len(planet.store.pending) == 1
    planet.store.run()
    assert fired(writer).body == b"generation 1"
    assert fired(start(planet.cache.fixed("/"))).body == b"generation 1"


def test_a_failed_build_is_logged_and_retried_at_the_next_request(planet: Planet) -> None:
    """A build that raises is logged with its traceback; the request fails (nothing to
    serve yet) and the next request builds again, successfully."""
    planet.fail_next = True
    failed = start(planet.cache.fixed("/"))
    planet.store.run()
    with pytest.raises(KeyError):
        fired(failed)
    assert [e["log_format"] for e in planet.events] == ["rendering the planet failed"]
    assert "template exploded" in str(planet.events[0]["log_failure"].value)
    assert not planet.cache.building and not planet.cache.ready
    retry = start(planet.cache.fixed("/"))
    planet.store.run()
    assert fired(retry).body == b"generation 0"


def test_a_failed_rebuild_keeps_the_previous_bytes(planet: Planet) -> None:
    """When a rebuild fails the last good bytes stay served, and the next request retries."""
    start(planet.cache.fixed("/"))
    planet.store.run()
    planet.clock.advance(REBUILD_DELAY)
    planet.store.generation = 1
    planet.fail_next = True
    after_write = start(planet.cache.fixed("/"))
    planet.store.run()
    assert fired(after_write).body == b"generation 0"
    planet.clock.advance(REBUILD_DELAY)
    retry = start(planet.cache.fixed("/"))
    assert len(planet.store.pending) == 1
    planet.store.run()
    assert fired(retry).body == b"generation 1"


def test_unchanged_bytes_keep_their_last_modified(planet: Planet) -> None:
    """A rebuild that renders the same bytes keeps the old Last-Modified (and ETag); changed
    bytes get the clock's time, and the API's fixed documents revalidate every time."""
    start(planet.cache.fixed("/"))
    planet.store.run()
    before = fired(start(planet.cache.fixed("/api/feeds")))
    assert before.cache_control == "no-cache"
    planet.clock.advance(120)
    planet.store.generation = 1
    river = start(planet.cache.fixed("/"))
    planet.store.run()
    after = fired(start(planet.cache.fixed("/api/feeds")))
    assert after is before
    assert fired(river).last_modified.timestamp() == 1_800_000_120
    assert fired(river).cache_control == "public, max-age=60"


def test_parameterised_outputs_are_kept_per_generation_in_a_bounded_lru(
    planet: Planet,
) -> None:
    """An older page or API query is read once per store generation; the LRU keeps the
    most recently used ones up to its size; a missing resource (None) is not kept."""
    reads: list[str] = []

    def make(key: str) -> Callable[[Any, Any], Output | None]:
        def build(db: object, now: Any) -> Output | None:
            reads.append(key)
            return None if key == "missing" else Output(key.encode(), HTML)

        return build

    def get(key: str) -> Any:
        d = start(planet.cache.computed(key, make(key)))
        if planet.store.pending:
            planet.store.run()
        return fired(d)

    assert get("a").body == b"a"
    assert get("a").body == b"a"
    assert reads == ["a"]
    get("b")
    get("a")
    get("c")  # evicts b, the least recently used
    get("a")
    get("b")
    assert reads == ["a", "b", "c", "b"]
    assert get("missing") is None and get("missing") is None
    assert reads.count("missing") == 2
    planet.store.generation = 5
    get("a")
    assert reads[-1] == "a"


def test_rebuilds_are_coalesced_while_polls_land() -> None:
    """Under a busy poll (a write every 50 ms, requests every 10 ms) the pages are rebuilt
    at most once per rebuild_delay, every request is answered at once, and each write shows
    within two seconds."""
    planet = Planet(rebuild_delay=1.0)
    start(planet.cache.fixed("/"))
    planet.store.run()
    written_at: dict[int, float] = {}
    seen_at: dict[int, float] = {}
    for tick in range(1, 501):  # five seconds in steps of 10 ms
        planet.clock.advance(0.01)
        if tick % 5 == 0 and tick <= 400:
            planet.store.generation += 1
            written_at[planet.store.generation] = planet.clock.seconds()
        answer = start(planet.cache.fixed("/"))
        while planet.store.pending:  # a reader thread finishing its build at once
            planet.store.run()
        generation = int(fired(answer).body.split()[-1])
        seen_at.setdefault(generation, planet.clock.seconds())
    assert planet.builds <= 1 + 6, planet.builds
    for generation, when in written_at.items():
        shown = min(t for g, t in seen_at.items() if g >= generation)
        assert shown - when <= 2.0, (generation, shown - when)
    assert max(seen_at) == planet.store.generation


def test_a_change_waits_for_the_delay_even_with_no_request(planet: Planet) -> None:
    """A request that finds the outputs stale too soon gets the old bytes and arms one
    rebuild for when the delay is up; it runs then, with no further request."""
    start(planet.cache.fixed("/"))
    planet.store.run()
    planet.clock.advance(0.25)
    planet.store.generation = 1
    assert fired(start(planet.cache.fixed("/"))).body == b"generation 0"
    assert fired(start(planet.cache.fixed("/"))).body == b"generation 0"
    assert planet.store.pending == [] and len(planet.clock.getDelayedCalls()) == 1
    planet.clock.advance(REBUILD_DELAY - 0.25)
    assert len(planet.store.pending) == 1
    planet.store.run()
    assert fired(start(planet.cache.fixed("/"))).body == b"generation 1"
    assert planet.builds == 2


def test_a_read_after_a_quiet_spell_sees_the_write_at_once(planet: Planet) -> None:
    """When the last build is older than the delay, the request that finds the outputs
    stale waits for the rebuild: a client that writes, pauses and reads sees its write."""
    start(planet.cache.fixed("/"))
    planet.store.run()
    planet.clock.advance(REBUILD_DELAY + 5)
    planet.store.generation = 1
    reader = start(planet.cache.fixed("/"))
    assert pending(reader)
    planet.store.run()
    assert fired(reader).body == b"generation 1"


def test_stopping_cancels_an_armed_rebuild(planet: Planet) -> None:
    """Stopping the cache (before the store closes) leaves no rebuild timer behind."""
    start(planet.cache.fixed("/"))
    planet.store.run()
    planet.store.generation = 1
    start(planet.cache.fixed("/"))
    assert len(planet.clock.getDelayedCalls()) == 1
    planet.cache.stop()
    assert planet.clock.getDelayedCalls() == []
    planet.clock.advance(10)
    assert planet.store.pending == []


def test_without_a_delay_every_stale_request_waits_for_its_rebuild() -> None:
    """rebuild_delay=0 keeps the strict behaviour: a read right after a write sees it."""
    planet = Planet(rebuild_delay=0)
    start(planet.cache.fixed("/"))
    planet.store.run()
    planet.store.generation = 1
    reader = start(planet.cache.fixed("/"))
    assert pending(reader)
    planet.store.run()
    assert fired(reader).body == b"generation 1"


def test_the_first_request_after_the_first_render_sees_the_polls_since(planet: Planet) -> None:
    """The daemon renders once at start (refresh); polls then land, and the first request
    that finds the outputs stale rebuilds at once, however soon after the start it comes."""
    start_render = planet.cache.refresh()
    planet.store.run()
    assert fired(start_render) is None
    planet.clock.advance(0.1)
    planet.store.generation = 3
    reader = start(planet.cache.fixed("/"))
    assert pending(reader)
    planet.store.run()
    assert fired(reader).body == b"generation 3"
    planet.store.generation = 4
    assert fired(start(planet.cache.fixed("/"))).body == b"generation 3"
