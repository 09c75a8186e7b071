"""Deciding what one poll does to a feed's stored entries: the entry planner.

Owns the rules that span a poll's entries and what the store already holds:
which parsed entries are new and which update a stored one; an entry whose
feed minted it a fresh id (matched by a link unique in the document); the
anti-flood cap, applied once, at a feed's first delivery; a post another
active feed brought first (stored hidden as a duplicate, so the first feed
keeps it); entries expunged before, which never come back; and retention
(``cache_keep_entries``), which expunges a feed's oldest entries.

The store reads a :class:`StoredFeed` snapshot, calls :func:`plan_entries`
and executes the :class:`EntryPlan` in one transaction, deciding nothing
itself; so every rule here is tested without a database. What one entry
becomes (its id, its dates) is :mod:`planetd.normalize`'s.

Pure: values in, a value out. Must not import ``sqlite3``, Twisted or the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import attrs

from planetd.boundaries import (
    EntryID,
    EntryKey,
    FeedConfig,
    Hidden,
    ParsedEntry,
    PollRecord,
)
from planetd.normalize import EntryRow, ExistingEntry, merge_entry

#: Keys made from an entry's content (it had neither id nor link): they name no post
#: beyond their own feed, so they never make a duplicate across feeds.
HASH_KEY_PREFIX = "hash:"


@attrs.frozen
class StoredRow:
    """One entry the store holds for the feed, as far as planning needs it."""

    id: EntryID
    link: str | None
    #: None when the stored row is damaged (unreadable dates or hidden reason).
    entry: ExistingEntry | None


@attrs.frozen
class StoredFeed:
    """What the store holds that one poll's plan depends on: a snapshot, read at once.

    ``elsewhere_keys`` and ``elsewhere_links`` are the cross-feed facts: of
    the keys and links :func:`cross_feed_questions` asked about, those that
    another *active* feed holds in an entry that is not itself a duplicate.
    """

    #: The feed's stored entries by key, in the order the store read them.
    entries: Mapping[EntryKey, StoredRow] = attrs.field(factory=dict)
    expunged: frozenset[EntryKey] = frozenset()
    elsewhere_keys: frozenset[EntryKey] = frozenset()
    elsewhere_links: frozenset[str] = frozenset()


@attrs.frozen
class EntryPlan:
    """What to write for one poll's entries; the store executes it and decides nothing."""

    #: New rows, each carrying its hidden reason (flood, duplicate) or None.
    inserts: tuple[EntryRow, ...] = ()
    #: Rows that replace a stored entry of the same id (its hidden reason is kept).
    updates: tuple[EntryRow, ...] = ()
    #: Keys to delete and remember as expunged, newest of them first.
    expunge: tuple[EntryKey, ...] = ()

    @property
    def record(self) -> PollRecord:
        """The counts a poll reports, and the ids of the new entries stored visible."""
        return PollRecord(
            new_entries=len(self.inserts),
            updated_entries=len(self.updates),
            new_ids=tuple(row.id for row in self.inserts if row.hidden is None),
        )


def _names_a_post(key: EntryKey) -> bool:
    """Whether ``key`` can identify the same post in another feed."""
    return not key.startswith(HASH_KEY_PREFIX)


def cross_feed_questions(
    entries: Sequence[ParsedEntry],
) -> tuple[frozenset[EntryKey], frozenset[str]]:
    """The keys and links whose presence in other feeds the plan for ``entries`` needs.

    Only entries with new content can be inserted, so only theirs are asked
    about; content-hash keys never are.
    """
    changed = [p for p in entries if p.changed]
    keys = frozenset(p.key for p in changed if _names_a_post(p.key))
    links = frozenset(p.link for p in changed if p.link)
    return keys, links


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


def date_undated_at_first_delivery(
    rows: Sequence[EntryRow], undated: frozenset[EntryKey]
) -> list[EntryRow]:
    """On a feed's first delivery, date its undated entries as its oldest dated one.

    An entry without a usable date is dated when first seen. For a feed just
    added that would be "now", above every real post of the day: an "About"
    page or an "(untitled)" note would top the river. What the document's own
    dates say is that such an entry is no newer than the posts around it, so
    it takes the oldest date the document gives (and keeps it, since dates
    never move later). A document with no dated entry at all keeps "now".
    """
    dated = [row.published for row in rows if row.key not in undated]
    if not dated:
        return list(rows)
    floor = min(dated)
    return [
        attrs.evolve(row, published=min(row.published, floor)) if row.key in undated else row
        for row in rows
    ]


def is_duplicate(row: EntryRow, stored: StoredFeed) -> bool:
    """Whether another active feed already brought this post (same key, or same link).

    The rule: the feed that delivered a post first keeps it; later copies are
    stored, hidden as duplicates, and shown by ``hidden=1``.
    """
    return (_names_a_post(row.key) and row.key in stored.elsewhere_keys) or (
        row.link is not None and row.link in stored.elsewhere_links
    )


def expunged_by_retention(
    ranked: Mapping[EntryKey, tuple[datetime, EntryID]], keep: int | None
) -> tuple[EntryKey, ...]:
    """The keys beyond the ``keep`` newest, by published date then id (newest first).

    The date is compared as the store keeps it (a POSIX timestamp), so the
    order is exactly the river's ``published DESC, id DESC``.
    """
    if keep is None:
        return ()
    newest_first = sorted(
        ranked, key=lambda k: (ranked[k][0].timestamp(), ranked[k][1]), reverse=True
    )
    return tuple(newest_first[keep:])


def plan_entries(
    feed: FeedConfig, stored: StoredFeed, entries: Sequence[ParsedEntry], now: datetime
) -> EntryPlan:
    """What writing ``entries`` of ``feed``, polled at ``now``, does to the store.

    A stored row that is damaged counts as first seen ``now`` (so the update
    that carries it repairs it). Entries whose content is unchanged, and
    entries expunged before, are left alone; a poll without entries changes
    nothing, retention included.
    """
    if not entries:
        return EntryPlan()
    url, policy = feed.url, feed.future_dates
    seen_now = ExistingEntry(published=now, first_seen=now, raw_hash="")
    existing = {k: r.entry or seen_now for k, r in stored.entries.items()}
    by_link = {r.link: k for k, r in stored.entries.items() if r.link}
    merged = [
        (p, row)
        for p in entries
        if p.changed and p.key not in stored.expunged
        if (row := merge_entry(url, p, existing.get(p.key), now, policy)) is not None
    ]
    renamed = matches_link_of([row for _, row in merged if row.key not in existing], by_link)
    rows: list[EntryRow] = []
    for parsed, row in merged:
        old = renamed.get(row.key)
        if old is None:
            rows.append(row)
        elif again := merge_entry(url, attrs.evolve(parsed, key=old), existing[old], now, policy):
            rows.append(again)
    flooded: frozenset[EntryKey] = frozenset()
    if not existing:
        undated = frozenset(p.key for p in entries if p.published is None and p.updated is None)
        rows = date_undated_at_first_delivery(rows, undated)
        flooded = flood_hidden(rows, feed.new_feed_items)
    inserts: list[EntryRow] = []
    updates: list[EntryRow] = []
    for row in rows:
        if row.key in existing:
            updates.append(row)
            continue
        hidden = row.hidden
        if row.key in flooded:
            hidden = Hidden.FLOOD
        elif is_duplicate(row, stored):
            hidden = Hidden.DUPLICATE
        inserts.append(attrs.evolve(row, hidden=hidden))
    ranked = {k: (existing[k].published, r.id) for k, r in stored.entries.items()}
    ranked.update((row.key, (row.published, ranked[row.key][1])) for row in updates)
    ranked.update((row.key, (row.published, row.id)) for row in inserts)
    return EntryPlan(
        inserts=tuple(inserts),
        updates=tuple(updates),
        expunge=expunged_by_retention(ranked, feed.cache_keep_entries),
    )
