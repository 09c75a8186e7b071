"""The poll loop taking a new config while it runs, and polling reading lists, on a Clock."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import attrs
from twisted.internet.defer import Deferred, succeed

from planetd.boundaries import FeedURL, ListedFeed, ReadingList
from planetd.config import parse_config
from planetd.reload import effective_config
from test_poller import START, Harness, body, harness_factory, ok

__all__ = ["harness_factory"]  # the fixture, imported for this module's tests

A, B, C = "https://a.example/feed", "https://b.example/feed", "https://c.example/feed"
LIST = "https://l.example/list.opml"


def reconfigure(h: Harness, urls: list[str], **planet: str) -> None:
    """Apply a config with ``urls`` as the daemon does: store first, then the poller."""
    settings = {"min_interval": "60s", "poll_interval": "1h", **planet}
    text = "[Planet]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
    text += "".join(f"[{url}]\nname = Feed {url}\n" for url in urls)
    config = parse_config(text, h.config.path)
    h.db.sync_feeds(config.feeds, h.poller.now())
    h.poller.reconfigure(config, h.db.feed_states())


def test_an_added_feed_is_polled_within_seconds(harness_factory) -> None:
    """A feed added by a reload is polled within seconds; the others keep their schedule."""
    h = harness_factory([A])
    for url in (A, B):
        h.fetcher.scripts[url] = [ok(body(2))]
    h.start()
    h.run_for(600, step=1)
    assert len(h.fetcher.times(A)) == 1
    reconfigure(h, [A, B])
    h.run_for(5, step=0.1)
    assert [t - 600 for t in h.fetcher.times(B)] < [2.0]
    assert len(h.fetcher.times(A)) == 1, "a reload does not poll an unchanged feed again"


def test_a_removed_feed_is_not_polled_again_and_keeps_its_entries(harness_factory) -> None:
    """A feed removed by a reload leaves the schedule; its entries stay in the store."""
    h = harness_factory([A, B])
    for url in (A, B):
        h.fetcher.scripts[url] = [ok(body(2))]
    h.start()
    h.run_for(10)
    reconfigure(h, [B])
    h.run_for(3 * 3600, step=30)
    assert len(h.fetcher.times(A)) == 1
    assert len(h.fetcher.times(B)) >= 3
    assert len(h.db.known_hashes(FeedURL(A))) == 2
    assert [s.url for s in h.db.feed_states()] == [B]


def test_a_feed_removed_while_polled_finishes_and_is_not_rescheduled(harness_factory) -> None:
    """An in-flight poll of a removed feed ends normally and the feed is not polled again;
    re-added later (its stored next poll long past), it is polled at once, then on its
    interval: never twice at the same time."""
    h = harness_factory([A])
    h.fetcher.scripts[A] = [None, ok(body(1))]
    h.start()
    h.run_for(2)
    assert len(h.fetcher.hanging) == 1
    reconfigure(h, [])
    h.fetcher.hanging[0].callback(ok(body(1)))
    h.run_for(3 * 3600, step=60)
    assert len(h.fetcher.times(A)) == 1
    re_added = h.clock.seconds() - START
    reconfigure(h, [A])
    h.run_for(2 * 3600, step=60)
    times = h.fetcher.times(A)
    assert times[1] - re_added <= 60
    assert all(later - earlier >= 0.9 * 3600 for earlier, later in pairwise(times[1:]))


def test_concurrency_from_a_reload_applies_to_the_next_dispatch(harness_factory) -> None:
    """A reloaded ``concurrency`` caps the polls started after it."""
    h = harness_factory([A])
    h.fetcher.scripts[A] = [ok(body(1))]
    for url in (B, C):
        h.fetcher.scripts[url] = [None]
    h.start()
    h.run_for(2)
    reconfigure(h, [A, B, C], concurrency="1")
    h.run_for(5, step=0.1)
    assert len(h.fetcher.hanging) == 1


def test_reading_lists_are_polled_on_their_schedule(tmp_path: Path, harness_factory) -> None:
    """A reading list is handed to ``on_list`` soon after the start, then again after the
    delay it answers; a list removed by a reload is not fetched again."""
    h = harness_factory([A])
    h.fetcher.scripts[A] = [ok(body(1))]
    text = f"[Planet]\nmin_interval = 60s\n[{A}]\n[{LIST}]\ncontent_type = opml\n"
    config = parse_config(text, h.config.path)
    fetched: list[float] = []

    def on_list(reading_list: ReadingList) -> Deferred[float | None]:
        assert reading_list.url == LIST
        fetched.append(h.clock.seconds() - START)
        return succeed(600.0)

    h.poller.use_config(config)
    h.poller.on_list = on_list
    h.start()
    h.run_for(1300, step=1)
    assert len(fetched) == 3
    assert fetched[0] <= 1.0
    assert 599 <= fetched[1] - fetched[0] <= 601
    h.poller.reconfigure(attrs.evolve(config, reading_lists=()), h.db.feed_states())
    h.run_for(3600, step=10)
    assert len(fetched) == 3


def test_listed_feeds_join_the_schedule(harness_factory) -> None:
    """Feeds a fetched list names are polled soon, named as the list says."""
    h = harness_factory([])
    h.fetcher.scripts[B] = [ok(body(2))]
    h.start()
    text = f"[Planet]\nmin_interval = 60s\n[{LIST}]\ncontent_type = opml\n"
    config = effective_config(
        parse_config(text, h.config.path), {FeedURL(LIST): (ListedFeed(B, "Bee"),)}
    )
    h.db.sync_feeds(config.feeds, h.poller.now())
    h.poller.reconfigure(config, h.db.feed_states())
    h.run_for(5, step=0.1)
    assert len(h.fetcher.times(B)) == 1
    assert h.db.feed_states()[0].name == "Bee"
