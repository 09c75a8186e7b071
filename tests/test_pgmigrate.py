"""``planetd migrate``: a planet copied from SQLite to PostgreSQL whole, counts checked."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from builders import feed_config, parsed, utc
from conftest import planetd_cli, subprocess_env
from planetd.boundaries import (
    FeedStatus,
    Hidden,
    ListedFeed,
    PollOutcome,
    ReadingListState,
    Validators,
)
from planetd.pgmigrate import migrate
from planetd.schema import StoreError
from planetd.store import open_database
from test_store import ok_state

NOW = utc(2026, 7, 4, 12, 0)
A = feed_config("https://a.example/feed", name="Alice", cache_keep_entries=2)
B = feed_config("https://b.example/feed", name="Bob")


def _planet(path: Path) -> None:
    """An SQLite planet with schedules, validators, hidden and expunged entries, a list."""
    db = open_database(str(path))
    db.sync_feeds([A, B], NOW)
    state = ok_state(A, validators=Validators(etag='"e1"', last_modified="Sat", body_hash="h"))
    entries = tuple(parsed(f"a{i}", NOW - timedelta(days=i)) for i in range(4))
    db.record_poll(A, PollOutcome(state=state, entries=entries), NOW)
    copy = parsed("a0", NOW - timedelta(days=1), link=entries[0].link)
    db.record_poll(B, PollOutcome(state=ok_state(B), entries=(copy,)), NOW)
    db.save_reading_list(
        ReadingListState(url=A.url, feeds=(ListedFeed("https://z.example/", "Zed"),))
    )
    db.close()


def test_every_table_is_copied_and_reads_back_the_same(tmp_path: Path, pg_url: str) -> None:
    """Feeds (schedule, validators, status), entries (hidden reasons), expunged keys and
    reading lists read back from PostgreSQL exactly as from SQLite."""
    path = tmp_path / "planet.sqlite"
    _planet(path)
    copied = migrate(str(path), pg_url)
    assert copied == {"feeds": 2, "entries": 3, "expunged": 2, "reading_lists": 1}
    sqlite, pg = open_database(str(path), readonly=True), open_database(pg_url)
    try:
        assert pg.feed_states() == sqlite.feed_states()
        assert pg.feed_states()[0].validators.etag == '"e1"'
        assert pg.feed_states()[0].status is FeedStatus.OK
        both = {"limit": 50, "include_hidden": True}
        assert pg.entries(**both) == sqlite.entries(**both)
        assert {e.hidden for e in pg.entries(**both)} == {None, Hidden.DUPLICATE}
        assert pg.reading_lists() == sqlite.reading_lists()
        assert pg.known_hashes(A.url) == sqlite.known_hashes(A.url)
        # The expunged keys came along: a poll delivering them again adds nothing.
        again = tuple(parsed(f"a{i}", NOW - timedelta(days=i)) for i in range(4))
        later = NOW + timedelta(hours=2)
        record = pg.record_poll(A, PollOutcome(state=ok_state(A, later), entries=again), later)
        assert record.new_entries == 0
    finally:
        sqlite.close()
        pg.close()


def test_a_database_that_holds_a_planet_is_refused(tmp_path: Path, pg_url: str) -> None:
    """Copying into a database that already holds feeds is refused; nothing is added."""
    path = tmp_path / "planet.sqlite"
    _planet(path)
    migrate(str(path), pg_url)
    with pytest.raises(StoreError, match="already holds a planet"):
        migrate(str(path), pg_url)
    db = open_database(pg_url)
    assert len(db.feed_states()) == 2
    db.close()


def test_the_command_line_copies_and_reports_counts(tmp_path: Path, pg_url: str) -> None:
    """``planetd migrate --from --to`` copies and says the counts matched; a --to that is
    not a PostgreSQL URL is a one-line error."""
    path = tmp_path / "planet.sqlite"
    _planet(path)
    env = subprocess_env()
    run = [*planetd_cli(), "migrate", "--from", str(path), "--to", pg_url]
    done = subprocess.run(run, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "2 feeds, 3 entries, 2 expunged, 1 reading_lists copied; counts match" in done.stdout
    bad = [*planetd_cli(), "migrate", "--from", str(path), "--to", str(tmp_path / "x")]
    failed = subprocess.run(bad, capture_output=True, text=True, env=env, timeout=60)
    assert failed.returncode == 1
    assert failed.stderr.strip().endswith("--to must be a postgresql:// URL")
