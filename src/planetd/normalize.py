"""Deciding what a parsed entry becomes in the store: dates, re-dating, hiding.

Owns the rules readers of a planet notice when they are wrong: an entry
without a date is dated when planetd first saw it, and that date never moves;
an entry whose feed re-stamps it on every fetch is not pushed back to the top;
future dates follow the feed's ``future_dates`` policy; a newly subscribed
feed shows at most ``new_feed_items`` entries. Pure: values in, values out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def flood_hidden(rows: Sequence[EntryRow], keep: int | None) -> frozenset[EntryKey]:
    """Keys to hide on a feed's first good poll so that only the ``keep`` newest show.

    This is Planet 2.0's ``new_feed_items``: subscribing to a blog with ten
    years of archives must not bury the river. It is decided once, when the
    feed first delivers entries, and stored, so restarts never change it.
    """
    if keep is None or len(rows) <= keep:
        return frozenset()
    newest_first = sorted(rows, key=lambda r: (r.published, r.key), reverse=True)
    return frozenset(r.key for r in newest_first[keep:])


def matches_link_of(
    rows: Sequence[EntryRow], existing_links: Mapping[str, EntryKey]
) -> dict[EntryKey, EntryKey]:
    """New keys that are an old entry under a new id: same link, link unique in the feed.

    Some feeds mint a fresh id for every entry on every fetch. Matching on the
    link (only where it names one entry in the document, so that feeds linking
    every entry to their home page are not merged) keeps them from multiplying.
    """
    counts: dict[str, int] = {}
    for row in rows:
        if row.link:
            counts[row.link] = counts.get(row.link, 0) + 1
    renamed: dict[EntryKey, EntryKey] = {}
    for row in rows:
        if row.link and counts[row.link] == 1:
            old = existing_links.get(row.link)
            if old is not None and old != row.key:
                renamed[row.key] = old
    return renamed
