"""The reading lists table: each reading list's feeds and validators as last fetched.

Owns how a :class:`ReadingListState` is kept in the database, one row per
reading list, and read back (a damaged row is skipped, never fatal).
:class:`ReadingListTable` is a part of :class:`planetd.store.Database`
(split out of :mod:`planetd.store` for size), so both engines' databases
run these very queries over their connection.

Blocking, no Twisted; must not import :mod:`planetd.store` (which builds on it).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from planetd import schema
from planetd.boundaries import FeedURL, ListedFeed, ReadingListState, Validators

if TYPE_CHECKING:
    import sqlite3


class ReadingListTable:
    """The reading lists' queries, over the connection of the database they are part of."""

    _conn: sqlite3.Connection

    if TYPE_CHECKING:

        def _transaction(self) -> schema.Transaction: ...

    def reading_lists(self) -> list[ReadingListState]:
        """Every reading list as last fetched (a damaged row is skipped)."""
        rows = self._conn.execute(
            "SELECT url, feeds, etag, last_modified, fetched_at, last_error FROM reading_lists"
        )
        found = []
        for url, feeds, etag, last_modified, fetched_at, last_error in rows:
            try:
                listed = tuple(ListedFeed(url=str(u), name=str(n)) for u, n in json.loads(feeds))
                found.append(
                    ReadingListState(
                        url=FeedURL(url),
                        feeds=listed,
                        validators=Validators(etag=etag, last_modified=last_modified),
                        fetched_at=schema.dt(fetched_at),
                        last_error=last_error,
                    )
                )
            except (TypeError, ValueError, OverflowError):
                continue
        return found

    def save_reading_list(self, state: ReadingListState) -> None:
        """Keep a reading list's feeds and validators as just fetched."""
        feeds = json.dumps([[f.url, f.name] for f in state.feeds], ensure_ascii=False)
        with self._transaction():
            self._conn.execute(
                "INSERT INTO reading_lists (url, feeds, etag, last_modified, fetched_at,"
                " last_error) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET"
                " feeds = excluded.feeds, etag = excluded.etag,"
                " last_modified = excluded.last_modified, fetched_at = excluded.fetched_at,"
                " last_error = excluded.last_error",
                (
                    state.url,
                    feeds,
                    state.validators.etag,
                    state.validators.last_modified,
                    schema.ts(state.fetched_at),
                    state.last_error,
                ),
            )
