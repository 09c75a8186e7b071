"""Writing one poll's entries: the snapshot the planner decides from, and its plan executed.

Owns the SQL on each side of :func:`planetd.plan.plan_entries`: a few SELECTs
that read what the store holds for a feed (its entries, its expunged keys,
which of the poll's keys and links other active feeds hold) into a
:class:`planetd.plan.StoredFeed`, and the UPDATE, INSERT and DELETE
statements that carry out an :class:`planetd.plan.EntryPlan` exactly as
planned. Both run inside the caller's transaction
(:meth:`planetd.store.Database.record_poll`). Nothing here decides: no rule
about renamed ids, flood, duplicates or retention lives in this module.

Blocking, no Twisted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from planetd.boundaries import EntryID, EntryKey, FeedURL, Hidden, ParsedEntry
from planetd.normalize import EntryRow, ExistingEntry
from planetd.plan import EntryPlan, StoredFeed, StoredRow, cross_feed_questions
from planetd.schema import required_dt, ts

#: Values bound in one ``IN (...)``, well under SQLite's limit on parameters.
_CHUNK = 500


def read_stored_feed(
    conn: sqlite3.Connection, url: FeedURL, entries: Sequence[ParsedEntry]
) -> StoredFeed:
    """What the planner decides from: the feed's entries, its expunged keys, and
    which of the poll's keys and links other feeds hold."""
    rows = conn.execute(
        "SELECT key, id, link, published, first_seen, raw_hash, hidden FROM entries"
        " WHERE feed_url = ?",
        (url,),
    )
    stored = {
        EntryKey(key): StoredRow(
            id=EntryID(id_), link=link, entry=_existing(published, first, raw_hash, hidden)
        )
        for key, id_, link, published, first, raw_hash, hidden in rows
    }
    expunged = conn.execute("SELECT key FROM expunged WHERE feed_url = ?", (url,))
    keys, links = cross_feed_questions(entries)
    return StoredFeed(
        entries=stored,
        expunged=frozenset(EntryKey(k) for (k,) in expunged),
        elsewhere_keys=frozenset(EntryKey(k) for k in _elsewhere(conn, "key", url, keys)),
        elsewhere_links=frozenset(_elsewhere(conn, "link", url, links)),
    )


def _elsewhere(
    conn: sqlite3.Connection, column: Literal["key", "link"], url: FeedURL, values: Iterable[str]
) -> set[str]:
    """Which of ``values`` an entry of another active feed holds in ``column``,
    counting only entries that are not themselves duplicates."""
    found: set[str] = set()
    pending = sorted(values)
    for start in range(0, len(pending), _CHUNK):
        chunk = pending[start : start + _CHUNK]
        rows = conn.execute(
            f"SELECT DISTINCT e.{column} FROM entries e JOIN feeds f ON f.url = e.feed_url"
            f" WHERE e.{column} IN ({', '.join('?' * len(chunk))}) AND e.feed_url != ?"
            " AND f.active = 1 AND coalesce(e.hidden, '') != ?",
            (*chunk, url, Hidden.DUPLICATE.value),
        )
        found.update(value for (value,) in rows)
    return found


def _content(row: EntryRow) -> tuple[object, ...]:
    """The columns an update rewrites, in the order both statements below name them."""
    return (
        row.raw_hash,
        row.title,
        row.link,
        row.author,
        row.published.timestamp(),
        ts(row.updated),
        row.first_seen.timestamp(),
        row.content_html,
        row.text,
    )


def execute_plan(conn: sqlite3.Connection, url: FeedURL, plan: EntryPlan) -> None:
    """Write ``plan``'s rows, as they are: every choice was made by the planner."""
    conn.executemany(
        "UPDATE entries SET raw_hash = ?, title = ?, link = ?, author = ?,"
        " published = ?, updated = ?, first_seen = ?, content_html = ?, text = ?"
        " WHERE id = ?",
        [(*_content(row), row.id) for row in plan.updates],
    )
    conn.executemany(
        "INSERT INTO entries (id, feed_url, key, raw_hash, title, link, author,"
        " published, updated, first_seen, content_html, text, hidden)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (row.id, url, row.key, *_content(row), row.hidden.value if row.hidden else None)
            for row in plan.inserts
        ],
    )
    gone = [(url, key) for key in plan.expunge]
    conn.executemany(
        "INSERT INTO expunged (feed_url, key) VALUES (?, ?) ON CONFLICT DO NOTHING", gone
    )
    conn.executemany("DELETE FROM entries WHERE feed_url = ? AND key = ?", gone)


def _existing(published: Any, first_seen: Any, raw_hash: str, hidden: Any) -> ExistingEntry | None:
    """A stored entry as the planner needs it, or None when the row is damaged."""
    try:
        return ExistingEntry(
            published=required_dt(published),
            first_seen=required_dt(first_seen),
            raw_hash=raw_hash,
            hidden=Hidden(hidden) if hidden else None,
        )
    except (TypeError, ValueError, OverflowError):
        return None
