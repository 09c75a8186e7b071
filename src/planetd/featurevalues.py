"""The frozen values that planetd's later capabilities add to :mod:`planetd.values`.

Search, groups, several planets, submissions, push (WebSub) and several
daemons sharing one planet each bring a few values of their own. They are the
same kind of value as :mod:`planetd.values` (frozen, plain, comparable, safe to
cross a thread or process boundary), kept apart so that each module stays
small: :mod:`planetd.values` holds what every poll and page needs, this module
what one capability adds on top. :mod:`planetd.boundaries` re-exports every
name here too: import them from there.

No logic, and nothing but the standard library, attrs and :mod:`planetd.values`
(never :mod:`planetd.boundaries`, which imports this): the plugin, the pure
core and the worker processes all import it.
"""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from planetd.values import FeedState, FeedURL, StoredEntry

# -- search ----------------------------------------------------------------------------


@attrs.frozen
class SearchQuery:
    """A reader's search, as :func:`planetd.search.parse_query` made it safe for FTS5."""

    #: What the reader typed, with runs of spaces made one.
    text: str
    #: The FTS5 ``MATCH`` expression: every term quoted, never the reader's raw text.
    expression: str
    #: True if it runs on the trigram index (words of scripts written without spaces).
    trigram: bool = False
    #: The words and phrases searched for (not the excluded ones).
    words: tuple[str, ...] = ()
    #: The FTS5 expression of the words and phrases searched for alone (no exclusions).
    include: str = ""
    #: Each term of ``expression`` as FTS5 reads it, excluded ones too.
    terms: tuple[str, ...] = ()


@attrs.frozen
class SearchHit:
    """One entry a search found, with its text around the hits as safe HTML."""

    entry: StoredEntry
    snippet_html: str


@attrs.frozen
class SearchResults:
    """One page of a search's results, best first, and where the next page starts."""

    hits: tuple[SearchHit, ...]
    #: The offset of the next page in the ranked results, or None on the last page.
    next_offset: int | None = None


class SearchTooSlowError(Exception):
    """A search ran past its time budget and was stopped (the reader should narrow it)."""


# -- groups ------------------------------------------------------------------------------


@attrs.frozen
class Group:
    """One of a planet's groups, as its pages and templates show it."""

    #: The name lower-cased, runs of characters other than ``a-z0-9`` as ``-``: its path.
    slug: str
    name: str
    title: str
    description: str
    #: The feeds in the group, in config order.
    feeds: tuple[FeedURL, ...] = ()


# -- several planets -------------------------------------------------------------------


@attrs.frozen
class PlanetPlace:
    """Where one planet of several is served, as :func:`planetd.planets.places` decides.

    ``mount`` is the path prefix (``/python/``, always starting and ending
    with ``/``), ``host`` the Host header value it answers (lower case, no
    port) or None, ``root`` whether it is also served at ``/``. Its pages link
    from ``link_root``: its mount, or ``/`` when it is served by host alone.
    """

    index: int
    name: str
    mount: str | None
    host: str | None
    root: bool
    link_root: str
    #: Where ``planetd render`` writes it, under the output folder (no slashes).
    folder: str


# -- submissions -------------------------------------------------------------------------


class SubmissionState(str, enum.Enum):
    """Where a suggested feed stands: waiting for a moderator, or decided."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@attrs.frozen
class Preview:
    """What the preview fetch of a suggested feed found, for the moderator."""

    #: Whether the document read as a feed.
    parsed: bool = False
    #: The feed's own title ("" if none or not parsed).
    title: str = ""
    #: The titles of its newest entries, newest first (a few at most).
    entries: tuple[str, ...] = ()
    #: Why the fetch or the parse failed, if it did.
    error: str | None = None


@attrs.frozen
class SubmissionForm:
    """A suggestion as checked and about to be queued: every field within its limit."""

    #: The feed URL, normalised (the queue and the config are compared on it).
    url: str
    name: str
    contact: str
    #: A group the feed joins, or "" for none.
    group: str = ""


@attrs.frozen
class Submission:
    """A suggested feed as the queue keeps it."""

    id: int
    form: SubmissionForm
    state: SubmissionState
    created_at: datetime
    #: Why it was rejected (or the moderator's note), else None.
    reason: str | None = None
    decided_at: datetime | None = None
    preview: Preview = Preview()


# -- push (WebSub) -----------------------------------------------------------------------


class WebSubState(str, enum.Enum):
    """Where one WebSub subscription stands, as ``/api/feeds`` names it."""

    #: Asked of the hub; the hub has not verified it yet.
    REQUESTED = "requested"
    #: Verified: the hub pushes until the lease expires.
    ACTIVE = "active"
    #: The hub refused it (or could not be reached): polling as usual, retried later.
    DENIED = "denied"
    #: The lease ran out without a renewal: polling as usual, subscribed again.
    LAPSED = "lapsed"
    #: The feed left the config: asked the hub to stop; forgotten once it verifies.
    UNSUBSCRIBING = "unsubscribing"


@attrs.frozen
class Subscription:
    """One feed's WebSub subscription as the store keeps it."""

    feed_url: FeedURL
    hub: str
    #: The topic: the feed's self URL (what the hub knows it by).
    topic: str
    secret: str
    #: The unguessable last segment of the callback URL, ``/websub/<callback_id>``.
    callback_id: str
    state: WebSubState = WebSubState.REQUESTED
    #: When the last request went to the hub (subscribe, renew or unsubscribe).
    requested_at: datetime | None = None
    lease_expires_at: datetime | None = None
    last_push_at: datetime | None = None
    pushes_accepted: int = 0
    pushes_rejected: int = 0
    #: Why the hub refused, or why asking it failed.
    last_error: str | None = None


# -- several daemons, one planet (the PostgreSQL store) ----------------------------------


@attrs.frozen
class Claim:
    """What a node got when it asked to poll a due feed that other nodes share.

    ``state`` is the feed's state as stored (another node may have polled it
    since this one read it) when the feed is now this node's to poll; None
    when it is not: then ``retry_at`` (POSIX seconds) is when to ask again
    (its next poll as stored, or when another node's lease runs out).
    """

    state: FeedState | None
    retry_at: float = 0.0
