"""Choosing what a planet shows: feeds as pages show them, river pages, days, cursors.

Owns the river's rules that are not storage, each written once: which
entries a filter hides, how a page is cut (``items_per_page``,
``days_per_page``) and where the next one starts, how entries group under
day headings, how dates are formatted, and what a feed shows of itself (the
configured name wins, a gone feed has no next poll, a quiet feed is
inactive). :func:`river_page` is the one builder of a river page, used by
the first page, the older pages and each feed's page.

Pure functions over :mod:`planetd.boundaries` values, shared by the web app
and the command line. The JSON shapes built from these values live in
:mod:`planetd.shapes`, the HTML and XML in :mod:`planetd.render`. Must not
import Twisted, SQLite or Jinja2.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone

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
    Subscription,
)

#: How many entries a river page holds when ``items_per_page`` is 0 or unset.
DEFAULT_PAGE_ITEMS = 60


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


def shown_name(state: FeedState, config: FeedConfig | None) -> str:
    """A feed's name: the one the config gives it, else the one the feed gives itself."""
    return config.name if config is not None else state.name


def reading_list_of(config: FeedConfig | None) -> str | None:
    """The reading list a feed came from (its URL), or None for a feed section."""
    return config.reading_list if config is not None else None


def shown_next_poll(state: FeedState) -> datetime | None:
    """When the feed is polled next; a gone feed (HTTP 410) is never polled again."""
    return state.next_poll_at if state.status is not FeedStatus.GONE else None


def entry_uri(entry: StoredEntry) -> str:
    """A globally unique id for an entry in planetd's own feeds (Atom, RSS, JSON Feed)."""
    return f"urn:planetd:{entry.id}"


@attrs.frozen
class Moment:
    """A time as the health page shows it: relative, with the exact time beside it."""

    #: "12 min ago", "in 3 h": what a person reads first.
    relative: str
    #: "2026-07-04 09:30 GMT": shown on hover.
    exact: str
    #: RFC 3339, for the ``datetime`` attribute of ``<time>``.
    iso: str


def relative_time(moment: datetime, now: datetime) -> str:
    """``moment`` seen from ``now`` in a person's words: "just now", "12 min ago", "in 3 h",
    "2 days ago"; past a month, the date itself.

    Whole units, rounded down, so "59 min ago" never reads as "1 h ago" too soon.
    """
    seconds = (now - moment).total_seconds()
    ahead = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        return "in under a minute" if ahead else "just now"
    days = int(seconds // 86400)
    if days > 31:
        return format_date(moment, "%d %b %Y")
    if seconds < 3600:
        amount = f"{int(seconds // 60)} min"
    elif seconds < 86400:
        amount = f"{int(seconds // 3600)} h"
    else:
        amount = f"{days} day{'s' if days != 1 else ''}"
    return f"in {amount}" if ahead else f"{amount} ago"


def _moment(value: datetime | None, now: datetime) -> Moment | None:
    if value is None:
        return None
    return Moment(
        relative=relative_time(value, now),
        exact=format_date(value, _VIEW_TIME),
        iso=rfc3339(value) or "",
    )


@attrs.frozen
class FeedView:
    """A feed as the pages show it."""

    id: str
    url: str
    name: str
    link: str | None
    status: str
    inactive: bool
    http_status: int | None
    last_error: str | None
    last_polled_at: str | None
    last_success_at: str | None
    next_poll_at: str | None
    entry_count: int
    moved_to: str | None
    hidden: dict[str, int]
    last_polled: Moment | None = None
    last_success: Moment | None = None
    next_poll: Moment | None = None
    #: The reading list (its URL) the feed came from, or None.
    reading_list: str | None = None
    #: The feed's WebSub subscription state (``active``, ``denied``, ...), or None.
    push: str | None = None
    #: Which parser read the feed's last document, or None before the first.
    parser: str | None = None


def feed_id(url: str) -> str:
    """A short stable id for a feed's page, ``/feeds/<id>``."""
    return hashlib.blake2b(url.encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()


_VIEW_TIME = "%Y-%m-%d %H:%M GMT"


def _view_time(moment: datetime | None) -> str | None:
    return format_date(moment, _VIEW_TIME) if moment else None


def feed_views(
    states: Sequence[FeedState],
    config: PlanetConfig,
    now: datetime,
    hidden: Mapping[FeedURL, Mapping[str, int]] | None = None,
    websub: Mapping[FeedURL, Subscription] | None = None,
) -> list[FeedView]:
    """What the pages show of each feed, with the names the config gives them."""
    configured = {f.url: f for f in config.feeds}
    hidden = hidden or {}
    websub = websub or {}
    return [
        FeedView(
            id=feed_id(s.url),
            url=s.url,
            name=shown_name(s, configured.get(s.url)),
            link=s.link,
            status=s.status.value,
            inactive=is_inactive(s, config.activity_threshold, now),
            http_status=s.http_status,
            last_error=s.last_error,
            last_polled_at=_view_time(s.last_polled_at),
            last_success_at=_view_time(s.last_success_at),
            next_poll_at=_view_time(shown_next_poll(s)),
            entry_count=s.entry_count,
            moved_to=s.moved_to,
            hidden=dict(hidden.get(s.url, {})),
            last_polled=_moment(s.last_polled_at, now),
            last_success=_moment(s.last_success_at, now),
            next_poll=_moment(shown_next_poll(s), now),
            reading_list=reading_list_of(configured.get(s.url)),
            push=websub[s.url].state.value if s.url in websub else None,
            parser=s.parser,
        )
        for s in states
    ]


def page_items(config: PlanetConfig) -> int:
    """How many entries a river page holds (``items_per_page``, 60 when unset)."""
    return config.items_per_page or DEFAULT_PAGE_ITEMS


def page_fetch_limit(config: PlanetConfig) -> int:
    """How many entries to fetch for a river page: one more, to know if an older page exists."""
    return page_items(config) + 1


def next_cursor(page: Sequence[StoredEntry], fetched: Sequence[StoredEntry]) -> str | None:
    """The cursor of the page after ``page``, if ``fetched`` held more entries than it shows."""
    return encode_cursor(page[-1]) if page and len(fetched) > len(page) else None


@attrs.frozen
class RiverPage:
    """One river page: the feeds beside it, its entries by day, where the older page starts."""

    feeds: tuple[FeedView, ...]
    entries: tuple[StoredEntry, ...]
    days: tuple[Day, ...]
    #: The ``before`` cursor of the next (older) page, or None on the last page.
    older: str | None


def river_page(
    feeds: Sequence[FeedView],
    fetched: Sequence[StoredEntry],
    config: PlanetConfig,
    *,
    cut_by_days: bool = True,
) -> RiverPage:
    """The river page that ``fetched`` (at most :func:`page_fetch_limit` entries) makes.

    The page holds at most ``items_per_page`` entries spanning at most
    ``days_per_page`` days; ``older`` says where the next page starts when
    ``fetched`` had more. A feed's own page is not cut by days
    (``cut_by_days=False``).
    """
    page = cut_page(fetched, page_items(config), config.days_per_page if cut_by_days else 0)
    return RiverPage(
        feeds=tuple(feeds),
        entries=tuple(page),
        days=tuple(group_by_day(page, config.new_date_format)),
        older=next_cursor(page, fetched),
    )


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
