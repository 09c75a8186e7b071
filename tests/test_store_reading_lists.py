"""The store keeps each reading list's feeds, so a restart serves them before a new fetch."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from planetd.boundaries import FeedURL, ListedFeed, ReadingListState, Validators
from planetd.schema import _MIGRATIONS
from planetd.store import open_database

LIST = FeedURL("https://l.example/list.opml")
NOW = datetime(2026, 7, 4, tzinfo=timezone.utc)


def test_a_reading_list_is_kept_across_a_reopen(tmp_path: Path) -> None:
    """A saved list's feeds (names in any script), validators and error come back after
    the database is closed and opened again; saving again replaces them."""
    path = str(tmp_path / "planet.sqlite")
    db = open_database(path)
    state = ReadingListState(
        url=LIST,
        feeds=(ListedFeed("https://a.example/", "Алфа"), ListedFeed("https://b.example/", "")),
        validators=Validators(etag='"x"', last_modified="Sat, 04 Jul 2026 00:00:00 GMT"),
        fetched_at=NOW,
    )
    db.save_reading_list(state)
    db.close()
    db = open_database(path)
    assert db.reading_lists() == [state]
    fewer = ReadingListState(url=LIST, feeds=state.feeds[:1], fetched_at=NOW, last_error="404")
    db.save_reading_list(fewer)
    assert db.reading_lists() == [fewer]
    db.close()


def test_a_damaged_reading_list_row_is_skipped(tmp_path: Path) -> None:
    """A row whose feeds are not the JSON planetd writes is skipped, never fatal."""
    path = str(tmp_path / "planet.sqlite")
    open_database(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO reading_lists (url, feeds) VALUES ('https://x/', 'not json')")
    db = open_database(path)
    assert db.reading_lists() == []
    db.close()


def test_a_database_of_the_first_schema_gains_the_reading_lists_table(tmp_path: Path) -> None:
    """A database written before reading lists is migrated in place: its feeds stay and
    the reading lists table appears."""
    path = str(tmp_path / "planet.sqlite")
    with sqlite3.connect(path) as conn:
        conn.executescript(_MIGRATIONS[1])
        conn.execute("INSERT INTO feeds (url, name, subscribed_at) VALUES ('https://a/', 'A', 0)")
        conn.execute("PRAGMA user_version = 1")
    db = open_database(path)
    assert [s.url for s in db.feed_states()] == ["https://a/"]
    assert db.reading_lists() == []
    db.close()
