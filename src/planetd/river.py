"""Choosing and shaping what a planet shows: pages, day groups, JSON, cursors.

Owns the river's rules that are not storage: which entries a filter hides,
how a page is cut (``items_per_page``, ``days_per_page``), how entries group
under day headings, how dates are formatted, and the exact JSON shapes of
``/api/entries`` and ``/api/feeds``. Pure functions over
:mod:`planetd.boundaries` values, shared by the web app and the command line.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

import attrs

from planetd.boundaries import (
    FeedConfig,
    FeedState,
    FeedStatus,
    FeedURL,
    Hidden,
    Judge,
    PlanetConfig,
    StoredEntry,
)


@attrs.frozen
class Day:
    """The entries of one calendar day (UTC), under their heading."""

    date: datetime
    heading: str
    entries: tuple[StoredEntry, ...]


def format_date(moment: datetime, fmt: str) -> str:
    """``strftime`` in UTC, ``%Z`` as GMT (as planets always printed it), ``%P`` as am/pm."""
    utc = moment.astimezone(timezone.utc)
    ampm = utc.strftime("%p").lower()
    return ampm.join(utc.strftime(part.replace("%Z", "GMT")) for part in fmt.split("%P"))


def rfc3339(moment: datetime | None) -> str | None:
    """``2026-07-04T00:00:00Z``: the one time format of planetd's JSON."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def group_by_day(entries: Iterable[StoredEntry], heading_format: str) -> list[Day]:
    """Consecutive entries (newest first) grouped by their UTC day."""
    days: list[Day] = []
    current: list[StoredEntry] = []
    current_day: datetime | None = None
    for entry in entries:
        published = entry.published.astimezone(timezone.utc)
        day = published.replace(hour=0, minute=0, second=0, microsecond=0)
        if day != current_day:
            if current_day is not None:
                days.append(
                    Day(current_day, format_date(current_day, heading_format), tuple(current))
                )
            current, current_day = [], day
        current.append(entry)
    if current_day is not None:
        days.append(Day(current_day, format_date(current_day, heading_format), tuple(current)))
    return days


def cut_page(entries: Sequence[StoredEntry], items: int, days: int) -> list[StoredEntry]:
    """The first page: at most ``items`` entries spanning at most ``days`` days (0: no limit)."""
    page = list(entries[:items]) if items > 0 else list(entries)
    if days > 0:
        seen: list[date] = []
        for index, entry in enumerate(page):
            day = entry.published.astimezone(timezone.utc).date()
            if day not in seen:
                if len(seen) == days:
                    return page[:index]
                seen.append(day)
    return page


def judge_for(config: PlanetConfig) -> Judge:
    """The read-time filter: an entry matching ``exclude``, or not matching ``filter``, hides."""
    rules: dict[FeedURL, tuple[re.Pattern[str] | None, re.Pattern[str] | None]] = {}
    for feed in config.feeds:
        include = re.compile(feed.filter, re.IGNORECASE) if feed.filter else None
        exclude = re.compile(feed.exclude, re.IGNORECASE) if feed.exclude else None
        if include or exclude:
            rules[feed.url] = (include, exclude)

    def judge(url: FeedURL, text: str) -> Hidden | None:
        rule = rules.get(url)
        if rule is None:
            return None
        include, exclude = rule
        if include is not None and not include.search(text):
            return Hidden.FILTER
        if exclude is not None and exclude.search(text):
            return Hidden.FILTER
        return None

    return judge


def is_inactive(state: FeedState, threshold_days: int | None, now: datetime) -> bool:
    """A feed with no entry newer than ``activity_threshold`` days (and some entries)."""
    if not threshold_days or state.latest_entry_at is None:
        return False
    return now - state.latest_entry_at > timedelta(days=threshold_days)


def entry_json(entry: StoredEntry, *, with_hidden: bool = False) -> dict[str, Any]:
    """One entry in the ``/api/entries`` shape."""
    shaped: dict[str, Any] = {
        "id": entry.id,
        "feed_url": entry.feed_url,
        "feed_name": entry.feed_name,
        "title": entry.title,
        "link": entry.link,
        "author": entry.author,
        "published": rfc3339(entry.published),
        "updated": rfc3339(entry.updated),
        "content_html": entry.content_html,
    }
    if with_hidden:
        shaped["hidden"] = entry.hidden.value if entry.hidden else None
    return shaped


def feed_json(
    state: FeedState, config: FeedConfig | None, threshold_days: int | None, now: datetime
) -> dict[str, Any]:
    """One feed in the ``/api/feeds`` shape."""
    return {
        "url": state.url,
        "name": config.name if config else state.name,
        "link": state.link,
        "status": state.status.value,
        "http_status": state.http_status,
        "last_error": state.last_error,
        "last_polled_at": rfc3339(state.last_polled_at),
        "last_success_at": rfc3339(state.last_success_at),
        "next_poll_at": rfc3339(state.next_poll_at)
        if state.status is not FeedStatus.GONE
        else None,
        "entry_count": state.entry_count,
        "moved_to": state.moved_to,
        "consecutive_failures": state.consecutive_failures,
        "inactive": is_inactive(state, threshold_days, now),
    }


_ENTRY_ID = re.compile(r"[0-9a-f]{24}")


class CursorError(ValueError):
    """A ``before`` cursor that planetd did not make."""


def encode_cursor(entry: StoredEntry) -> str:
    """An opaque cursor naming the position just after ``entry``."""
    raw = f"{entry.published.timestamp()!r}|{entry.id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(text: str) -> tuple[float, str]:
    """The (published, id) position a cursor names; :class:`CursorError` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
        stamp, _, entry_id = raw.partition("|")
        value = float(stamp)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CursorError(f"not a cursor from this planet: {text[:60]!r}") from None
    if not _ENTRY_ID.fullmatch(entry_id) or value != value or abs(value) > 1e12:
        raise CursorError(f"not a cursor from this planet: {text[:60]!r}")
    return value, entry_id
