"""The configured feeds joined with their stored states, in the store's feed order."""

from __future__ import annotations

from builders import feed_config
from planetd.boundaries import FeedState, FeedStatus, FeedURL, PlanetConfig
from planetd.subscriptions import configured_states


def test_every_configured_feed_is_listed_and_only_those() -> None:
    """A feed added since the last poll shows as pending; one no longer configured is left out."""
    config = PlanetConfig(
        path="planet.ini",
        feeds=(
            feed_config("https://a.example.org/feed", name="Alpha"),
            feed_config("https://new.example.org/feed", name="Newcomer"),
        ),
    )
    polled = FeedState(
        url=FeedURL("https://a.example.org/feed"), name="Alpha", status=FeedStatus.OK
    )
    removed = FeedState(url=FeedURL("https://old.example.org/feed"), name="Old")
    states = configured_states(config, [removed, polled])
    assert states == [
        polled,
        FeedState(url=FeedURL("https://new.example.org/feed"), name="Newcomer"),
    ]
    assert states[1].status is FeedStatus.PENDING


def test_feeds_are_ordered_as_the_store_orders_them() -> None:
    """By configured name with ASCII case folded (SQLite's NOCASE), then by URL."""
    config = PlanetConfig(
        path="planet.ini",
        feeds=(
            feed_config("https://z.example.org/feed", name="beta"),
            feed_config("https://b.example.org/feed", name="Alpha"),
            feed_config("https://a.example.org/feed", name="alpha"),
            feed_config("https://c.example.org/feed", name="Émile"),
            feed_config("https://d.example.org/feed", name="Zed"),
        ),
    )
    # The store may know a feed under an older name: the configured name orders it.
    stored = [FeedState(url=FeedURL("https://d.example.org/feed"), name="Aardvark")]
    urls = [s.url for s in configured_states(config, stored)]
    assert urls == [
        "https://a.example.org/feed",
        "https://b.example.org/feed",
        "https://z.example.org/feed",
        "https://d.example.org/feed",
        # NOCASE folds ASCII only: "É" sorts by its UTF-8 bytes, after every ASCII letter.
        "https://c.example.org/feed",
    ]
