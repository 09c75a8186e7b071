"""Tests for the polling hints: Retry-After, caching headers, RSS ttl and sy:updatePeriod.

Each test names what a server or a feed may say and the seconds planetd reads
from it; what those seconds do to the schedule is tested in test_schedule.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planetd.hints import (
    parse_freshness,
    parse_http_date,
    parse_retry_after,
    parse_sy_period,
    parse_ttl_minutes,
    require_aware,
)

NOW = datetime(2026, 7, 4, 12, 0, 0, tzinfo=timezone.utc)
HOUR = 3600.0
DAY = 86400.0


def http_date(when: datetime) -> str:
    """``when`` as an HTTP date, the way servers send it."""
    return format_datetime(when, usegmt=True)


# Retry-After ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("  120 ", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-5", 0.0),
        ("abc", None),
        ("", None),
        ("12 apples", None),
        ("Mon, 32 Jan 2026 00:00:00 GMT", None),
        (None, None),
    ],
)
def test_retry_after_in_seconds(value: str | None, expected: float | None) -> None:
    """Retry-After in seconds is read as is; negative means now; garbage means no hint."""
    assert parse_retry_after(value, NOW) == expected


def test_retry_after_as_an_http_date() -> None:
    """Retry-After as an HTTP date is the seconds from now until that date."""
    assert parse_retry_after(http_date(NOW + timedelta(minutes=2)), NOW) == 120.0


def test_retry_after_in_the_past_means_now() -> None:
    """A Retry-After date already gone by allows a retry at once (0 s)."""
    assert parse_retry_after(http_date(NOW - timedelta(hours=1)), NOW) == 0.0


@pytest.mark.parametrize(
    "value",
    [
        "Saturday, 04-Jul-26 12:01:00 GMT",
        "Sat Jul  4 12:01:00 2026",
        "Sat, 04 Jul 2026 12:01:00 -0000",
    ],
)
def test_retry_after_in_the_obsolete_date_forms(value: str) -> None:
    """RFC 850 and asctime dates (which HTTP still allows) are read as GMT."""
    assert parse_retry_after(value, NOW) == 60.0


@given(
    wait=st.integers(min_value=0, max_value=10**7),
    now=st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.just(timezone.utc),
    ).map(lambda moment: moment.replace(microsecond=0)),
)
def test_retry_after_both_forms_agree(wait: int, now: datetime) -> None:
    """Retry-After: N and Retry-After: <now + N as an HTTP date> ask for the same wait."""
    as_date = http_date(now + timedelta(seconds=wait))
    assert parse_retry_after(str(wait), now) == parse_retry_after(as_date, now) == wait


# Freshness --------------------------------------------------------------------

FUTURE = http_date(NOW + timedelta(hours=2))


@pytest.mark.parametrize(
    ("cache_control", "expires", "date", "expected"),
    [
        ("max-age=600", None, None, 600.0),
        ("public, MAX-AGE=600, must-revalidate", None, None, 600.0),
        ('max-age="600"', None, None, 600.0),
        ("max-age=600", FUTURE, None, 600.0),
        ("max-age=0", FUTURE, None, 0.0),
        ("max-age=600, max-age=60", None, None, 600.0),
        ("s-maxage=86400", None, None, None),
        ("s-maxage=86400, max-age=60", None, None, 60.0),
        ("no-store, max-age=600", FUTURE, None, None),
        ("no-cache, max-age=600", FUTURE, None, None),
        ('no-cache="Set-Cookie, Vary", max-age=600', None, None, 600.0),
        ('private="a, b", max-age=600', None, None, 600.0),
        ("max-age=soon", FUTURE, None, 7200.0),
        ("max-age=-5", None, None, None),
        ("public", None, None, None),
        (None, FUTURE, None, 7200.0),
        (None, FUTURE, http_date(NOW - timedelta(hours=1)), 3 * 3600.0),
        (None, FUTURE, "not a date", 7200.0),
        (None, http_date(NOW - timedelta(hours=1)), None, 0.0),
        (None, "0", None, 0.0),
        (None, "-1", None, 0.0),
        (None, None, http_date(NOW), None),
        (None, None, None, None),
    ],
)
def test_freshness_from_caching_headers(
    cache_control: str | None, expires: str | None, date: str | None, expected: float | None
) -> None:
    """max-age wins over Expires; Expires counts from Date; no-store/no-cache give no hint;
    s-maxage (for CDNs) is ignored; an invalid Expires means already stale."""
    assert parse_freshness(cache_control, expires, date, NOW) == expected


# RSS hints --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ttl", "expected"),
    [
        ("60", 3600.0),
        (" 30 ", 1800.0),
        ("1.5", 90.0),
        ("0", 0.0),
        ("-1", None),
        ("abc", None),
        ("inf", None),
        ("", None),
        (None, None),
    ],
)
def test_rss_ttl_is_minutes(ttl: str | None, expected: float | None) -> None:
    """An RSS <ttl> counts minutes; anything that is not a number gives no hint."""
    assert parse_ttl_minutes(ttl) == expected


@pytest.mark.parametrize(
    ("period", "frequency", "expected"),
    [
        ("hourly", None, HOUR),
        ("daily", "2", DAY / 2),
        (" Weekly ", "1", 7 * DAY),
        ("monthly", None, 30 * DAY),
        ("yearly", "365", DAY),
        (None, "4", DAY / 4),
        (None, None, None),
        ("fortnightly", "1", None),
        ("daily", "0", None),
        ("daily", "-2", None),
        ("daily", "often", None),
    ],
)
def test_syndication_module_period_divided_by_frequency(
    period: str | None, frequency: str | None, expected: float | None
) -> None:
    """sy:updatePeriod (daily when absent) divided by sy:updateFrequency; garbage, no hint."""
    assert parse_sy_period(period, frequency) == expected


# HTTP dates and now ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "Sat, 04 Jul 2026 12:00:00 GMT",
        "Saturday, 04-Jul-26 12:00:00 GMT",
        "Sat Jul  4 12:00:00 2026",
        "Sat, 04 Jul 2026 12:00:00 -0000",
        "  Sat, 04 Jul 2026 14:00:00 +0200  ",
    ],
)
def test_every_http_date_form_reads_as_aware_utc(value: str) -> None:
    """IMF-fixdate, RFC 850, asctime, zone-less and offset dates all name the same aware
    instant (a date without a zone is GMT, as HTTP dates always are)."""
    parsed = parse_http_date(value)
    assert parsed is not None
    assert parsed.utcoffset() is not None
    assert parsed == NOW


@pytest.mark.parametrize("value", ["", "soon", "0", "Mon, 32 Jan 2026 00:00:00 GMT"])
def test_an_unreadable_http_date_is_none(value: str) -> None:
    """A date a server mangled is no date at all, never an exception."""
    assert parse_http_date(value) is None


def test_the_http_hints_refuse_a_naive_now() -> None:
    """Hints measured from now need an aware now: a naive one is a bug, not a guess."""
    naive = datetime(2026, 7, 4, 12, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        require_aware(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_retry_after("120", naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_freshness("max-age=60", None, None, naive)
