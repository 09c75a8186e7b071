"""One planet's view of a shared store: its feeds, its names, its filters, its anti-flood."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import attrs
import pytest

from builders import feed_config, parsed, utc
from planetd.boundaries import (
    FeedConfig,
    FeedState,
    FeedStatus,
    Hidden,
    ParsedEntry,
    PlanetConfig,
    PollOutcome,
)
from planetd.planets import poll_config
from planetd.planetview import PlanetReads, flood_keeps
from planetd.river import judge_for
from planetd.search import parse_query
from planetd.store import Database, open_database

NOW = utc(2026, 7, 4, 12, 0)
SHARED_A = feed_config("https://shared.example/feed", name="Shared, as A names it")
SHARED_B = feed_config("https://shared.example/feed", name="Shared, as B names it")
ONLY_A = feed_config("https://a.example/feed", name="A's own")
ONLY_B = feed_config("https://b.example/feed", name="B's own")


def day(n: int) -> datetime:
    return utc(2026, 6, n, 12, 0)


def poll(db: Database, feed: FeedConfig, *entries: ParsedEntry, now: datetime = NOW) -> None:
    state = FeedState(url=feed.url, name=feed.name, status=FeedStatus.OK, last_polled_at=now)
    db.record_poll(feed, PollOutcome(state=state, entries=entries), now)


@pytest.fixture
def db() -> Iterator[Database]:
    database = open_database(":memory:")
    yield database
    database.close()


def planets(a_shared: FeedConfig = SHARED_A) -> tuple[PlanetConfig, PlanetConfig, PlanetConfig]:
    a = PlanetConfig(path="/a.ini", name="A", feeds=(a_shared, ONLY_A))
    b = PlanetConfig(path="/b.ini", name="B", feeds=(SHARED_B, ONLY_B), mount="/b/")
    return a, b, poll_config([a, b])


def view(db: Database, planet: PlanetConfig, merged: PlanetConfig) -> PlanetReads:
    return PlanetReads(db, planet, flood_keeps(planet, {f.url: f for f in merged.feeds}))


def test_each_planet_reads_only_its_feeds_under_its_own_names(db: Database) -> None:
    """A planet's river, feed list, counts and search hold its own feeds only, and a shared
    feed's entries carry the name that planet gives the feed."""
    a, b, merged = planets()
    db.sync_feeds(merged.feeds, NOW)
    poll(db, merged.feeds[0], parsed("s1", day(3), title="Shared words"))
    poll(db, ONLY_A, parsed("a1", day(2), title="Words of A"))
    poll(db, ONLY_B, parsed("b1", day(1), title="Words of B"))
    seen_a, seen_b = view(db, a, merged), view(db, b, merged)
    assert [(e.feed_name, e.key) for e in seen_a.entries(limit=10)] == [
        ("Shared, as A names it", "s1"),
        ("A's own", "a1"),
    ]
    assert [(e.feed_name, e.key) for e in seen_b.entries(limit=10)] == [
        ("Shared, as B names it", "s1"),
        ("B's own", "b1"),
    ]
    assert sorted(s.name for s in seen_b.feed_states()) == ["B's own", "Shared, as B names it"]
    assert seen_a.entries(limit=10, feed_url=ONLY_B.url) == []
    hits = seen_a.search(parse_query("words"), limit=10).hits
    assert sorted(h.entry.key for h in hits) == ["a1", "s1"]


def test_a_planets_filter_hides_only_in_that_planet(db: Database) -> None:
    """filter/exclude are each planet's own: A excluding a word leaves B's river whole."""
    a, b, merged = planets(attrs.evolve(SHARED_A, exclude="java"))
    db.sync_feeds(merged.feeds, NOW)
    poll(
        db, merged.feeds[0], parsed("py", day(2), text="python"), parsed("jv", day(1), text="java")
    )
    shown_a = view(db, a, merged).entries(limit=10, judge=judge_for(a))
    shown_b = view(db, b, merged).entries(limit=10, judge=judge_for(b))
    assert [e.key for e in shown_a] == ["py"]
    assert [e.key for e in shown_b] == ["py", "jv"]


def test_a_stricter_anti_flood_hides_in_that_planet_only(db: Database) -> None:
    """A feed A caps at new_feed_items = 1 and B leaves unlimited: the store keeps the
    whole first delivery shown (B's river has it all), while A shows its newest only, the
    rest hidden as 'flood' in A's hidden=1 view and counts; later entries show in both."""
    a, b, merged = planets(attrs.evolve(SHARED_A, new_feed_items=1))
    assert merged.feeds[0].new_feed_items is None
    db.sync_feeds(merged.feeds, NOW)
    poll(db, merged.feeds[0], *(parsed(f"d{n}", day(n)) for n in range(1, 5)))
    seen_a, seen_b = view(db, a, merged), view(db, b, merged)
    assert [e.key for e in seen_b.entries(limit=10)] == ["d4", "d3", "d2", "d1"]
    assert [e.key for e in seen_a.entries(limit=10)] == ["d4"]
    assert [(e.key, e.hidden) for e in seen_a.entries(limit=10, include_hidden=True)] == [
        ("d4", None),
        ("d3", Hidden.FLOOD),
        ("d2", Hidden.FLOOD),
        ("d1", Hidden.FLOOD),
    ]
    assert seen_a.hidden_counts() == {SHARED_A.url: {"flood": 3}}
    assert seen_b.hidden_counts() == {}
    poll(db, merged.feeds[0], parsed("d9", day(9)), now=NOW + timedelta(hours=1))
    assert [e.key for e in view(db, a, merged).entries(limit=10)] == ["d9", "d4"]
    assert [e.key for e in view(db, a, merged).entries(limit=1)] == ["d9"]


def test_removing_a_planet_keeps_the_other_planets_entries(db: Database) -> None:
    """Dropping planet B from the daemon deactivates B's own feeds only: the shared feed
    stays polled and shown in A, and B's entries are kept (back if B returns)."""
    a, b, merged = planets()
    db.sync_feeds(merged.feeds, NOW)
    poll(db, merged.feeds[0], parsed("s1", day(3)))
    poll(db, ONLY_B, parsed("b1", day(1)))
    alone = poll_config([a])
    db.sync_feeds(alone.feeds, NOW)
    assert [e.key for e in view(db, a, merged).entries(limit=10)] == ["s1"]
    db.sync_feeds(merged.feeds, NOW)
    assert [e.key for e in view(db, b, merged).entries(limit=10)] == ["s1", "b1"]


def test_a_post_another_planets_feed_brought_first_shows_in_this_planet(db: Database) -> None:
    """The same post in A's feed and B's feed is stored once shown (the first feed keeps
    it) and once hidden as a duplicate; B, which lacks the first feed, shows its own copy,
    and neither planet shows it twice or counts B's copy as hidden."""
    a = PlanetConfig(path="/a.ini", name="A", feeds=(ONLY_A,))
    b = PlanetConfig(path="/b.ini", name="B", feeds=(ONLY_B,), mount="/b/")
    both = PlanetConfig(path="/c.ini", name="C", feeds=(ONLY_A, ONLY_B), mount="/c/")
    merged = poll_config([a, b, both])
    db.sync_feeds(merged.feeds, NOW)
    poll(db, ONLY_A, parsed("tag:post", day(2), link="https://a.example/post"))
    poll(db, ONLY_B, parsed("tag:post", day(2), link="https://b.example/post"))
    assert [e.feed_url for e in db.entries(limit=10)] == [ONLY_A.url]
    assert [e.feed_url for e in view(db, b, merged).entries(limit=10)] == [ONLY_B.url]
    assert [e.feed_url for e in view(db, a, merged).entries(limit=10)] == [ONLY_A.url]
    assert [e.feed_url for e in view(db, both, merged).entries(limit=10)] == [ONLY_A.url]
    assert view(db, b, merged).hidden_counts() == {}
    assert view(db, both, merged).hidden_counts() == {ONLY_B.url: {"duplicate": 1}}
    hits = view(db, b, merged).search(parse_query("post"), limit=10).hits
    assert [h.entry.feed_url for h in hits] == [ONLY_B.url]
