"""The store's rows as values: the columns it reads, and a row made a value.

Owns the one spelling of the feeds' and entries' columns that every read of
:class:`planetd.store.Database` (and :class:`planetd.pgstore.PgDatabase`'s
search) selects, and how such a row becomes a :class:`FeedState`, a
:class:`StoredEntry` or a :class:`SearchHit`. Split out of :mod:`planetd.store`
for size, so that both engines read a row the same way. A damaged row raises
``TypeError``/``ValueError``/``OverflowError`` here (or is None for a hit);
the callers skip it, never fatal.

Pure conversions: must not import Twisted, ``sqlite3`` or another store module
but :mod:`planetd.schema` (its date columns).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from planetd import schema
from planetd.boundaries import (
    EntryID,
    EntryKey,
    FeedState,
    FeedStatus,
    FeedURL,
    Hidden,
    Judge,
    SearchHit,
    StoredEntry,
    Validators,
)
from planetd.search import highlight_html

_FEED_COLUMNS = (
    "url, name, link, title, status, http_status, last_error, last_polled_at, "
    "last_success_at, next_poll_at, consecutive_failures, etag, last_modified, body_hash, "
    "moved_to, subscribed_at, entry_count, latest_entry_at, parser"
)
_ENTRY_COLUMNS = (
    "e.id, e.feed_url, e.key, e.title, e.link, e.author, e.published, e.updated, "
    "e.first_seen, e.content_html, f.name, f.link, e.hidden, e.text"
)


def _feed_state(row: Sequence[Any]) -> FeedState:
    return FeedState(
        url=FeedURL(row[0]),
        name=row[1],
        link=row[2],
        title=row[3],
        status=FeedStatus(row[4]),
        http_status=row[5],
        last_error=row[6],
        last_polled_at=schema.dt(row[7]),
        last_success_at=schema.dt(row[8]),
        next_poll_at=schema.dt(row[9]),
        consecutive_failures=row[10],
        validators=Validators(etag=row[11], last_modified=row[12], body_hash=row[13]),
        moved_to=row[14],
        subscribed_at=schema.dt(row[15]),
        entry_count=row[16],
        latest_entry_at=schema.dt(row[17]),
        parser=row[18],
    )


def _stored_entry(row: Sequence[Any], hidden: Hidden | None) -> StoredEntry:
    return StoredEntry(
        id=EntryID(row[0]),
        feed_url=FeedURL(row[1]),
        key=EntryKey(row[2]),
        title=row[3],
        link=row[4],
        author=row[5],
        published=schema.required_dt(row[6]),
        updated=schema.dt(row[7]),
        first_seen=schema.required_dt(row[8]),
        content_html=row[9],
        feed_name=row[10],
        feed_link=row[11],
        hidden=hidden,
    )


def _search_hit(
    row: Sequence[Any] | None,
    judge: Judge | None,
    include_hidden: bool,
    unhidden: Collection[str] = (),
) -> SearchHit | None:
    """A search's row as a hit, or None if it is hidden (and hidden ones are left out)
    or damaged."""
    if row is None:
        return None
    try:
        hidden = Hidden(row[12]) if row[12] and row[0] not in unhidden else None
        if hidden is None and judge is not None:
            hidden = judge(FeedURL(row[1]), str(row[13]))
        entry = _stored_entry(row, hidden)
    except (TypeError, ValueError, OverflowError):
        return None
    if hidden is not None and not include_hidden:
        return None
    return SearchHit(entry=entry, snippet_html=highlight_html(str(row[14] or "")))
