"""The SQLite store: refusing databases it must not touch, and keeping every poll whole."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from builders import feed_config, parsed, utc
from planetd.boundaries import (
    EntryKey,
    FeedConfig,
    FeedState,
    FeedStatus,
    FeedURL,
    FutureDates,
    Hidden,
    ParsedEntry,
    PollOutcome,
    PollRecord,
    Validators,
)
from planetd.normalize import entry_id
from planetd.schema import SCHEMA_VERSION
from planetd.store import Database, StoreError, ThreadLocalDatabases, open_database

NOW = utc(2026, 7, 4, 12, 0)
A = feed_config("https://a.example/feed", name="Alice")
B = feed_config("https://b.example/feed", name="Bob")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> Iterator[Database]:
    """A store subscribed to feeds A and B: in-memory SQLite, then a new PostgreSQL database."""
    if request.param == "postgresql":
        database = open_database(request.getfixturevalue("pg_url"))
    else:
        database = open_database(":memory:")
    database.sync_feeds([A, B], NOW)
    yield database
    database.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where a file database lives in this test."""
    return tmp_path / "planet.sqlite"


def ok_state(feed: FeedConfig, now: datetime = NOW, **kw: Any) -> FeedState:
    """A feed's state after a good poll at ``now``."""
    values: dict[str, Any] = {
        "url": feed.url,
        "name": feed.name,
        "status": FeedStatus.OK,
        "http_status": 200,
        "last_polled_at": now,
        "last_success_at": now,
        "next_poll_at": now + timedelta(hours=1),
    }
    values.update(kw)
    return FeedState(**values)


def poll(db: Database, feed: FeedConfig, *entries: ParsedEntry, now: datetime = NOW) -> PollRecord:
    """Record a good poll of ``feed`` at ``now`` that delivered ``entries``."""
    return db.record_poll(feed, PollOutcome(state=ok_state(feed, now), entries=entries), now)


def day(n: int) -> datetime:
    """Noon UTC on day ``n`` of June 2026."""
    return utc(2026, 6, n, 12, 0)


def keys(entries: list[Any]) -> list[str]:
    """The keys of stored entries, in the order given."""
    return [e.key for e in entries]


def raw(path: Path) -> sqlite3.Connection:
    """A plain SQLite connection to ``path``, as another program (or a crash) would use."""
    return sqlite3.connect(path, isolation_level=None)


# -- opening: new, reopened, refused ---------------------------------------------------------


def test_a_new_file_is_created_and_migrated(db_path: Path) -> None:
    """A first start creates the database with the current schema, in WAL mode."""
    db = open_database(str(db_path))
    try:
        assert db.integrity_check() == "ok"
        assert db.feed_states() == []
        assert db.migrate() == SCHEMA_VERSION  # a second migrate is a no-op
    finally:
        db.close()
    with contextlib.closing(raw(db_path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_empty_file_is_a_new_database(db_path: Path) -> None:
    """An empty file (touched by an installer) is not data: it becomes a new database."""
    db_path.write_bytes(b"")
    open_database(str(db_path)).close()
    with contextlib.closing(raw(db_path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_reopening_keeps_feeds_entries_and_state(db_path: Path) -> None:
    """What one run stored, the next run finds: feeds, their state and their entries."""
    db = open_database(str(db_path))
    db.sync_feeds([A], NOW)
    poll(db, A, parsed("one", day(1)), parsed("two", day(2)))
    db.close()
    again = open_database(str(db_path))
    try:
        (state,) = again.feed_states()
        assert state.status is FeedStatus.OK
        assert state.entry_count == 2
        assert keys(again.entries(limit=10)) == ["two", "one"]
    finally:
        again.close()


def test_a_database_from_a_newer_planetd_is_refused_untouched(db_path: Path) -> None:
    """A schema newer than this planetd knows: a clear message, and not one byte changed."""
    with contextlib.closing(raw(db_path)) as conn:
        conn.execute("PRAGMA user_version = 99")
    before = db_path.read_bytes()
    with pytest.raises(StoreError) as info:
        open_database(str(db_path))
    message = str(info.value)
    assert message.startswith(f"{db_path}: written by a newer planetd (schema 99")
    assert "upgrade planetd" in message
    assert db_path.read_bytes() == before


def test_a_file_that_is_not_sqlite_is_refused_untouched(db_path: Path) -> None:
    """Pointing --database at a text file (a config, notes) refuses and leaves it as it was."""
    text = b"[Planet]\nname = my precious notes\n" * 50
    db_path.write_bytes(text)
    with pytest.raises(StoreError, match="not an SQLite database; refusing to overwrite it"):
        open_database(str(db_path))
    assert db_path.read_bytes() == text
    assert sorted(os.listdir(db_path.parent)) == [db_path.name]


def test_a_damaged_sqlite_file_is_refused_untouched(db_path: Path) -> None:
    """A file with SQLite's header but garbage after it: refused as unusable, not reset."""
    damaged = b"SQLite format 3\x00" + b"\xff" * 4000
    db_path.write_bytes(damaged)
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        open_database(str(db_path))
    assert db_path.read_bytes() == damaged


def test_a_database_with_a_malformed_schema_page_is_refused_untouched(db_path: Path) -> None:
    """A real SQLite header over a damaged first page (the schema): refused as unusable
    when its tables are read, never reset."""
    with contextlib.closing(raw(db_path)) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    damaged = bytearray(db_path.read_bytes())
    damaged[100:] = b"\xee" * (len(damaged) - 100)
    db_path.write_bytes(bytes(damaged))
    with pytest.raises(StoreError, match=r"not a usable SQLite database .*malformed"):
        open_database(str(db_path))
    assert db_path.read_bytes() == damaged


def test_another_programs_sqlite_database_is_refused_untouched(db_path: Path) -> None:
    """An SQLite file of another program (its tables, user_version 0) is refused, its
    bytes and journal mode unchanged."""
    with contextlib.closing(raw(db_path)) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    before = db_path.read_bytes()
    with pytest.raises(StoreError) as info:
        open_database(str(db_path))
    assert str(info.value) == (
        f"{db_path}: an SQLite database of another program (tables: notes); use another --database"
    )
    assert db_path.read_bytes() == before
    with contextlib.closing(raw(db_path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_a_database_planetd_cannot_migrate_is_refused_and_rolled_back(db_path: Path) -> None:
    """A foreign file with no tables but a view named like ours: the migration fails, the
    error says it cannot write, and nothing of the half-done migration remains."""
    with contextlib.closing(raw(db_path)) as conn:
        conn.execute("CREATE VIEW feeds AS SELECT 1 AS x")
    with pytest.raises(StoreError, match="cannot write"):
        open_database(str(db_path))
    with contextlib.closing(raw(db_path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert names == {"feeds"}


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    """A database path in a folder that does not exist names the folder; nothing is made."""
    path = tmp_path / "no" / "such" / "planet.sqlite"
    with pytest.raises(StoreError, match=f"folder {tmp_path / 'no' / 'such'} does not exist"):
        open_database(str(path))
    assert not (tmp_path / "no").exists()


def test_a_folder_given_as_the_database_is_refused(tmp_path: Path) -> None:
    """--database naming a folder is a one-line StoreError, not a traceback."""
    folder = tmp_path / "data"
    folder.mkdir()
    with pytest.raises(StoreError):
        open_database(str(folder))
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        Database(str(folder))


def test_an_empty_path_is_refused() -> None:
    """An empty --database would be a throwaway temporary database: refused, since it
    cannot use the write-ahead log either."""
    with pytest.raises(StoreError, match="cannot use write-ahead logging"):
        open_database("")


def test_a_locked_database_is_refused_at_startup(db_path: Path) -> None:
    """Another process holding the write lock (a second planetd) is found at startup,
    with a message saying so, instead of every poll failing later."""
    open_database(str(db_path)).close()
    with contextlib.closing(raw(db_path)) as other:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError, match="another planetd"):
            open_database(str(db_path))
        other.execute("ROLLBACK")


@contextlib.contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """Make ``path`` unwritable for this process: chmod 0444, and for root (who ignores
    modes) the immutable attribute; skip where neither works."""
    path.chmod(0o444)
    immutable = False
    try:
        if os.access(path, os.W_OK):
            done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
            immutable = done.returncode == 0
            if not immutable or os.access(path, os.W_OK):
                pytest.skip("cannot make a file unwritable for this user")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(0o644)


def test_a_read_only_file_is_refused_for_writing(db_path: Path) -> None:
    """A database file the daemon cannot write: a clear 'read-only' error, file unchanged."""
    open_database(str(db_path)).close()
    before = db_path.read_bytes()
    with unwritable(db_path):
        with pytest.raises(StoreError, match="read-only; planetd needs to write its database"):
            open_database(str(db_path))
        assert db_path.read_bytes() == before


def test_a_read_only_file_can_still_be_read(db_path: Path) -> None:
    """Read-only mode (the web readers, 'planetd feeds') works on a file planetd may not
    write."""
    db = open_database(str(db_path))
    db.sync_feeds([A], NOW)
    poll(db, A, parsed("one", day(1)))
    db.close()
    with unwritable(db_path):
        reader = open_database(str(db_path), readonly=True)
        try:
            assert keys(reader.entries(limit=5)) == ["one"]
        finally:
            reader.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file whatever its mode")
def test_an_unreadable_file_is_refused(db_path: Path) -> None:
    """A database file planetd may not read is refused, saying so."""
    open_database(str(db_path)).close()
    db_path.chmod(0)
    try:
        with pytest.raises(StoreError, match="not readable"):
            open_database(str(db_path))
    finally:
        db_path.chmod(0o644)


def test_read_only_mode_refuses_every_write(db_path: Path) -> None:
    """A read-only connection (query_only) can read but never write, so a reader thread
    can never corrupt what the writer keeps."""
    open_database(str(db_path)).close()
    reader = open_database(str(db_path), readonly=True)
    try:
        assert reader.feed_states() == []
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.sync_feeds([A], NOW)
    finally:
        reader.close()


def test_read_only_mode_needs_an_existing_database(db_path: Path) -> None:
    """Reading a database that was never created says to run the daemon or a poll first,
    and creates nothing."""
    with pytest.raises(StoreError, match="no such database"):
        open_database(str(db_path), readonly=True)
    assert not db_path.exists()


def test_read_only_mode_does_not_migrate(db_path: Path) -> None:
    """A reader never migrates: an unmigrated database asks for the daemon to start once."""
    sqlite3.connect(db_path).close()
    with pytest.raises(StoreError, match="needs a migration"):
        open_database(str(db_path), readonly=True)


def test_read_only_mode_refuses_newer_and_foreign_databases(db_path: Path) -> None:
    """Readers refuse what the writer refuses."""
    with contextlib.closing(raw(db_path)) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer planetd"):
        open_database(str(db_path), readonly=True)


def test_close_leaves_no_write_ahead_log(db_path: Path) -> None:
    """After close, everything is in the database file: no -wal left, or an empty one."""
    db = open_database(str(db_path))
    db.sync_feeds([A], NOW)
    poll(db, A, *(parsed(f"k{i}", day(1 + i % 28)) for i in range(50)))
    db.close()
    wal = Path(f"{db_path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    with contextlib.closing(raw(db_path)) as conn:
        assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == 50


def test_integrity_check_is_ok(db: Database) -> None:
    """A store that has taken polls passes SQLite's integrity check."""
    poll(db, A, parsed("one", day(1)))
    assert db.integrity_check() == "ok"


# -- feeds follow the config -----------------------------------------------------------------


def test_new_feeds_are_pending_and_subscribed_now(db: Database) -> None:
    """A feed just added to the config is pending, never polled, subscribed at 'now'."""
    states = {s.url: s for s in db.feed_states()}
    assert set(states) == {A.url, B.url}
    alice = states[A.url]
    assert alice.status is FeedStatus.PENDING
    assert alice.name == "Alice"
    assert alice.subscribed_at == NOW
    assert alice.last_polled_at is None
    assert alice.next_poll_at is None
    assert alice.entry_count == 0
    assert alice.validators == Validators()


def test_feed_states_are_in_name_order(db: Database) -> None:
    """Feeds are listed by name, case-insensitively."""
    db.sync_feeds([B, A, attrs.evolve(A, url=FeedURL("https://c.example/"), name="bea")], NOW)
    assert [s.name for s in db.feed_states()] == ["Alice", "bea", "Bob"]


def test_a_removed_feed_is_inactive_but_keeps_its_entries(db: Database) -> None:
    """Dropping a feed from the config hides it and its entries; nothing is deleted."""
    poll(db, A, parsed("a1", day(1)))
    poll(db, B, parsed("b1", day(2)))
    db.sync_feeds([B], NOW + timedelta(days=1))
    assert [s.url for s in db.feed_states()] == [B.url]
    assert {s.url for s in db.feed_states(active_only=False)} == {A.url, B.url}
    assert keys(db.entries(limit=10)) == ["b1"]
    assert db.known_hashes(A.url) == {"a1": "hash-a1"}


def test_a_re_added_feed_is_active_again_with_its_history(db: Database) -> None:
    """Putting a feed back into the config brings back its entries and its original
    subscription date (so it is not flood-limited again), under its new name."""
    poll(db, A, parsed("a1", day(1)))
    db.sync_feeds([B], NOW + timedelta(days=1))
    db.sync_feeds([attrs.evolve(A, name="Alice again"), B], NOW + timedelta(days=2))
    state = db.feed_state(A.url)
    assert state is not None
    assert state.name == "Alice again"
    assert state.subscribed_at == NOW
    assert state.status is FeedStatus.OK
    assert keys(db.entries(limit=10)) == ["a1"]


def test_an_unknown_feed_has_no_state(db: Database) -> None:
    """Asking for a feed that was never configured gives None."""
    assert db.feed_state(FeedURL("https://nobody.example/")) is None


# -- writing a poll --------------------------------------------------------------------------


def test_a_poll_writes_state_and_entries_together(db: Database) -> None:
    """A good poll stores every state field and its entries, with counts that match."""
    state = ok_state(
        A,
        link="https://a.example/",
        title="Alice's Blog",
        last_error="SAXParseException: minor",
        consecutive_failures=0,
        validators=Validators(etag='"e"', last_modified="Sat, 04 Jul 2026", body_hash="bh"),
        moved_to="https://a2.example/feed",
    )
    entries = (parsed("one", day(1)), parsed("two", day(3)))
    record = db.record_poll(A, PollOutcome(state=state, entries=entries), NOW)
    ids = tuple(e.id for e in sorted(db.entries(limit=10), key=lambda e: e.published))
    assert record == PollRecord(new_entries=2, updated_entries=0, new_ids=ids)
    stored = db.feed_state(A.url)
    assert stored is not None
    assert stored == attrs.evolve(state, subscribed_at=NOW, entry_count=2, latest_entry_at=day(3))


def test_a_failed_poll_keeps_the_entries(db: Database) -> None:
    """A poll that failed writes its state and leaves the feed's entries as they were."""
    poll(db, A, parsed("one", day(1)))
    failing = ok_state(
        A,
        status=FeedStatus.FAILING,
        last_error="timed out",
        consecutive_failures=1,
        last_success_at=NOW,
    )
    record = db.record_poll(A, PollOutcome(state=failing), NOW + timedelta(hours=1))
    assert record == PollRecord()
    stored = db.feed_state(A.url)
    assert stored is not None
    assert (stored.status, stored.last_error, stored.entry_count) == (
        FeedStatus.FAILING,
        "timed out",
        1,
    )


def test_stored_entries_carry_what_the_river_shows(db: Database) -> None:
    """An entry comes back with its id, feed, title, link, author, dates, content and its
    feed's name and site link."""
    db.record_poll(
        A,
        PollOutcome(
            state=ok_state(A, link="https://a.example/"),
            entries=(parsed("one", day(1), author="Al", updated=day(2)),),
        ),
        NOW,
    )
    (entry,) = db.entries(limit=1)
    assert entry.id == entry_id(A.url, EntryKey("one"))
    assert (entry.feed_url, entry.title, entry.link, entry.author) == (
        A.url,
        "Title one",
        "https://blog.example.org/one",
        "Al",
    )
    assert (entry.published, entry.updated, entry.first_seen) == (day(1), day(2), NOW)
    assert entry.content_html == "<p>one</p>"
    assert (entry.feed_name, entry.feed_link, entry.hidden) == ("Alice", "https://a.example/", None)


def test_a_poll_that_fails_midway_writes_nothing(db: Database) -> None:
    """If writing a poll fails after some entries went in (here: an entry that breaks a
    constraint), the whole poll is rolled back: no entry and no state of it remain, and
    the store takes the next poll normally."""
    poll(db, A, parsed("old", day(1)))
    before = db.feed_state(A.url)
    broken = parsed("broken", day(3), title=None)
    outcome = PollOutcome(
        state=ok_state(A, NOW + timedelta(hours=1), title="New title"),
        entries=(parsed("fine", day(2)), broken),
    )
    with pytest.raises(sqlite3.IntegrityError):
        db.record_poll(A, outcome, NOW + timedelta(hours=1))
    assert db.feed_state(A.url) == before
    assert keys(db.entries(limit=10)) == ["old"]
    assert poll(db, A, parsed("fine", day(2)), now=NOW + timedelta(hours=2)).new_entries == 1


def test_a_full_disk_fails_the_poll_and_keeps_what_was_stored(db_path: Path) -> None:
    """SQLITE_FULL mid-poll: the disk's own error reaches the caller (not a rollback
    error), nothing of the poll is written, earlier entries stay, and the next poll
    succeeds once there is room again."""
    db = open_database(str(db_path))
    try:
        db.sync_feeds([A], NOW)
        poll(db, A, parsed("old", day(1)))
        before = db.feed_state(A.url)
        # A real SQLite limit stands in for a full disk: no page may be added.
        pages = db._conn.execute("PRAGMA page_count").fetchone()[0]
        db._conn.execute(f"PRAGMA max_page_count = {pages}")
        huge = [parsed(f"big{n}", day(2), content_html="x" * 100_000) for n in range(20)]
        with pytest.raises(sqlite3.OperationalError, match="full"):
            poll(db, A, *huge, now=NOW + timedelta(hours=1))
        assert db.feed_state(A.url) == before
        assert keys(db.entries(limit=50)) == ["old"]
        db._conn.execute("PRAGMA max_page_count = 1073741823")
        assert poll(db, A, *huge, now=NOW + timedelta(hours=2)).new_entries == 20
        assert db.integrity_check() == "ok"
    finally:
        db.close()


def test_a_changed_entry_is_updated_in_place(db: Database) -> None:
    """A re-polled entry with edited content is the same entry (same id), updated, and
    neither re-dated nor counted twice."""
    poll(db, A, parsed("one", day(1)))
    (before,) = db.entries(limit=5)
    edited = parsed("one", day(5), raw_hash="hash-2", title="Edited", content_html="<p>v2</p>")
    record = poll(db, A, edited, now=NOW + timedelta(days=1))
    assert record == PollRecord(new_entries=0, updated_entries=1)
    (after,) = db.entries(limit=5)
    assert after.id == before.id
    assert (after.title, after.content_html) == ("Edited", "<p>v2</p>")
    assert after.published == day(1)
    assert after.first_seen == NOW
    assert db.known_hashes(A.url) == {"one": "hash-2"}
    state = db.feed_state(A.url)
    assert state is not None and state.entry_count == 1


def test_unchanged_entries_are_not_rewritten(db: Database) -> None:
    """An entry the parser marked unchanged (no content, not sanitized) leaves the stored
    one exactly as it was."""
    poll(db, A, parsed("one", day(1)))
    (before,) = db.entries(limit=5)
    unchanged = parsed("one", day(1), content_html="", text="", changed=False)
    assert poll(db, A, unchanged, now=NOW + timedelta(days=1)) == PollRecord()
    assert db.entries(limit=5) == [before]


def test_ids_that_change_every_fetch_do_not_multiply_entries(db: Database) -> None:
    """A feed that mints fresh ids on each fetch but keeps its links: the entries are
    matched by link, updated under their first key, and never duplicated."""
    first = [parsed(f"id-{n}-fetch1", day(n), link=f"https://a.example/{n}") for n in (1, 2)]
    poll(db, A, *first)
    second = [
        parsed(f"id-{n}-fetch2", day(n), link=f"https://a.example/{n}", raw_hash=f"new{n}")
        for n in (1, 2)
    ]
    record = poll(db, A, *second, now=NOW + timedelta(hours=1))
    assert record == PollRecord(new_entries=0, updated_entries=2)
    assert sorted(keys(db.entries(limit=10))) == ["id-1-fetch1", "id-2-fetch1"]
    assert db.known_hashes(A.url) == {"id-1-fetch1": "new1", "id-2-fetch1": "new2"}


def test_an_entry_without_a_link_is_updated_by_its_key(db: Database) -> None:
    """An entry known only by its id (no link) is updated in place on the next poll."""
    poll(db, A, parsed("tag:nolink", day(1), link=None))
    record = poll(
        db,
        A,
        parsed("tag:nolink", day(1), link=None, raw_hash="v2", title="New"),
        now=NOW + timedelta(hours=1),
    )
    assert record == PollRecord(new_entries=0, updated_entries=1)
    assert [e.title for e in db.entries(limit=5)] == ["New"]


def test_entries_sharing_one_link_are_not_merged(db: Database) -> None:
    """Entries that all link to the blog's home page stay separate entries."""
    home = "https://a.example/"
    poll(db, A, parsed("x", day(1), link=home))
    poll(db, A, parsed("y", day(2), link=home), parsed("z", day(3), link=home))
    assert sorted(keys(db.entries(limit=10))) == ["x", "y", "z"]


def test_a_renamed_entry_follows_the_future_dates_policy(db: Database) -> None:
    """A renamed entry (new id, same link) re-dated far into the future under
    ignore_entry keeps its stored date; it is neither dropped nor duplicated."""
    strict = attrs.evolve(A, future_dates=FutureDates.IGNORE_ENTRY)
    poll(db, strict, parsed("old-id", day(1), link="https://a.example/p"))
    far = NOW + timedelta(days=400)
    renamed = parsed("new-id", far, link="https://a.example/p", raw_hash="h2")
    poll(db, strict, renamed, now=NOW + timedelta(hours=1))
    assert [(e.key, e.published) for e in db.entries(limit=5)] == [("old-id", day(1))]


def test_ignore_entry_never_stores_a_new_future_entry(db: Database) -> None:
    """ignore_entry: a brand-new entry dated a month ahead is not stored at all."""
    strict = attrs.evolve(A, future_dates=FutureDates.IGNORE_ENTRY)
    poll(db, strict, parsed("future", NOW + timedelta(days=30)))
    assert db.entries(limit=5) == []


# -- no flood --------------------------------------------------------------------------------


def test_a_new_feed_shows_only_its_newest_entries(db: Database) -> None:
    """new_feed_items = 2: of a new feed's backlog only the two newest reach the river; the
    rest are kept, hidden as 'flood', and entries of later polls show."""
    capped = attrs.evolve(A, new_feed_items=2)
    poll(db, capped, *(parsed(f"d{n}", day(n)) for n in range(1, 6)))
    assert keys(db.entries(limit=10)) == ["d5", "d4"]
    hidden = db.entries(limit=10, include_hidden=True)
    assert [(e.key, e.hidden) for e in hidden] == [
        ("d5", None),
        ("d4", None),
        ("d3", Hidden.FLOOD),
        ("d2", Hidden.FLOOD),
        ("d1", Hidden.FLOOD),
    ]
    assert db.hidden_counts() == {A.url: {"flood": 3}}
    poll(
        db,
        capped,
        parsed("d6", day(6)),
        parsed("d7", day(7)),
        parsed("d8", day(8)),
        now=NOW + timedelta(hours=1),
    )
    assert keys(db.entries(limit=10)) == ["d8", "d7", "d6", "d5", "d4"]


def test_a_flood_hidden_entry_stays_hidden_when_updated(db: Database) -> None:
    """Editing an old post that the anti-flood hid does not bring it back to the river."""
    capped = attrs.evolve(A, new_feed_items=1)
    poll(db, capped, parsed("old", day(1)), parsed("new", day(2)))
    poll(db, capped, parsed("old", day(1), raw_hash="edited"), now=NOW + timedelta(hours=1))
    assert keys(db.entries(limit=10)) == ["new"]


def test_flood_is_decided_by_the_first_delivery_not_a_restart(db_path: Path) -> None:
    """After a restart, a feed that already delivered entries is not flood-limited again."""
    capped = attrs.evolve(A, new_feed_items=1)
    db = open_database(str(db_path))
    db.sync_feeds([capped], NOW)
    poll(db, capped, parsed("d1", day(1)))
    db.close()
    db = open_database(str(db_path))
    try:
        db.sync_feeds([capped], NOW + timedelta(days=1))
        poll(db, capped, parsed("d2", day(2)), parsed("d3", day(3)), now=NOW + timedelta(days=1))
        assert keys(db.entries(limit=10)) == ["d3", "d2", "d1"]
    finally:
        db.close()


# -- duplicates across feeds -----------------------------------------------------------------


def test_the_same_post_in_two_feeds_shows_once_from_the_first(db: Database) -> None:
    """A post (same id) reached through a second feed is stored there hidden as
    'duplicate'; the feed that brought it first keeps it on the river."""
    poll(db, A, parsed("tag:post", day(1), link="https://a.example/post"))
    poll(
        db,
        B,
        parsed("tag:post", day(1), link="https://b.example/copy"),
        now=NOW + timedelta(hours=1),
    )
    (shown,) = db.entries(limit=10)
    assert shown.feed_url == A.url
    both = db.entries(limit=10, include_hidden=True)
    assert {(e.feed_url, e.hidden) for e in both} == {(A.url, None), (B.url, Hidden.DUPLICATE)}
    assert db.hidden_counts() == {B.url: {"duplicate": 1}}


def test_the_same_link_in_two_feeds_is_a_duplicate(db: Database) -> None:
    """Different ids but the same link (a planet re-publishing a blog) is the same post."""
    poll(db, A, parsed("a-id", day(1), link="https://blog.example/post"))
    poll(db, B, parsed("b-id", day(1), link="https://blog.example/post"))
    assert [e.feed_url for e in db.entries(limit=10)] == [A.url]


def test_posts_without_id_or_link_are_never_duplicates_by_hash(db: Database) -> None:
    """Content-hash keys are not identities across feeds: two feeds with the same untitled
    post each show theirs."""
    poll(db, A, parsed("hash:abc", day(1), link=None))
    poll(db, B, parsed("hash:abc", day(1), link=None))
    assert {e.feed_url for e in db.entries(limit=10)} == {A.url, B.url}


def test_a_duplicate_of_a_duplicate_is_judged_against_the_original(db: Database) -> None:
    """Three feeds with the same post: the first shows it, both others are duplicates."""
    c = feed_config("https://c.example/feed", name="Carol")
    db.sync_feeds([A, B, c], NOW)
    for feed in (A, B, c):
        poll(db, feed, parsed("tag:post", day(1)))
    assert [e.feed_url for e in db.entries(limit=10)] == [A.url]
    assert db.hidden_counts() == {B.url: {"duplicate": 1}, c.url: {"duplicate": 1}}


def test_a_copy_of_a_removed_feeds_post_is_shown(db: Database) -> None:
    """When the feed that first brought a post is no longer subscribed, the copy from
    another feed is not hidden as its duplicate: the post must not vanish from the river."""
    poll(db, A, parsed("tag:post", day(1)))
    db.sync_feeds([B], NOW + timedelta(days=1))
    poll(db, B, parsed("tag:post", day(1)), now=NOW + timedelta(days=1))
    assert [e.feed_url for e in db.entries(limit=10)] == [B.url]


def test_a_large_delivery_is_judged_against_other_feeds_in_full(db: Database) -> None:
    """A feed re-publishing more posts than one lookup binds (1,200: half by the same id,
    half by the same link) has every post judged against the feed that brought it first."""
    posts = [parsed(f"tag:p{n}", day(1 + n % 28)) for n in range(1200)]
    poll(db, A, *posts)
    copies = [
        attrs.evolve(p, link=f"https://b.example/{n}") if n % 2 else attrs.evolve(p, key=f"b{n}")
        for n, p in enumerate(posts)
    ]
    record = poll(db, B, *copies, now=NOW + timedelta(hours=1))
    assert record.new_entries == 1200
    assert db.hidden_counts() == {B.url: {"duplicate": 1200}}


# -- retention ---------------------------------------------------------------------------------


def test_cache_keep_entries_expunges_the_oldest(db: Database) -> None:
    """cache_keep_entries = 3: only the three newest entries of the feed are kept."""
    kept = attrs.evolve(A, cache_keep_entries=3)
    poll(db, kept, *(parsed(f"d{n}", day(n)) for n in range(1, 6)))
    assert keys(db.entries(limit=10)) == ["d5", "d4", "d3"]
    state = db.feed_state(A.url)
    assert state is not None and state.entry_count == 3


def test_an_expunged_entry_still_in_the_feed_is_not_re_added(db: Database) -> None:
    """The next poll still carries the expunged entries: they stay gone, and nothing
    counts as new."""
    kept = attrs.evolve(A, cache_keep_entries=3)
    entries = [parsed(f"d{n}", day(n)) for n in range(1, 6)]
    poll(db, kept, *entries)
    record = poll(db, kept, *entries, now=NOW + timedelta(hours=1))
    assert record.new_entries == 0
    assert keys(db.entries(limit=10)) == ["d5", "d4", "d3"]


def test_without_a_cap_every_entry_is_kept(db: Database) -> None:
    """The archive is the point of a planet: with no cap, nothing is ever expunged."""
    poll(db, A, *(parsed(f"k{n}", day(1 + n % 28)) for n in range(100)))
    state = db.feed_state(A.url)
    assert state is not None and state.entry_count == 100


# -- reading entries -----------------------------------------------------------------------------


def many(db: Database) -> list[str]:
    """Store 9 entries in A and B, with ties on published, and return the river order."""
    poll(db, A, *(parsed(f"a{n}", day(n % 4 + 1)) for n in range(5)))
    poll(db, B, *(parsed(f"b{n}", day(n % 3 + 1)) for n in range(4)))
    full = db.entries(limit=100)
    assert len(full) == 9
    return [e.id for e in full]


def test_entries_are_newest_first_with_ties_broken_by_id(db: Database) -> None:
    """The river order is published descending, then id descending: total and stable."""
    many(db)
    full = db.entries(limit=100)
    order = [(e.published, e.id) for e in full]
    assert order == sorted(order, reverse=True)


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 8, 9, 10])
def test_paging_has_no_overlap_and_no_gap(db: Database, limit: int) -> None:
    """Walking pages with the 'before' cursor of each page's last entry visits every entry
    exactly once, in river order, even across equal dates."""
    expected = many(db)
    seen: list[str] = []
    before = None
    for _ in range(20):
        page = db.entries(limit=limit, before=before)
        assert len(page) <= limit
        seen.extend(e.id for e in page)
        if len(page) < limit:
            break
        last = page[-1]
        before = (last.published.timestamp(), last.id)
    assert seen == expected


def test_entries_of_one_feed(db: Database) -> None:
    """The feed filter lists only that feed's entries."""
    many(db)
    only_b = db.entries(limit=100, feed_url=B.url)
    assert {e.feed_url for e in only_b} == {B.url}
    assert len(only_b) == 4


def test_a_judge_hides_entries_from_the_river(db: Database) -> None:
    """Read-time filters: entries the judge rejects are left out, or shown with their
    reason when hidden ones are asked for; the judge sees the feed and the entry text."""
    poll(
        db,
        A,
        parsed("python", day(2), text="all about python"),
        parsed("cats", day(1), text="cats"),
    )
    asked: list[tuple[str, str]] = []

    def judge(url: FeedURL, text: str) -> Hidden | None:
        asked.append((url, text))
        return None if "python" in text else Hidden.FILTER

    assert keys(db.entries(limit=10, judge=judge)) == ["python"]
    assert (A.url, "cats") in asked
    every = db.entries(limit=10, judge=judge, include_hidden=True)
    assert [(e.key, e.hidden) for e in every] == [("python", None), ("cats", Hidden.FILTER)]


def test_a_filter_that_hides_much_still_fills_the_page(db: Database) -> None:
    """When the judge hides most entries, reading goes on past the first batch until the
    page is full or the entries run out."""
    poll(db, A, *(parsed(f"k{n:03}", NOW - timedelta(minutes=n), text=f"t{n}") for n in range(300)))

    def keep_every_50th(url: FeedURL, text: str) -> Hidden | None:
        return None if int(text[1:]) % 50 == 0 else Hidden.FILTER

    page = db.entries(limit=4, judge=keep_every_50th)
    assert keys(page) == ["k000", "k050", "k100", "k150"]
    rest = db.entries(limit=100, judge=keep_every_50th)
    assert len(rest) == 6


def test_stored_hidden_entries_are_not_judged_again(db: Database) -> None:
    """An entry hidden when stored keeps that reason; the judge is not asked about it."""
    poll(db, A, parsed("tag:p", day(1)))
    poll(db, B, parsed("tag:p", day(1)))
    asked: list[str] = []

    def judge(url: FeedURL, text: str) -> Hidden | None:
        asked.append(url)
        return None

    db.entries(limit=10, include_hidden=True, judge=judge)
    assert asked == [A.url]


def test_known_hashes_are_per_feed(db: Database) -> None:
    """What a parse need not redo: each feed's keys and raw hashes, and nothing else."""
    poll(db, A, parsed("a1", day(1)), parsed("a2", day(2), raw_hash="x"))
    poll(db, B, parsed("b1", day(1)))
    assert db.known_hashes(A.url) == {"a1": "hash-a1", "a2": "x"}
    assert db.known_hashes(FeedURL("https://nobody.example/")) == {}


# -- damaged rows ----------------------------------------------------------------------------------


def test_one_damaged_row_does_not_take_the_river_down(db_path: Path) -> None:
    """A row with a corrupt date (disk trouble, a manual edit) is skipped on read; the
    other entries and feeds still show."""
    db = open_database(str(db_path))
    db.sync_feeds([A, B], NOW)
    poll(db, A, parsed("good", day(2)), parsed("bad", day(1)))
    with contextlib.closing(raw(db_path)) as conn:
        conn.execute("UPDATE entries SET published = 'garbage' WHERE key = 'bad'")
        conn.execute("UPDATE feeds SET status = 'exploded' WHERE url = ?", (B.url,))
    try:
        assert keys(db.entries(limit=10)) == ["good"]
        assert [s.url for s in db.feed_states()] == [A.url]
    finally:
        db.close()


def test_a_damaged_row_is_repaired_by_the_next_poll(db_path: Path) -> None:
    """A stored entry whose dates are corrupt is treated as first seen now and rewritten
    by the next poll that carries it, instead of failing every poll of its feed."""
    db = open_database(str(db_path))
    db.sync_feeds([A], NOW)
    poll(db, A, parsed("bad", day(1)))
    with contextlib.closing(raw(db_path)) as conn:
        conn.execute("UPDATE entries SET published = 'x', first_seen = 'y' WHERE key = 'bad'")
    try:
        later = NOW + timedelta(hours=1)
        record = poll(db, A, parsed("bad", day(1), raw_hash="again"), now=later)
        assert record == PollRecord(new_entries=0, updated_entries=1)
        (entry,) = db.entries(limit=5)
        assert entry.published == day(1)
    finally:
        db.close()


# -- reader connections --------------------------------------------------------------------------


def test_each_reader_thread_gets_its_own_read_only_connection(db_path: Path) -> None:
    """Reader threads each get one read-only connection, reused within the thread; all of
    them are closed together."""
    writer = open_database(str(db_path))
    writer.sync_feeds([A], NOW)
    poll(writer, A, parsed("one", day(1)))
    readers = ThreadLocalDatabases(str(db_path))
    mine = readers.get()
    assert readers.get() is mine
    assert mine.readonly
    theirs: list[Database] = []
    thread = threading.Thread(target=lambda: theirs.append(readers.get()))
    thread.start()
    thread.join()
    assert theirs[0] is not mine
    assert keys(theirs[0].entries(limit=5)) == ["one"]
    readers.close_all()
    with pytest.raises(sqlite3.ProgrammingError):
        mine.entries(limit=1)
    readers.close_all()  # closing twice is harmless
    writer.close()
