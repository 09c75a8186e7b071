"""SQLite storage: the schema, its migrations, and every query planetd runs.

Owns: durability (WAL, one transaction per poll so a feed's state and its
entries land together or not at all), the schema version, and refusing a
database it cannot safely use (newer schema, not SQLite, read-only) with a
clear message instead of resetting it. :class:`Database` is synchronous and
knows nothing of Twisted; :class:`Store` runs it on one writer thread and a
small reader pool so that SQLite never blocks the reactor.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

import attrs

from planetd.boundaries import (
    EntryID,
    EntryKey,
    FeedConfig,
    FeedState,
    FeedStatus,
    FeedURL,
    Hidden,
    Judge,
    PollOutcome,
    PollRecord,
    StoredEntry,
    Validators,
)
from planetd.normalize import (
    EntryRow,
    ExistingEntry,
    flood_hidden,
    matches_link_of,
    merge_entry,
)

SCHEMA_VERSION = 1

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE feeds (
        url TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        link TEXT,
        title TEXT,
        status TEXT NOT NULL DEFAULT 'pending',
        http_status INTEGER,
        last_error TEXT,
        last_polled_at REAL,
        last_success_at REAL,
        next_poll_at REAL,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        etag TEXT,
        last_modified TEXT,
        body_hash TEXT,
        moved_to TEXT,
        subscribed_at REAL NOT NULL,
        entry_count INTEGER NOT NULL DEFAULT 0,
        latest_entry_at REAL
    );
    CREATE TABLE entries (
        id TEXT PRIMARY KEY,
        feed_url TEXT NOT NULL REFERENCES feeds(url),
        key TEXT NOT NULL,
        raw_hash TEXT NOT NULL,
        title TEXT NOT NULL,
        link TEXT,
        author TEXT,
        published REAL NOT NULL,
        updated REAL,
        first_seen REAL NOT NULL,
        content_html TEXT NOT NULL,
        text TEXT NOT NULL,
        hidden TEXT,
        UNIQUE (feed_url, key)
    );
    CREATE INDEX entries_river ON entries (published DESC, id DESC);
    CREATE INDEX entries_feed ON entries (feed_url, published DESC);
    CREATE INDEX entries_key ON entries (key);
    CREATE INDEX entries_link ON entries (link);
    CREATE TABLE expunged (
        feed_url TEXT NOT NULL,
        key TEXT NOT NULL,
        PRIMARY KEY (feed_url, key)
    ) WITHOUT ROWID;
    """,
}


class StoreError(Exception):
    """The database cannot be used; the message says why and what to do."""


#: Any error SQLite raises, for callers that report it without importing sqlite3.
DatabaseError = sqlite3.Error


def _ts(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=timezone.utc)


def _required_dt(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=timezone.utc)


_FEED_COLUMNS = (
    "url, name, link, title, status, http_status, last_error, last_polled_at, "
    "last_success_at, next_poll_at, consecutive_failures, etag, last_modified, body_hash, "
    "moved_to, subscribed_at, entry_count, latest_entry_at"
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
        last_polled_at=_dt(row[7]),
        last_success_at=_dt(row[8]),
        next_poll_at=_dt(row[9]),
        consecutive_failures=row[10],
        validators=Validators(etag=row[11], last_modified=row[12], body_hash=row[13]),
        moved_to=row[14],
        subscribed_at=_dt(row[15]),
        entry_count=row[16],
        latest_entry_at=_dt(row[17]),
    )


def _stored_entry(row: Sequence[Any], hidden: Hidden | None) -> StoredEntry:
    return StoredEntry(
        id=EntryID(row[0]),
        feed_url=FeedURL(row[1]),
        key=EntryKey(row[2]),
        title=row[3],
        link=row[4],
        author=row[5],
        published=_required_dt(row[6]),
        updated=_dt(row[7]),
        first_seen=_required_dt(row[8]),
        content_html=row[9],
        feed_name=row[10],
        feed_link=row[11],
        hidden=hidden,
    )


class Database:
    """One SQLite connection and planetd's queries over it. Use from one thread at a time."""

    def __init__(self, path: str, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self._conn = self._connect()

    def _connect(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            folder = os.path.dirname(os.path.abspath(self.path))
            if not os.path.isdir(folder):
                raise StoreError(f"{self.path}: folder {folder} does not exist")
            if self.readonly and not os.path.exists(self.path):
                raise StoreError(f"{self.path}: no such database (run the daemon or poll first)")
        try:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
            conn.execute("PRAGMA busy_timeout = 10000")
            if self.readonly:
                conn.execute("PRAGMA query_only = ON")
            # WAL with synchronous=NORMAL survives any crash of the process; only
            # a power loss can roll back the newest commits, never corrupt.
            # (WAL itself is switched on by migrate(), once the file is known to be ours.)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: not a usable SQLite database ({e})") from None
        return conn

    def close(self) -> None:
        """Checkpoint the write-ahead log into the database and close: no journal left."""
        try:
            if not self.readonly:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._conn.close()

    # -- schema ---------------------------------------------------------------

    def migrate(self) -> int:
        """Bring the schema to :data:`SCHEMA_VERSION`; refuse a newer or foreign database."""
        try:
            version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
            tables = {
                r[0]
                for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: not a usable SQLite database ({e})") from None
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: written by a newer planetd (schema {version}, this one knows "
                f"up to {SCHEMA_VERSION}); upgrade planetd or use another --database"
            )
        if version == 0 and tables:
            raise StoreError(
                f"{self.path}: an SQLite database of another program "
                f"(tables: {', '.join(sorted(tables))}); use another --database"
            )
        if not self.readonly:
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if self.path != ":memory:" and str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: cannot use write-ahead logging ({mode})")
        if self.readonly:
            if version < SCHEMA_VERSION:
                raise StoreError(f"{self.path}: needs a migration; start the daemon once")
            return version
        try:
            for target in range(version + 1, SCHEMA_VERSION + 1):
                with self._transaction():
                    for statement in _MIGRATIONS[target].split(";"):
                        if statement.strip():
                            self._conn.execute(statement)
                    self._conn.execute(f"PRAGMA user_version = {target}")
        except sqlite3.OperationalError as e:
            raise StoreError(f"{self.path}: cannot write ({e})") from None
        return SCHEMA_VERSION

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn)

    # -- feeds ----------------------------------------------------------------

    def sync_feeds(self, feeds: Iterable[FeedConfig], now: datetime) -> None:
        """Make the feeds table match the config; feeds no longer configured keep their data."""
        configured = {f.url: f for f in feeds}
        with self._transaction():
            self._conn.execute("UPDATE feeds SET active = 0")
            for feed in configured.values():
                self._conn.execute(
                    "INSERT INTO feeds (url, name, subscribed_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (url) DO UPDATE SET name = excluded.name, active = 1",
                    (feed.url, feed.name, now.timestamp()),
                )

    def feed_states(self, *, active_only: bool = True) -> list[FeedState]:
        """Every configured feed, in name order."""
        where = "WHERE active = 1" if active_only else ""
        rows = self._conn.execute(
            f"SELECT {_FEED_COLUMNS} FROM feeds {where} ORDER BY name COLLATE NOCASE, url"
        )
        states = []
        for row in rows:
            try:
                states.append(_feed_state(row))
            except (TypeError, ValueError, OverflowError):
                continue  # a damaged row: skipped, never fatal
        return states

    def feed_state(self, url: FeedURL) -> FeedState | None:
        row = self._conn.execute(f"SELECT {_FEED_COLUMNS} FROM feeds WHERE url = ?", (url,))
        found = row.fetchone()
        return None if found is None else _feed_state(found)

    def known_hashes(self, url: FeedURL) -> dict[EntryKey, str]:
        """Keys and raw hashes of a feed's stored entries: what a parse need not redo."""
        rows = self._conn.execute("SELECT key, raw_hash FROM entries WHERE feed_url = ?", (url,))
        return {EntryKey(k): h for k, h in rows}

    # -- writing a poll ---------------------------------------------------------

    def record_poll(self, feed: FeedConfig, outcome: PollOutcome, now: datetime) -> PollRecord:
        """Write a poll's state and entries in one transaction."""
        with self._transaction():
            record = self._write_entries(feed, outcome, now) if outcome.entries else PollRecord()
            self._write_state(outcome.state)
        return record

    def _write_state(self, state: FeedState) -> None:
        self._conn.execute(
            "UPDATE feeds SET link = ?, title = ?, status = ?, http_status = ?, last_error = ?,"
            " last_polled_at = ?, last_success_at = ?, next_poll_at = ?,"
            " consecutive_failures = ?, etag = ?, last_modified = ?, body_hash = ?,"
            " moved_to = ?,"
            " entry_count = (SELECT count(*) FROM entries WHERE feed_url = feeds.url),"
            " latest_entry_at = (SELECT max(published) FROM entries WHERE feed_url = feeds.url)"
            " WHERE url = ?",
            (
                state.link,
                state.title,
                state.status.value,
                state.http_status,
                state.last_error,
                _ts(state.last_polled_at),
                _ts(state.last_success_at),
                _ts(state.next_poll_at),
                state.consecutive_failures,
                state.validators.etag,
                state.validators.last_modified,
                state.validators.body_hash,
                state.moved_to,
                state.url,
            ),
        )

    def _existing(
        self, url: FeedURL, now: datetime
    ) -> tuple[dict[EntryKey, ExistingEntry], dict[str, EntryKey]]:
        by_key: dict[EntryKey, ExistingEntry] = {}
        by_link: dict[str, EntryKey] = {}
        rows = self._conn.execute(
            "SELECT key, published, first_seen, raw_hash, hidden, link FROM entries"
            " WHERE feed_url = ?",
            (url,),
        )
        for key, published, first_seen, raw_hash, hidden, link in rows:
            try:
                existing = ExistingEntry(
                    published=_required_dt(published),
                    first_seen=_required_dt(first_seen),
                    raw_hash=raw_hash,
                    hidden=Hidden(hidden) if hidden else None,
                )
            except (TypeError, ValueError, OverflowError):
                # A damaged row: treat it as seen now, so the next update repairs it.
                existing = ExistingEntry(published=now, first_seen=now, raw_hash="")
            by_key[EntryKey(key)] = existing
            if link:
                by_link[link] = EntryKey(key)
        return by_key, by_link

    def _write_entries(self, feed: FeedConfig, outcome: PollOutcome, now: datetime) -> PollRecord:
        url = feed.url
        existing, by_link = self._existing(url, now)
        expunged = {
            EntryKey(k)
            for (k,) in self._conn.execute("SELECT key FROM expunged WHERE feed_url = ?", (url,))
        }
        first_delivery = not existing
        changed = [p for p in outcome.entries if p.changed and p.key not in expunged]
        provisional = [
            row
            for p in changed
            if (row := merge_entry(url, p, existing.get(p.key), now, feed.future_dates))
        ]
        renamed = matches_link_of([r for r in provisional if r.key not in existing], by_link)
        rows: list[EntryRow] = []
        for row in provisional:
            old_key = renamed.get(row.key)
            if old_key is not None:
                parsed = next(p for p in changed if p.key == row.key)
                merged = merge_entry(
                    url,
                    attrs.evolve(parsed, key=old_key),
                    existing[old_key],
                    now,
                    feed.future_dates,
                )
                if merged is not None:
                    rows.append(merged)
            else:
                rows.append(row)
        flooded = flood_hidden(rows, feed.new_feed_items) if first_delivery else frozenset()
        new = updated = 0
        for row in rows:
            if row.key in existing:
                updated += 1
                self._conn.execute(
                    "UPDATE entries SET raw_hash = ?, title = ?, link = ?, author = ?,"
                    " published = ?, updated = ?, first_seen = ?, content_html = ?, text = ?"
                    " WHERE id = ?",
                    (
                        row.raw_hash,
                        row.title,
                        row.link,
                        row.author,
                        row.published.timestamp(),
                        _ts(row.updated),
                        row.first_seen.timestamp(),
                        row.content_html,
                        row.text,
                        row.id,
                    ),
                )
                continue
            hidden = row.hidden
            if row.key in flooded:
                hidden = Hidden.FLOOD
            elif self._is_duplicate(url, row):
                hidden = Hidden.DUPLICATE
            new += 1
            self._conn.execute(
                "INSERT INTO entries (id, feed_url, key, raw_hash, title, link, author,"
                " published, updated, first_seen, content_html, text, hidden)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.id,
                    url,
                    row.key,
                    row.raw_hash,
                    row.title,
                    row.link,
                    row.author,
                    row.published.timestamp(),
                    _ts(row.updated),
                    row.first_seen.timestamp(),
                    row.content_html,
                    row.text,
                    hidden.value if hidden else None,
                ),
            )
        if feed.cache_keep_entries is not None:
            self._expunge(url, feed.cache_keep_entries)
        return PollRecord(new_entries=new, updated_entries=updated)

    def _is_duplicate(self, url: FeedURL, row: EntryRow) -> bool:
        """Whether another feed already brought this post (same id, or same link).

        The rule: the feed that delivered a post first keeps it; later copies
        are stored, hidden as duplicates, and shown by ``hidden=1``.
        """
        found = self._conn.execute(
            "SELECT 1 FROM entries e JOIN feeds f ON f.url = e.feed_url"
            " WHERE (e.key = ? OR e.link = ?) AND e.feed_url != ? AND f.active = 1"
            " AND coalesce(e.hidden, '') != 'duplicate' LIMIT 1",
            # A content-hash key names no post across feeds; a NULL matches nothing.
            (None if row.key.startswith("hash:") else row.key, row.link, url),
        ).fetchone()
        return found is not None

    def _expunge(self, url: FeedURL, keep: int) -> None:
        """Drop a feed's oldest entries beyond ``keep``, remembering them so they stay gone."""
        rows = self._conn.execute(
            "SELECT id, key FROM entries WHERE feed_url = ? ORDER BY published DESC, id DESC"
            " LIMIT -1 OFFSET ?",
            (url, keep),
        ).fetchall()
        for entry_id_, key in rows:
            self._conn.execute(
                "INSERT OR IGNORE INTO expunged (feed_url, key) VALUES (?, ?)", (url, key)
            )
            self._conn.execute("DELETE FROM entries WHERE id = ?", (entry_id_,))

    # -- reading entries ----------------------------------------------------------

    def entries(
        self,
        *,
        limit: int,
        before: tuple[float, str] | None = None,
        feed_url: FeedURL | None = None,
        include_hidden: bool = False,
        judge: Judge | None = None,
    ) -> list[StoredEntry]:
        """The newest entries of active feeds, newest first, after the ``before`` cursor.

        Entries hidden when stored (flood, duplicate) and those ``judge`` hides
        (filters) are left out unless ``include_hidden``; then they carry
        ``hidden``. Reads in batches so a filter that hides much still fills a page.
        """
        found: list[StoredEntry] = []
        cursor = before
        batch = max(limit * 2, 50)
        for _ in range(10_000):  # bounded: each batch advances the cursor
            rows = list(self._entry_batch(batch, cursor, feed_url, include_hidden))
            for row in rows:
                try:
                    hidden = Hidden(row[12]) if row[12] else None
                    if hidden is None and judge is not None:
                        hidden = judge(FeedURL(row[1]), str(row[13]))
                    entry = _stored_entry(row, hidden)
                except (TypeError, ValueError, OverflowError):
                    # One damaged row must not take the river down with it.
                    continue
                if hidden is None or include_hidden:
                    found.append(entry)
                    if len(found) >= limit:
                        return found
            if len(rows) < batch:
                break
            cursor = (rows[-1][6], rows[-1][0])
        return found

    def _entry_batch(
        self,
        batch: int,
        before: tuple[float, str] | None,
        feed_url: FeedURL | None,
        include_hidden: bool,
    ) -> Iterator[Sequence[Any]]:
        clauses = ["f.active = 1"]
        params: list[Any] = []
        if not include_hidden:
            clauses.append("e.hidden IS NULL")
        if feed_url is not None:
            clauses.append("e.feed_url = ?")
            params.append(feed_url)
        if before is not None:
            clauses.append("(e.published < ? OR (e.published = ? AND e.id < ?))")
            params.extend([before[0], before[0], before[1]])
        params.append(batch)
        return iter(
            self._conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM entries e JOIN feeds f ON f.url = e.feed_url"
                f" WHERE {' AND '.join(clauses)} ORDER BY e.published DESC, e.id DESC LIMIT ?",
                params,
            ).fetchall()
        )

    def hidden_counts(self) -> dict[FeedURL, dict[str, int]]:
        """Per feed, how many entries are hidden when stored, by reason."""
        counts: dict[FeedURL, dict[str, int]] = {}
        rows = self._conn.execute(
            "SELECT feed_url, hidden, count(*) FROM entries WHERE hidden IS NOT NULL"
            " GROUP BY feed_url, hidden"
        )
        for url, reason, n in rows:
            counts.setdefault(FeedURL(url), {})[reason] = n
        return counts

    def check_writable(self, wait: float = 2.0) -> None:
        """Take the write lock once, so a locked database is found at startup, not mid-poll."""
        self._conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("ROLLBACK")
        except sqlite3.OperationalError as e:
            raise StoreError(
                f"{self.path}: cannot write ({e}); is another planetd using it?"
            ) from None
        finally:
            self._conn.execute("PRAGMA busy_timeout = 10000")

    def integrity_check(self) -> str:
        return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, tb: object) -> None:
        if kind is None:
            self._conn.execute("COMMIT")
        elif self._conn.in_transaction:
            # SQLite may already have rolled back (a full disk does): the error that
            # got us here is the one to report, so a failed ROLLBACK must not hide it.
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")


def open_database(path: str, *, readonly: bool = False) -> Database:
    """Open and migrate the database at ``path``, or raise :class:`StoreError` saying why."""
    if path != ":memory:" and os.path.exists(path):
        if not os.access(path, os.R_OK):
            raise StoreError(f"{path}: not readable")
        if not readonly and not os.access(path, os.W_OK):
            raise StoreError(f"{path}: read-only; planetd needs to write its database")
        try:
            with open(path, "rb") as f:
                head = f.read(16)
        except OSError as e:
            raise StoreError(f"{path}: cannot read ({e.strerror})") from None
        if head and head != b"SQLite format 3\x00":
            raise StoreError(f"{path}: not an SQLite database; refusing to overwrite it")
    db = Database(path, readonly=readonly)
    try:
        db.migrate()
        if not readonly:
            db.check_writable()
    except BaseException:
        db._conn.close()
        raise
    return db


class ThreadLocalDatabases:
    """One read-only connection per reader thread, opened on first use."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[Database] = []
        self._lock = threading.Lock()

    def get(self) -> Database:
        db: Database | None = getattr(self._local, "db", None)
        if db is None:
            db = Database(self.path, readonly=True)
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def close_all(self) -> None:
        with self._lock:
            for db in self._all:
                db.close()
            self._all.clear()
