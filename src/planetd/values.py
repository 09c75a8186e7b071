"""The values that cross between planetd's parts: frozen, plain, comparable.

Configuration becomes a :class:`PlanetConfig`; the fetcher turns a
:class:`FeedConfig` plus stored :class:`Validators` into a
:class:`FetchResult`; a parse worker turns the body into a :class:`ParsedFeed`
of :class:`ParsedEntry` values; the store keeps :class:`FeedState` and
:class:`StoredEntry` rows; a poll ends as a :class:`PollReport`. Every value is
frozen and plain, so it can cross a thread or process boundary and be compared
in a test. :mod:`planetd.boundaries` names the seams these values cross, and
re-exports every name here: import them from there. The values that later
capabilities add (search, groups, several planets, submissions, push, claims)
are in :mod:`planetd.featurevalues`, which builds on these.

No logic, and nothing but the standard library and attrs: the plugin, the
pure core and the worker processes all import it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import NewType

import attrs

#: A feed's identity: the URL exactly as configured (``https:``, ``http:`` or ``file:``).
FeedURL = NewType("FeedURL", str)

#: An entry's identity within its feed: its id/guid, else its link, else a content hash.
EntryKey = NewType("EntryKey", str)

#: The opaque, stable id that the JSON API shows for an entry.
EntryID = NewType("EntryID", str)


class FeedStatus(str, enum.Enum):
    """A feed's health as ``/api/feeds`` names it."""

    PENDING = "pending"
    OK = "ok"
    FAILING = "failing"
    GONE = "gone"


class FutureDates(str, enum.Enum):
    """Venus's ``future_dates`` policy for entries dated after they were seen."""

    KEEP = "keep"
    IGNORE_DATE = "ignore_date"
    IGNORE_ENTRY = "ignore_entry"
    CLAMP = "clamp"


class Hidden(str, enum.Enum):
    """Why the river leaves out an entry that the store keeps."""

    FLOOD = "flood"
    FILTER = "filter"
    DUPLICATE = "duplicate"
    FUTURE = "future"


@attrs.frozen
class FeedConfig:
    """One feed section of the config, with planet-wide defaults applied."""

    url: FeedURL
    name: str
    poll_interval: float
    feed_timeout: float
    max_feed_bytes: int
    filter: str | None = None
    exclude: str | None = None
    future_dates: FutureDates = FutureDates.CLAMP
    new_feed_items: int | None = None
    cache_keep_entries: int | None = None
    #: Every key of the section as written, for templates that want more (face, ...).
    extra: Mapping[str, str] = attrs.field(factory=dict)
    #: Planet's face: a file name in ``faces_dir`` or an http(s) URL, shown beside the source.
    face: str | None = None
    #: The face's width and height in pixels, as the ``<img>`` attributes say them.
    facewidth: int | None = None
    faceheight: int | None = None
    #: The reading list (its URL) this feed came from, or None for a feed section.
    reading_list: FeedURL | None = None
    #: The names of the groups the feed is in (its ``group`` key), as written.
    groups: tuple[str, ...] = ()


@attrs.frozen
class PlanetConfig:
    """The ``[Planet]`` section and every feed section, parsed and checked."""

    path: str
    name: str = "Planet"
    link: str = ""
    owner_name: str = ""
    owner_email: str = ""
    items_per_page: int = 60
    days_per_page: int = 0
    date_format: str = "%d %b %Y %I:%M%P %Z"
    new_date_format: str = "%d %b %Y"
    new_feed_items: int | None = None
    activity_threshold: int | None = None
    cache_keep_entries: int | None = None
    poll_interval: float = 3600.0
    min_interval: float = 300.0
    max_interval: float = 86400.0
    feed_timeout: float = 30.0
    max_feed_bytes: int = 10 * 1024 * 1024
    concurrency: int = 20
    per_host_concurrency: int = 2
    filter: str | None = None
    exclude: str | None = None
    future_dates: FutureDates = FutureDates.CLAMP
    listen: tuple[str, ...] = ()
    #: Log one line per HTTP request (off: a reverse proxy usually keeps that log).
    access_log: bool = False
    database: str = ""
    template_dir: str | None = None
    #: The folder of the feeds' face files (default ``faces`` beside the config).
    faces_dir: str = ""
    #: A server endpoint that serves ``/metrics`` alone (then the public listener does not).
    metrics_listen: str | None = None
    #: Serve ``/metrics`` on the public listener to any client, not only loopback ones.
    metrics_public: bool = False
    #: Seconds a daemon's claim of a feed lasts (PostgreSQL, several daemons) if it dies.
    lease_timeout: float = 120.0
    feeds: tuple[FeedConfig, ...] = ()
    #: ``(key, reason)`` for keys that are read but have no effect in planetd.
    ignored: tuple[tuple[str, str], ...] = ()
    #: Keys that planetd does not know at all (reported, never fatal).
    unknown: tuple[str, ...] = ()
    #: Feed sections with ``content_type = opml`` (or ``foaf``): subscription lists.
    reading_lists: tuple[ReadingList, ...] = ()
    #: The ``[group:SLUG]`` sections, in file order (see :mod:`planetd.groups`).
    groups: tuple[GroupSection, ...] = ()
    #: Several planets: the path prefix this planet is served under (``/python/``), if set.
    mount: str | None = None
    #: Several planets: the Host header value this planet answers, if set.
    host: str | None = None
    #: Several planets: whether it is also served at ``/`` (None: the first planet is).
    root: bool | None = None
    #: Several planets: in the one config the poller runs, the planets it merges (in order).
    planets: tuple[PlanetConfig, ...] = ()
    # Submissions (``/submit``, ``/moderate``): off unless ``submissions = yes``.
    #: Let the public suggest feeds at ``/submit`` (moderated before they are polled).
    submissions: bool = False
    #: Accept suggested feeds on loopback, private, link-local and other non-public addresses.
    allow_private_feeds: bool = False
    #: The secret that opens ``/moderate`` (None: no moderation page at all).
    moderation_token: str | None = None
    #: Where the world reaches this daemon (WebSub callbacks are under it); None: no push.
    public_url: str | None = None
    #: ``websub = no`` turns push off even with a ``public_url``.
    websub: bool = True
    #: Seconds of lease asked of a WebSub hub (``hub.lease_seconds``).
    websub_lease: float = 10 * 86400.0
    # -- live river (``/events``) --
    #: Most ``/events`` streams open at once; one more is answered 503 with Retry-After.
    max_event_streams: int = 1000
    #: Seconds between two heartbeat comments on every open ``/events`` stream.
    event_heartbeat: float = 15.0
    #: Drop tracking images and links' tracking parameters (:mod:`planetd.trackers`).
    strip_trackers: bool = True


@attrs.frozen
class Validators:
    """What the last good response said, so the next request can be conditional."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


class FetchKind(str, enum.Enum):
    """How one HTTP (or file) fetch ended."""

    OK = "ok"
    NOT_MODIFIED = "not_modified"
    FAILED = "failed"
    GONE = "gone"
    THROTTLED = "throttled"


@attrs.frozen
class FetchResult:
    """One fetch, as data: the fetcher never raises for a feed's own misbehaviour."""

    kind: FetchKind
    http_status: int | None = None
    body: bytes | None = None
    content_type: str | None = None
    validators: Validators = Validators()
    #: The URL the body came from after every redirect.
    final_url: str | None = None
    #: Where a chain of permanent redirects (301/308) leads, if it does.
    moved_to: str | None = None
    error: str | None = None
    #: Seconds the server asked us to wait (Retry-After), if it did.
    retry_after: float | None = None
    #: Seconds the server says the body stays fresh (Cache-Control max-age or Expires).
    fresh_for: float | None = None
    elapsed: float = 0.0
    #: The WebSub hub and self URLs the response's ``Link`` headers named, if any.
    hub: str | None = None
    self_url: str | None = None
    #: True for a document a WebSub hub pushed (no fetch happened).
    pushed: bool = False


@attrs.frozen
class ParsedEntry:
    """One entry as the parse worker hands it over: normalized and sanitized."""

    key: EntryKey
    #: Hash of the raw entry as the feed sent it: unchanged hash means nothing to redo.
    raw_hash: str
    title: str = ""
    link: str | None = None
    author: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    content_html: str = ""
    #: Text for ``filter``/``exclude``: title and content with tags removed.
    text: str = ""
    #: False when the entry was already stored with this raw hash: nothing was sanitized.
    changed: bool = True


@attrs.frozen
class ParsedFeed:
    """A parsed body: the feed's own metadata and its entries, in document order."""

    title: str = ""
    link: str | None = None
    entries: tuple[ParsedEntry, ...] = ()
    #: Seconds the feed says it may be cached (RSS ttl, sy:updatePeriod).
    ttl: float | None = None
    #: Why the document is not usable as a feed, if it is not.
    error: str | None = None
    #: A recoverable problem feedparser reported (bozo), kept for the operator.
    warning: str | None = None
    #: Which parser read the document: "feedparser", or the fast path's name.
    parser: str = "feedparser"
    #: The WebSub hub and self URLs the document's ``atom:link`` elements named, if any.
    hub: str | None = None
    self_url: str | None = None


@attrs.frozen
class FeedState:
    """A feed as the store keeps it between polls and across restarts."""

    url: FeedURL
    name: str
    link: str | None = None
    title: str | None = None
    status: FeedStatus = FeedStatus.PENDING
    http_status: int | None = None
    last_error: str | None = None
    last_polled_at: datetime | None = None
    last_success_at: datetime | None = None
    next_poll_at: datetime | None = None
    consecutive_failures: int = 0
    validators: Validators = Validators()
    moved_to: str | None = None
    subscribed_at: datetime | None = None
    entry_count: int = 0
    latest_entry_at: datetime | None = None
    #: Which parser read the feed's last document (``ParsedFeed.parser``); None before one.
    parser: str | None = None


@attrs.frozen
class StoredEntry:
    """An entry as the store keeps it, joined with what the river needs of its feed."""

    id: EntryID
    feed_url: FeedURL
    key: EntryKey
    title: str
    link: str | None
    author: str | None
    published: datetime
    updated: datetime | None
    first_seen: datetime
    content_html: str
    feed_name: str = ""
    feed_link: str | None = None
    hidden: Hidden | None = None


@attrs.frozen
class PollOutcome:
    """What one poll decided to write: the feed's new state and its entries, together."""

    state: FeedState
    entries: tuple[ParsedEntry, ...] = ()
    #: Keys of entries the feed still carries (kept when a retention cap expunged them).
    seen_keys: tuple[EntryKey, ...] = ()


#: A read-time judgement on an entry: its feed and its text to why it is hidden, or None.
Judge = Callable[[FeedURL, str], "Hidden | None"]


@attrs.frozen
class PollRecord:
    """What writing one poll changed in the store."""

    new_entries: int = 0
    updated_entries: int = 0
    #: Ids of the new entries stored visible (not hidden as flood or duplicate), for ``/events``.
    new_ids: tuple[EntryID, ...] = ()


@attrs.frozen
class PollReport:
    """One finished poll, for logs, metrics and the command line's summary.

    It carries how the fetch ended (``fetch_kind``) so that no face has to
    re-derive it from the HTTP status.
    """

    url: FeedURL
    status: FeedStatus
    fetch_kind: FetchKind
    http_status: int | None
    parsed: bool
    new_entries: int
    elapsed: float
    error: str | None
    not_modified: bool
    #: The WebSub hub and topic (self URL) the response or document named, if any.
    hub: str | None = None
    topic: str | None = None
    #: True when a hub pushed the document instead of a poll fetching it.
    pushed: bool = False
    #: Ids of the new entries stored visible (:attr:`PollRecord.new_ids`), for ``/events``.
    new_ids: tuple[EntryID, ...] = ()


@attrs.frozen
class Output:
    """One rendered resource, as the site builds it and the web face serves it."""

    body: bytes
    content_type: str


# -- reload and reading lists ----------------------------------------------------------


@attrs.frozen
class ReadingList:
    """A Venus reading list: a feed section whose URL names a list of feeds, not a feed.

    It is fetched like a feed (``defaults`` carries its own interval, timeout
    and size limit); every feed it lists is ``defaults`` with that feed's URL
    and name, so the section's other keys apply to each of them.
    """

    url: FeedURL
    name: str
    #: ``opml`` or ``foaf``, as the section's ``content_type`` says.
    content_type: str
    defaults: FeedConfig


@attrs.frozen
class ListedFeed:
    """One feed as a reading list names it: its URL and the name to show."""

    url: str
    name: str


@attrs.frozen
class ReadingListState:
    """What the store keeps of a reading list: its feeds as last fetched, and validators."""

    url: FeedURL
    feeds: tuple[ListedFeed, ...] = ()
    validators: Validators = Validators()
    fetched_at: datetime | None = None
    last_error: str | None = None


# -- groups ------------------------------------------------------------------------------


@attrs.frozen
class GroupSection:
    """A ``[group:SLUG]`` section: a group's title and description, as the config gives them."""

    slug: str
    #: The ``name`` key (None when the section gives none).
    name: str | None = None
    #: The ``title`` key (None when the section gives none).
    title: str | None = None
    description: str = ""
