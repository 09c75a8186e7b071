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
from planetd.outputs import OutputCache

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

    def __init__(self) -> None:
        self.store = HeldStore()
        self.clock = Clock()
        self.clock.advance(1_800_000_000)
        self.builds = 0
        self.fail_next = False
        self.cache = OutputCache(self.store, self.clock, self.build, kept=2)  # type: ignore[arg-type]
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
    planet.store.generation = 1
    planet.fail_next = True
    after_write = start(planet.cache.fixed("/"))
    planet.store.run()
    assert fired(after_write).body == b"generation 0"
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
