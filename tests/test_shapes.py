"""The JSON documents planetd serves: their exact shapes, side by side."""

from __future__ import annotations

import json

from builders import stored, utc
from planetd.boundaries import FeedState, FeedStatus, FeedURL, Hidden
from planetd.config import parse_config
from planetd.shapes import (
    dump_json,
    entries_document,
    feeds_document,
    json_feed_document,
)

CONFIG = (
    "[Planet]\nname = Planet P\nlink = https://planet.example/\nowner_name = Owner\n"
    "[https://blog.example.org/feed]\nname = Jane\n"
)


def test_entries_document_pages_by_next() -> None:
    """/api/entries is {"entries": [...], "next": cursor or null}; `hidden` only when asked."""
    entries = [stored(1, utc(2026, 7, 4)), stored(2, utc(2026, 7, 3), hidden=Hidden.FLOOD)]
    document = json.loads(entries_document(entries, "abc"))
    assert list(document) == ["entries", "next"]
    assert document["next"] == "abc"
    assert "hidden" not in document["entries"][0]
    shown = json.loads(entries_document(entries, None, with_hidden=True))
    assert [e["hidden"] for e in shown["entries"]] == [None, "flood"]
    assert shown["next"] is None


def test_feeds_document_keeps_the_store_order_and_the_configured_name() -> None:
    """/api/feeds lists every stored feed in the order given, named as the config names it."""
    config = parse_config(CONFIG, "/tmp/planet.ini")
    states = [
        FeedState(url=FeedURL("https://z.example/feed"), name="Zed", status=FeedStatus.OK),
        FeedState(url=FeedURL("https://blog.example.org/feed"), name="Title"),
    ]
    feeds = json.loads(feeds_document(states, config, utc(2026, 7, 4)))["feeds"]
    assert [(f["url"], f["name"], f["status"]) for f in feeds] == [
        ("https://z.example/feed", "Zed", "ok"),
        ("https://blog.example.org/feed", "Jane", "pending"),
    ]


def test_json_feed_document_is_json_feed_1_1() -> None:
    """/feed.json: version, title, feed_url, items with urn ids; home page and authors
    from the config; planetd's own fields under _planetd; optional fields only when set."""
    config = parse_config(CONFIG, "/tmp/planet.ini")
    entries = [
        stored(1, utc(2026, 7, 4), updated=utc(2026, 7, 5)),
        stored(2, utc(2026, 7, 3), link=None, author=None),
    ]
    document = json.loads(json_feed_document(config, entries, "https://planet.example/feed.json"))
    assert list(document) == [
        "version", "title", "feed_url", "items", "home_page_url", "authors",
    ]  # fmt: skip
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["authors"] == [{"name": "Owner"}]
    first, second = document["items"]
    assert first["id"] == f"urn:planetd:{1:024x}"
    assert first["date_modified"] == "2026-07-05T00:00:00Z"
    assert first["_planetd"]["feed_url"] == "https://blog.example.org/feed"
    assert {"url", "authors", "date_modified"}.isdisjoint(second)


def test_json_never_carries_lone_surrogates() -> None:
    """A broken feed's lone surrogate is replaced, so every document is valid UTF-8."""
    assert dump_json({"t": "a\ud800b"}).decode("utf-8") == '{"t":"a?b"}'
