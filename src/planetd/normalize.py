"""Deciding what one parsed entry becomes in the store: its id and its dates.

Owns the rules readers of a planet notice when they are wrong: an entry's id
is stable; an entry without a date is dated when planetd first saw it, and
that date never moves; an entry whose feed re-stamps it on every fetch is not
pushed back to the top; future dates follow the feed's ``future_dates``
policy; a stored entry keeps the reason it was hidden. Rules that span a
poll's entries (renamed ids, anti-flood, duplicates, retention) are
:mod:`planetd.plan`'s. Pure: values in, values out; must not import
``sqlite3``, Twisted or the store.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from hashlib import blake2b

import attrs

from planetd.boundaries import (
    EntryID,
    EntryKey,
    FeedURL,
    FutureDates,
    Hidden,
    ParsedEntry,
)

#: A date this little ahead of planetd's clock is clock skew, not a future post.
FUTURE_TOLERANCE = timedelta(minutes=5)


@attrs.frozen
class ExistingEntry:
    """What the store already holds for an entry, as far as merging needs it."""

    published: datetime
    first_seen: datetime
    raw_hash: str
    hidden: Hidden | None = None


@attrs.frozen
class EntryRow:
    """An entry ready to be written: the stored form of a :class:`ParsedEntry`."""

    id: EntryID
    key: EntryKey
    raw_hash: str
    title: str
    link: str | None
    author: str | None
    published: datetime
    updated: datetime | None
    first_seen: datetime
    content_html: str
    text: str
    hidden: Hidden | None


def entry_id(feed_url: FeedURL, key: EntryKey) -> EntryID:
    """The opaque id the API shows: stable for a feed and key, short, URL-safe."""
    digest = blake2b(f"{feed_url}\0{key}".encode("utf-8", "surrogatepass"), digest_size=12)
    return EntryID(digest.hexdigest())


def merge_entry(
    feed_url: FeedURL,
    parsed: ParsedEntry,
    existing: ExistingEntry | None,
    now: datetime,
    policy: FutureDates,
) -> EntryRow | None:
    """The row to write for ``parsed``, or None when the policy drops the entry.

    A stored entry keeps its ``first_seen`` and never moves later in the river:
    its ``published`` only changes when the feed now gives an earlier date.
    """
    first_seen = existing.first_seen if existing else now
    published = parsed.published or parsed.updated
    hidden = existing.hidden if existing else None
    if published is not None and published > now + FUTURE_TOLERANCE:
        if policy is FutureDates.IGNORE_ENTRY:
            if existing is None:
                return None
            published = existing.published
        elif policy is FutureDates.IGNORE_DATE:
            published = None
        elif policy is FutureDates.CLAMP:
            published = now
    if published is None:
        published = existing.published if existing else first_seen
    elif existing is not None and published > existing.published:
        published = existing.published
    return EntryRow(
        id=entry_id(feed_url, parsed.key),
        key=parsed.key,
        raw_hash=parsed.raw_hash,
        title=parsed.title,
        link=parsed.link,
        author=parsed.author,
        published=published,
        updated=parsed.updated,
        first_seen=first_seen,
        content_html=parsed.content_html,
        text=parsed.text,
        hidden=hidden,
    )
