"""Real-world dates: forms feedparser misses are read, impossible dates are no dates.

The handler (:mod:`planetd.dates`) is checked alone, through feedparser's own date
parser, through both parse paths (which must agree), and on the realworld corpus feeds
that carried such dates (a Portuguese news feed, a ``GMT-8`` blog, a Hugo site's
``0001`` page dates).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from feedparser.datetimes import _parse_date

from corpus import CORPUS, need
from planetd.entryrules import to_datetime
from planetd.parse import parse_feed, parse_with_feedparser

REALWORLD = CORPUS / "realworld" / "docs"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Seg, 24 Set 2018 19:42:40 -0300", utc(2018, 9, 24, 22, 42, 40)),  # Portuguese
        ("Sáb, 06 Out 2018 08:00:00 -0300", utc(2018, 10, 6, 11, 0, 0)),
        ("Qua, 05 Dez 2018 12:00:00 GMT", utc(2018, 12, 5, 12, 0, 0)),
        ("Mié, 15 Ene 2020 08:00:00 GMT", utc(2020, 1, 15, 8, 0, 0)),  # Spanish
        ("lun., 3 févr. 2020 10:00:00 +0100", utc(2020, 2, 3, 9, 0, 0)),  # French
        ("Mi, 04 Mär 2020 10:00:00 +0100", utc(2020, 3, 4, 9, 0, 0)),  # German
        ("Mon, 20 Jul 2015 11:00:00 GMT-8", utc(2015, 7, 20, 19, 0, 0)),  # named offsets
        ("Tue, 10 Jun 2003 04:00:00 UTC+5:30", utc(2003, 6, 9, 22, 30, 0)),
    ],
)
def test_real_world_forms_are_read(text: str, expected: datetime) -> None:
    """Foreign day and month names and ``GMT-8``-style zones become the right UTC time,
    through feedparser's own date parser (the handler is registered by the parse modules)."""
    import planetd.parse  # noqa: F401 -- registers the handler, as a worker does

    assert to_datetime(_parse_date(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Sat, 04 Jul 2026 00:00:00 GMT",
        "2026-07-04T00:00:00Z",
        "Tue, 10 Jun 2003 04:00:00 PST",
        "Thu, 01 Jan 1970 00:00:00 GMT",
    ],
)
def test_forms_feedparser_reads_are_left_to_it(text: str) -> None:
    """The handler declines what feedparser reads itself, so those dates do not change."""
    from planetd.dates import parse_localized_rfc822

    assert parse_localized_rfc822(text) is None


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Mon, 01 Jan 0001 00:00:00 +0000", False),  # Hugo's "no date"
        ("1970-01-01T00:00:00Z", False),  # a zero Unix time
        ("1989-12-31T23:59:59Z", False),
        ("1990-01-01T00:00:00Z", True),
        ("2099-12-31T23:59:59Z", True),
        ("2100-01-01T00:00:00Z", False),
        ("2999-01-01T00:00:00Z", False),
    ],
)
def test_impossible_dates_are_no_dates(text: str, kept: bool) -> None:
    """Dates before 1990 or from 2100 on are treated as missing; the bounds are inclusive
    of 1990-01-01 and exclusive of 2100-01-01."""
    parsed = _parse_date(text)
    assert isinstance(parsed, time.struct_time)
    assert (to_datetime(parsed) is not None) is kept


def both(body: bytes, url: str) -> tuple[list[object], list[object]]:
    fast = parse_feed(body, url, None, {})
    slow = parse_with_feedparser(body, url, None, {})
    return [e.published for e in fast.entries], [e.published for e in slow.entries]


def test_both_parse_paths_read_a_portuguese_rss_date_alike() -> None:
    """An RSS item dated in Portuguese is dated by the fast path and by feedparser, alike."""
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Noticias</title><link>https://n.example/</link>
<description>d</description><item><title>Uma</title><link>https://n.example/1</link>
<pubDate>Seg, 24 Set 2018 19:42:40 -0300</pubDate><description>x</description></item>
<item><title>Duas</title><link>https://n.example/2</link>
<pubDate>Mon, 01 Jan 0001 00:00:00 +0000</pubDate><description>y</description></item>
</channel></rss>"""
    fast, slow = both(body, "https://n.example/feed")
    assert fast == slow == [utc(2018, 9, 24, 22, 42, 40), None]
    assert parse_feed(body, "https://n.example/feed", None, {}).parser != "feedparser"


@pytest.mark.parametrize(
    ("name", "dated"),
    [("0323.xml", 15), ("0242.xml", 4), ("0062.xml", 3)],
)
def test_realworld_feeds_that_had_no_usable_dates(name: str, dated: int) -> None:
    """The Portuguese news feed (0323, 15 items) and the GMT-8 blog (0242, 4 items) are
    dated in full; the Hugo site's page dated ``0001`` (0062, one of 4 items) is undated."""
    body = need(REALWORLD / name).read_bytes()
    parsed = parse_feed(body, "https://realworld.example/feed", None, {})
    published = [e.published for e in parsed.entries]
    assert sum(p is not None for p in published) == dated
    assert all(p is None or p.year >= 2000 for p in published)
