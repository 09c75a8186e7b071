"""The river's pure rules: dates, day groups, pages, filters, cursors, JSON shapes."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from builders import stored, utc
from planetd.boundaries import FeedState, FeedStatus, FeedURL, Hidden
from planetd.config import parse_config
from planetd.river import (
    CursorError,
    cut_page,
    decode_cursor,
    encode_cursor,
    feed_id,
    feed_views,
    format_date,
    group_by_day,
    is_inactive,
    judge_for,
    page_fetch_limit,
    relative_time,
    rfc3339,
    river_page,
    shown_name,
    shown_next_poll,
)
from planetd.shapes import entry_json, feed_json


def test_dates_format_as_planets_print_them() -> None:
    """The seed's formats: "04 Jul 2026" headings and "04 Jul 2026 12:00am GMT" times."""
    midnight = utc(2026, 7, 4, 0, 0)
    assert format_date(midnight, "%d %b %Y") == "04 Jul 2026"
    assert format_date(midnight, "%d %b %Y %I:%M%P %Z") == "04 Jul 2026 12:00am GMT"
    assert format_date(utc(2026, 7, 4, 13, 5), "%I:%M%P") == "01:05pm"
    assert (
        format_date(utc(2026, 7, 4, 13, 5), "%B %d, %Y %I:%M %p %Z") == "July 04, 2026 01:05 PM GMT"
    )


def test_rfc3339_is_utc_with_z() -> None:
    """JSON times are RFC 3339 in UTC with a Z, and absent ones stay null."""
    assert rfc3339(utc(2026, 7, 4)) == "2026-07-04T00:00:00Z"
    assert rfc3339(None) is None


def test_days_split_at_midnight_utc() -> None:
    """Entries either side of midnight UTC fall under two headings, newest day first."""
    entries = [
        stored(1, utc(2026, 7, 5, 0, 0, 1)),
        stored(2, utc(2026, 7, 4, 23, 59, 59)),
        stored(3, utc(2026, 7, 4, 0, 0)),
        stored(4, utc(2026, 7, 2, 12, 0)),
    ]
    days = group_by_day(entries, "%d %b %Y")
    assert [(d.heading, [e.title for e in d.entries]) for d in days] == [
        ("05 Jul 2026", ["Entry 1"]),
        ("04 Jul 2026", ["Entry 2", "Entry 3"]),
        ("02 Jul 2026", ["Entry 4"]),
    ]
    assert group_by_day([], "%d") == []


def test_page_is_cut_by_items_and_by_days() -> None:
    """items_per_page caps entries; days_per_page caps distinct days; 0 means no cap."""
    entries = [stored(n, utc(2026, 7, 10 - n // 2)) for n in range(10)]
    assert len(cut_page(entries, 4, 0)) == 4
    assert len(cut_page(entries, 0, 0)) == 10
    by_days = cut_page(entries, 100, 2)
    assert {e.published.day for e in by_days} == {10, 9}
    assert len(by_days) == 4
    assert cut_page(entries[:3], 10, 5) == entries[:3]


def test_filters_hide_by_feed() -> None:
    """A feed's `filter` keeps only matching entries, `exclude` hides matching ones."""
    config = parse_config(
        "[Planet]\nname = P\n"
        "[https://a.example/feed]\nfilter = python\n"
        "[https://b.example/feed]\nexclude = (?i)sponsored\n"
        "[https://c.example/feed]\n",
        "/tmp/planet.ini",
    )
    judge = judge_for(config)
    assert judge(FeedURL("https://a.example/feed"), "All about Python") is None
    assert judge(FeedURL("https://a.example/feed"), "Gardening") is Hidden.FILTER
    assert judge(FeedURL("https://b.example/feed"), "SPONSORED post") is Hidden.FILTER
    assert judge(FeedURL("https://b.example/feed"), "A real post") is None
    assert judge(FeedURL("https://c.example/feed"), "anything") is None


def test_planet_wide_filter_applies_to_every_feed() -> None:
    """A `[Planet]` exclude holds for every feed that sets none of its own."""
    config = parse_config("[Planet]\nexclude = spam\n[https://a.example/feed]\n", "/tmp/planet.ini")
    assert judge_for(config)(FeedURL("https://a.example/feed"), "spam spam") is Hidden.FILTER


def test_cursor_round_trips_and_rejects_garbage() -> None:
    """A cursor names the position after an entry; anything else is a clear error."""
    entry = stored(7, utc(2026, 7, 4, 12))
    assert decode_cursor(encode_cursor(entry)) == (entry.published.timestamp(), f"{7:024x}")
    for bad in ("garbage", "", "!!!", "bm9waXBl", "MXx4" * 40, "bmFufGlk"):
        with pytest.raises(CursorError):
            decode_cursor(bad)


def test_entry_json_has_the_interface_fields() -> None:
    """/api/entries entries carry exactly the fields INTERFACE.md names (hidden on request)."""
    shaped = entry_json(stored(1, utc(2026, 7, 4)))
    assert set(shaped) == {
        "id", "feed_url", "feed_name", "title", "link", "author",
        "published", "updated", "content_html",
    }  # fmt: skip
    assert shaped["published"] == "2026-07-04T00:00:00Z"
    hidden = entry_json(stored(1, utc(2026, 7, 4), hidden=Hidden.FLOOD), with_hidden=True)
    assert hidden["hidden"] == "flood"


def test_feed_json_and_inactivity() -> None:
    """/api/feeds shows health; a feed quiet past activity_threshold days is inactive."""
    now = utc(2026, 7, 4)
    state = FeedState(
        url=FeedURL("https://a.example/feed"),
        name="stored name",
        status=FeedStatus.OK,
        latest_entry_at=utc(2026, 1, 1),
        next_poll_at=utc(2026, 7, 4, 1),
    )
    shaped = feed_json(state, None, 30, now)
    assert shaped["name"] == "stored name"
    assert shaped["inactive"] is True
    assert shaped["next_poll_at"] == "2026-07-04T01:00:00Z"
    assert not is_inactive(state, None, now)
    assert not is_inactive(attrs.evolve(state, latest_entry_at=None), 30, now)
    gone = feed_json(attrs.evolve(state, status=FeedStatus.GONE), None, None, now)
    assert gone["next_poll_at"] is None
    assert gone["status"] == "gone"


RIVER_CONFIG = (
    "[Planet]\nname = P\nitems_per_page = 4\n[https://blog.example.org/feed]\nname = Jane\n"
)


def test_river_page_cuts_groups_and_points_to_the_older_page() -> None:
    """One builder makes every river page: items_per_page entries at most, grouped by day,
    and an older-page cursor exactly when more entries were fetched than the page shows."""
    config = parse_config(RIVER_CONFIG, "/tmp/planet.ini")
    fetched = [stored(n, utc(2026, 7, 10 - n // 2)) for n in range(page_fetch_limit(config))]
    assert len(fetched) == 5
    page = river_page([], fetched, config)
    assert [e.title for e in page.entries] == [f"Entry {n}" for n in range(4)]
    assert [d.heading for d in page.days] == ["10 Jul 2026", "09 Jul 2026"]
    assert page.older is not None
    assert decode_cursor(page.older) == (fetched[3].published.timestamp(), fetched[3].id)
    last = river_page([], fetched[:4], config)
    assert last.entries == page.entries and last.older is None
    assert river_page([], [], config).older is None


def test_days_per_page_cuts_the_river_but_not_a_feed_page() -> None:
    """days_per_page bounds a river page (the cursor then starts at the cut); a feed's own
    page holds its newest entries whatever their days."""
    config = parse_config(
        RIVER_CONFIG.replace("items_per_page = 4", "items_per_page = 4\ndays_per_page = 1"),
        "/tmp/planet.ini",
    )
    fetched = [stored(n, utc(2026, 7, 10 - n // 2)) for n in range(5)]
    page = river_page([], fetched, config)
    assert len(page.entries) == 2
    assert page.older is not None and decode_cursor(page.older)[1] == fetched[1].id
    feed_page = river_page([], fetched, config, cut_by_days=False)
    assert len(feed_page.entries) == 4


def test_a_gone_feed_has_no_next_poll_on_any_face() -> None:
    """A 410 feed is never polled again: the pages and /api/feeds both show no next poll,
    while a failing feed still shows when it is retried."""
    config = parse_config(RIVER_CONFIG, "/tmp/planet.ini")
    failing = FeedState(
        url=FeedURL("https://blog.example.org/feed"),
        name="stored name",
        status=FeedStatus.FAILING,
        next_poll_at=utc(2026, 7, 4, 1),
    )
    gone = attrs.evolve(failing, status=FeedStatus.GONE)
    assert shown_next_poll(failing) == utc(2026, 7, 4, 1)
    assert shown_next_poll(gone) is None
    now = utc(2026, 7, 4)
    [failing_view, gone_view] = feed_views([failing, gone], config, now)
    assert failing_view.next_poll_at == "2026-07-04 01:00 GMT"
    assert gone_view.next_poll_at is None
    assert feed_json(gone, config.feeds[0], None, now)["next_poll_at"] is None


def test_the_configured_name_wins_on_every_face() -> None:
    """A feed named in the config shows that name in the pages and the API; an unconfigured
    one (still stored) shows the name it gives itself."""
    config = parse_config(RIVER_CONFIG, "/tmp/planet.ini")
    named = FeedState(url=FeedURL("https://blog.example.org/feed"), name="Feed's own title")
    other = FeedState(url=FeedURL("https://other.example/feed"), name="Other's title")
    views = feed_views([named, other], config, utc(2026, 7, 4))
    assert [v.name for v in views] == ["Jane", "Other's title"]
    assert shown_name(named, config.feeds[0]) == "Jane"
    assert feed_json(named, config.feeds[0], None, utc(2026, 7, 4))["name"] == "Jane"
    assert views[0].id == feed_id("https://blog.example.org/feed")


@pytest.mark.parametrize(
    ("seconds", "says"),
    [
        (0, "just now"),
        (59, "just now"),
        (60, "1 min ago"),
        (12 * 60 + 59, "12 min ago"),
        (3599, "59 min ago"),
        (3600, "1 h ago"),
        (23 * 3600, "23 h ago"),
        (86400, "1 day ago"),
        (3 * 86400, "3 days ago"),
        (-30, "in under a minute"),
        (-5 * 60, "in 5 min"),
        (-2 * 3600, "in 2 h"),
        (-2 * 86400, "in 2 days"),
    ],
)
def test_times_on_the_health_page_read_relative(seconds: int, says: str) -> None:
    """The health page says "12 min ago" or "in 2 h" (whole units, rounded down), so dates
    no longer wrap over four lines; the exact time stays on hover."""
    now = utc(2026, 7, 4, 12, 0)
    assert relative_time(now - timedelta(seconds=seconds), now) == says


def test_times_older_than_a_month_are_dates() -> None:
    """Past a month "347 days ago" says less than the date itself."""
    now = utc(2026, 7, 4, 12, 0)
    assert relative_time(utc(2025, 3, 9), now) == "09 Mar 2025"
