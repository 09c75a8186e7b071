"""planetd's SQLite schema, its migrations, and the databases planetd refuses to touch.

Owns opening a connection the way planetd needs it (WAL, ``synchronous =
NORMAL``, foreign keys, a read-only mode that cannot write), the schema
version and the migrations to it, the transaction every write runs in, and
every refusal: a file that is not SQLite, another program's database, one
written by a newer planetd, one planetd may not read or write, one another
process holds locked. Each refusal is a :class:`StoreError` whose message
says why and what to do, and leaves the file as it was: a database is never
reset. The queries themselves are :mod:`planetd.store`'s.

Migration 2 adds the full-text index, whose tables, triggers and filling
are :mod:`planetd.searchindex`'s. Blocking, no Twisted; only the store's
modules import ``sqlite3``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

from planetd import searchindex, submissionstore
from planetd.searchindex import Progress

SCHEMA_VERSION = 6

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
    # Reading lists: the feeds each list named when last fetched (JSON), so a
    # restart serves them before the list is fetched again.
    2: """
    CREATE TABLE reading_lists (
        url TEXT PRIMARY KEY,
        feeds TEXT NOT NULL DEFAULT '[]',
        etag TEXT,
        last_modified TEXT,
        fetched_at REAL,
        last_error TEXT
    );
    """,
    # 3: the full-text index of the entries, filled from the rows already there.
    3: searchindex.SCHEMA,
    # 4: which parser read each feed's last document ("lxml" or "feedparser"; NULL
    # before the first parsed document). Existing rows keep every value.
    4: "ALTER TABLE feeds ADD COLUMN parser TEXT;",
    # 5: WebSub subscriptions, one per feed (queried by planetd.websubstore); a row
    # outlives its feed's config section until the hub verifies the unsubscription.
    5: """
    CREATE TABLE websub (
        feed_url TEXT PRIMARY KEY,
        hub TEXT NOT NULL,
        topic TEXT NOT NULL,
        secret TEXT NOT NULL,
        callback_id TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        requested_at REAL,
        lease_expires_at REAL,
        last_push_at REAL,
        pushes_accepted INTEGER NOT NULL DEFAULT 0,
        pushes_rejected INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );
    """,
    # 6: the queue of suggested feeds (``/submit``).
    6: submissionstore.SCHEMA,
}

#: What a migration does after its statements, in the same transaction.
_FILLS: dict[int, Callable[[sqlite3.Connection, Progress | None], object]] = {
    3: searchindex.fill,
}


def _statements(script: str) -> Iterator[str]:
    """The statements of ``script``, whole (a trigger's body holds semicolons too)."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""


def ts(moment: datetime | None) -> float | None:
    """A time as a column holds it: a POSIX timestamp (REAL), or NULL."""
    return None if moment is None else moment.timestamp()


def dt(value: float | None) -> datetime | None:
    """A time column read back as an aware UTC datetime, or None."""
    return None if value is None else datetime.fromtimestamp(value, tz=timezone.utc)


def required_dt(value: float) -> datetime:
    """A NOT NULL time column read back; a damaged value raises TypeError or ValueError."""
    return datetime.fromtimestamp(value, tz=timezone.utc)


class StoreError(Exception):
    """The database cannot be used; the message says why and what to do."""


#: Any error SQLite raises, for callers that report it without importing sqlite3.
DatabaseError = sqlite3.Error


def refuse_unusable_file(path: str, *, readonly: bool) -> None:
    """Refuse, before SQLite opens it, a file planetd may not read or write, or that is
    not an SQLite database (a config, notes): SQLite would overwrite it."""
    if path == ":memory:" or not os.path.exists(path):
        return
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


def connect(path: str, *, readonly: bool) -> sqlite3.Connection:
    """A connection to ``path`` (autocommit; :class:`Transaction` groups writes)."""
    if path != ":memory:":
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise StoreError(f"{path}: folder {folder} does not exist")
        if readonly and not os.path.exists(path):
            raise StoreError(f"{path}: no such database (run the daemon or poll first)")
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
        conn.execute("PRAGMA busy_timeout = 10000")
        if readonly:
            conn.execute("PRAGMA query_only = ON")
        # WAL with synchronous=NORMAL survives any crash of the process; only
        # a power loss can roll back the newest commits, never corrupt.
        # (WAL itself is switched on by migrate(), once the file is known to be ours.)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path}: not a usable SQLite database ({e})") from None
    return conn


def migrate(
    conn: sqlite3.Connection, path: str, *, readonly: bool, progress: Progress | None = None
) -> int:
    """Bring the schema to :data:`SCHEMA_VERSION`; refuse a newer or foreign database.

    ``progress`` hears how far a migration that rebuilds an index has got.
    """
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path}: not a usable SQLite database ({e})") from None
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: written by a newer planetd (schema {version}, this one knows "
            f"up to {SCHEMA_VERSION}); upgrade planetd or use another --database"
        )
    if version == 0 and tables:
        raise StoreError(
            f"{path}: an SQLite database of another program "
            f"(tables: {', '.join(sorted(tables))}); use another --database"
        )
    if not readonly:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if path != ":memory:" and str(mode).lower() != "wal":
            raise StoreError(f"{path}: cannot use write-ahead logging ({mode})")
    if readonly:
        if version < SCHEMA_VERSION:
            raise StoreError(f"{path}: needs a migration; start the daemon once")
        return version
    try:
        # A number without a migration is skipped: it only moves the version.
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with Transaction(conn):
                for statement in _statements(_MIGRATIONS.get(target, "")):
                    conn.execute(statement)
                if target in _FILLS:
                    _FILLS[target](conn, progress)
                conn.execute(f"PRAGMA user_version = {target}")
    except sqlite3.OperationalError as e:
        raise StoreError(f"{path}: cannot write ({e})") from None
    return SCHEMA_VERSION


def check_writable(conn: sqlite3.Connection, path: str, wait: float = 2.0) -> None:
    """Take the write lock once, so a locked database is found at startup, not mid-poll."""
    conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError as e:
        raise StoreError(f"{path}: cannot write ({e}); is another planetd using it?") from None
    finally:
        conn.execute("PRAGMA busy_timeout = 10000")


class Transaction:
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
