"""Tracking pixels and tracking parameters do not reach a reader (``strip_trackers``).

The rules (:mod:`planetd.trackers`) are checked alone, through the sanitizer, through both
parse paths, on a real FeedBurner feed of the realworld corpus, and through the config key
that turns them off.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus import CORPUS, need
from feeds import atom
from planet_harness import PlanetTestCase, reactor
from planetd.config import parse_config
from planetd.parse import parse_feed, parse_keeping_trackers, parse_with_feedparser
from planetd.reload import RESTART_KEYS
from planetd.sanitize import sanitize_html
from planetd.trackers import drop_styled_pixels, is_tracker_image, strip_tracking_parameters
from planetd.workers import ParsePool

BASE = "https://blog.example.org/post/1"
REALWORLD = CORPUS / "realworld" / "docs"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.example/a?utm_source=feed&utm_medium=rss", "https://x.example/a"),
        ("https://x.example/a?id=3&utm_campaign=c#top", "https://x.example/a?id=3#top"),
        ("https://x.example/a?UTM_Source=x&p=1", "https://x.example/a?p=1"),
        ("https://x.example/a?fbclid=1&gclid=2&mc_cid=3&mc_eid=4", "https://x.example/a"),
        ("https://x.example/a?id=3&name=utm", "https://x.example/a?id=3&name=utm"),
        ("https://x.example/a?q=a%20b;c", "https://x.example/a?q=a%20b;c"),
        ("https://x.example/a#utm_source=x", "https://x.example/a#utm_source=x"),
    ],
)
def test_tracking_parameters_are_stripped_and_the_rest_kept_byte_for_byte(
    url: str, expected: str
) -> None:
    """``utm_*`` and click ids (fbclid, gclid, Mailchimp's mc_cid/mc_eid) leave the query;
    other parameters, their order, encoding and the fragment stay as written."""
    assert strip_tracking_parameters(url) == expected


def test_tracker_images_are_known_by_host_and_path() -> None:
    """FeedBurner's /~r/ images, feedproxy and WordPress.com's stats pixels are trackers;
    other images on the same hosts, and lookalike hosts, are not."""
    assert is_tracker_image("https://feeds.feedburner.com/~r/blog/~4/abc")
    assert is_tracker_image("http://feedproxy.google.com/~r/blog/~4/abc")
    assert is_tracker_image("https://pixel.wp.com/g.gif?v=1")
    assert is_tracker_image("https://stats.wordpress.com/b.gif?host=x")
    assert not is_tracker_image("https://feeds.feedburner.com/blog")
    assert not is_tracker_image("https://pixel.wp.com.example/g.gif")
    assert not is_tracker_image("https://blog.example.org/pixel.wp.com/g.gif")


@pytest.mark.parametrize(
    "image",
    [
        '<img src="https://t.example/p.gif" width="1" height="1">',
        '<img src="https://t.example/p.gif" height="1" width="1" alt=""/>',
        '<img src="https://t.example/p.gif" width="0" height="0">',
        '<img src="https://t.example/p.gif" width="1">',
        '<img src="https://t.example/p.gif" width="0" height="300">',
        '<img src="https://t.example/p.gif" style="width:1px;height:1px">',
        "<img src='https://t.example/p.gif' style='height: 0 !important'>",
        '<img src="https://t.example/p.gif" style="display: none">',
        '<img src="//feeds.feedburner.com/~r/cre-podcast/~4/8l3cmSSJErA" alt="">',
        '<img src="https://stats.wordpress.com/b.gif?host=x&amp;blog=1">',
    ],
)
def test_the_sanitizer_drops_tracking_images(image: str) -> None:
    """1x1 or 0-sized images (by attribute or by style), hidden ones, and images from tracker hosts
    are dropped; the article around them stays, and the result is still a fixed point."""
    clean = sanitize_html(f"<p>Read on.{image}</p>", BASE)
    assert clean == "<p>Read on.</p>"
    assert sanitize_html(clean, BASE) == clean


def test_the_sanitizer_keeps_real_images_and_strips_link_parameters() -> None:
    """A real image keeps its size (a 10x1 divider is not a pixel); a link loses utm_*
    but keeps its other parameters, escaped as the sanitizer escapes them; sanitizing
    again changes nothing."""
    source = (
        '<p><img src="/a.png" width="10" height="1" style="width:100px">'
        '<a href="https://x.example/p?id=1&amp;utm_source=rss&amp;utm_medium=feed">x</a>'
        '<a href="https://x.example/q?utm_source=rss">y</a></p>'
    )
    clean = sanitize_html(source, BASE)
    assert clean == (
        '<p><img src="https://blog.example.org/a.png" width="10" height="1">'
        '<a href="https://x.example/p?id=1" rel="noopener noreferrer">x</a>'
        '<a href="https://x.example/q" rel="noopener noreferrer">y</a></p>'
    )
    assert sanitize_html(clean, BASE) == clean


def test_with_strip_trackers_off_the_sanitizer_keeps_them() -> None:
    """``strip_trackers=False`` is the sanitizer as before: the pixel and utm_* stay."""
    source = '<p><img src="https://t.example/p.gif" width="1" height="1"><a href="https://x.example/?utm_source=a">x</a></p>'
    clean = sanitize_html(source, BASE, strip_trackers=False)
    assert 'width="1"' in clean and "utm_source=a" in clean


def test_styled_pixels_are_found_in_untrusted_markup_only_when_sure() -> None:
    """The pre-pass removes an img whose style makes it 1x1 or hidden, and nothing else."""
    assert drop_styled_pixels('a<img style="width:1px" src=x>b') == "ab"
    kept = 'a<img style="width:10px" src=x><p style="display:none">b</p>'
    assert drop_styled_pixels(kept) == kept


FEED_ITEMS = [
    (
        "tag:t,2026:1",
        "Tracked",
        "2026-07-04T00:00:00Z",
        '<p>Post<img src="https://feeds.feedburner.com/~r/b/~4/x" height="1" width="1"></p>',
    )
]


@pytest.mark.parametrize("reader", [parse_feed, parse_with_feedparser])
def test_both_parse_paths_strip_the_pixel_and_the_entry_link_parameters(reader: object) -> None:
    """The fast path and feedparser both drop the pixel from content and utm_* from the
    entry's link; the entry's identity (its key) is unchanged by the stripping."""
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Tracked blog</title><link>https://t.example/</link>
<description>d</description><item><title>Tracked</title>
<link>https://t.example/p?utm_source=feedburner&amp;utm_medium=feed</link>
<pubDate>Sat, 04 Jul 2026 00:00:00 GMT</pubDate>
<description>&lt;p&gt;Post&lt;img src="https://feeds.feedburner.com/~r/b/~4/x" height="1"
 width="1"&gt;&lt;/p&gt;</description></item></channel></rss>"""
    parsed = reader(body, "https://t.example/feed", None, {})  # type: ignore[operator]
    (entry,) = parsed.entries
    assert entry.link == "https://t.example/p"
    assert entry.content_html == "<p>Post</p>"
    assert entry.key == "https://t.example/p?utm_source=feedburner&utm_medium=feed"
    kept = parse_keeping_trackers(body, "https://t.example/feed", None, {})
    assert "feedburner.com/~r/" in kept.entries[0].content_html
    assert kept.entries[0].link == "https://t.example/p?utm_source=feedburner&utm_medium=feed"


def test_atom_entries_lose_the_pixel_on_both_paths() -> None:
    """An Atom document read by the fast path and by feedparser gives the same clean entry."""
    body = atom("Tracked", "https://t.example/", FEED_ITEMS).encode()
    fast = parse_feed(body, "https://t.example/feed", None, {})
    slow = parse_with_feedparser(body, "https://t.example/feed", None, {})
    assert fast.entries[0].content_html == slow.entries[0].content_html == "<p>Post</p>"


def test_a_real_feedburner_feed_loses_its_pixels() -> None:
    """Realworld doc 0186 (a FeedBurner podcast feed) carries a 1x1 /~r/ image in every
    entry; none reaches the stored content, and the rest of each entry is kept."""
    body = need(REALWORLD / "0186.xml").read_bytes()
    assert b"feeds.feedburner.com/~r/" in body
    parsed = parse_feed(body, "https://cre.example/feed", None, {})
    assert parsed.entries
    for entry in parsed.entries:
        assert "feedburner.com/~r/" not in entry.content_html
    kept = parse_keeping_trackers(body, "https://cre.example/feed", None, {})
    assert any("feedburner.com/~r/" in e.content_html for e in kept.entries)


def test_strip_trackers_is_a_planet_key_on_by_default(tmp_path: Path) -> None:
    """``strip_trackers`` defaults to on; ``no`` turns it off; it applies at the next start."""
    path = str(tmp_path / "planet.ini")
    assert parse_config("[Planet]\nname = P\n", path).strip_trackers is True
    off = parse_config("[Planet]\nname = P\nstrip_trackers = no\n", path)
    assert off.strip_trackers is False and "strip_trackers" not in off.unknown
    assert "strip_trackers" in RESTART_KEYS


class PoolTests(PlanetTestCase):
    """The parse pool applies the planet's ``strip_trackers`` in its workers."""

    async def test_the_pool_keeps_trackers_only_when_told(self) -> None:
        """A pool built with ``strip_trackers=False`` (``strip_trackers = no``) keeps the
        pixel; the default pool drops it."""
        body = atom("Tracked", "https://t.example/", FEED_ITEMS).encode()
        keeping = ParsePool(reactor, workers=1, strip_trackers=False)
        self.addCleanup(keeping.stop)
        stripping = ParsePool(reactor, workers=1)
        self.addCleanup(stripping.stop)
        kept = await keeping.parse(body, "https://t.example/feed", None, {})
        assert "feedburner.com/~r/" in kept.entries[0].content_html
        clean = await stripping.parse(body, "https://t.example/feed", None, {})
        assert clean.entries[0].content_html == "<p>Post</p>"


def test_the_style_pre_pass_stays_linear_on_hostile_markup() -> None:
    """An unterminated img tag full of style attributes is scanned in bounded time (the
    pattern's repetitions are capped), so a feed cannot stall its worker with it."""
    import time as clock

    hostile = "<img" + ' style="width:5px' * 20_000
    started = clock.perf_counter()
    assert drop_styled_pixels(hostile) == hostile
    assert clock.perf_counter() - started < 2.0
