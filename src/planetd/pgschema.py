"""planetd's PostgreSQL schema, its migrations, and the databases planetd refuses there.

Owns connecting to a ``postgresql://`` database the way planetd needs it
(autocommit, each write grouped by :class:`planetd.schema.Transaction`; a
read-only mode), the same :data:`planetd.schema.SCHEMA_VERSION` and the
migrations to it, and the same refusals as on SQLite: a database written by a
newer planetd, and one holding another program's tables. The version lives
in the one-row table ``planetd_schema`` (PostgreSQL has no ``user_version``).

The migrations are numbered as SQLite's are, so that both engines are at the
same version after the same planetd ran; PostgreSQL's first migration also
creates what only several daemons sharing one database need (the leases of
``feed_claims`` and the ``planetd_generation`` sequence that a trigger moves on
every change of a feed, which the other daemons watch: a sequence, not a
counter row, so that concurrent writers never wait on one row's lock). To add migration N: add
``N: "SQL"`` to :data:`MIGRATIONS` (and ``planetd.schema``'s, with the same
number); nothing else changes.

Blocking, no Twisted; only the store's modules import ``psycopg``.
"""

from __future__ import annotations

from typing import Any

from planetd.schema import SCHEMA_VERSION, StoreError

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE feeds (
        url TEXT COLLATE "C" PRIMARY KEY,
        name TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        link TEXT,
        title TEXT,
        status TEXT NOT NULL DEFAULT 'pending',
        http_status INTEGER,
        last_error TEXT,
        last_polled_at DOUBLE PRECISION,
        last_success_at DOUBLE PRECISION,
        next_poll_at DOUBLE PRECISION,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        etag TEXT,
        last_modified TEXT,
        body_hash TEXT,
        moved_to TEXT,
        subscribed_at DOUBLE PRECISION NOT NULL,
        entry_count INTEGER NOT NULL DEFAULT 0,
        latest_entry_at DOUBLE PRECISION
    );
    CREATE TABLE entries (
        id TEXT COLLATE "C" PRIMARY KEY,
        feed_url TEXT COLLATE "C" NOT NULL REFERENCES feeds(url),
        key TEXT COLLATE "C" NOT NULL,
        raw_hash TEXT NOT NULL,
        title TEXT NOT NULL,
        link TEXT,
        author TEXT,
        published DOUBLE PRECISION NOT NULL,
        updated DOUBLE PRECISION,
        first_seen DOUBLE PRECISION NOT NULL,
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
        feed_url TEXT COLLATE "C" NOT NULL,
        key TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (feed_url, key)
    );
    CREATE TABLE feed_claims (
        url TEXT COLLATE "C" PRIMARY KEY REFERENCES feeds(url),
        node TEXT NOT NULL,
        until DOUBLE PRECISION NOT NULL,
        host TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX feed_claims_host ON feed_claims (host, until);
    CREATE SEQUENCE planetd_generation;
    CREATE FUNCTION planetd_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM nextval('planetd_generation');
        RETURN NULL;
    END $$;
    CREATE TRIGGER feeds_changed AFTER INSERT OR UPDATE OR DELETE ON feeds
        FOR EACH STATEMENT EXECUTE FUNCTION planetd_bump();
    """,
    2: """
    CREATE TABLE reading_lists (
        url TEXT COLLATE "C" PRIMARY KEY,
        feeds TEXT NOT NULL DEFAULT '[]',
        etag TEXT,
        last_modified TEXT,
        fetched_at DOUBLE PRECISION,
        last_error TEXT
    );
    """,
    # 3: the full-text index (SQLite's FTS5 tables): here a GIN index over a tsvector.
    3: """
    CREATE INDEX entries_search ON entries USING gin (
        (setweight(to_tsvector('english', title), 'A')
         || setweight(to_tsvector('english', coalesce(author, '')), 'B')
         || setweight(to_tsvector('english', text), 'D'))
    );
    """,
}

#: The search index's expression, as migration 3 declares it (a query must repeat it).
SEARCH_VECTOR = (
    "(setweight(to_tsvector('english', e.title), 'A')"
    " || setweight(to_tsvector('english', coalesce(e.author, '')), 'B')"
    " || setweight(to_tsvector('english', e.text), 'D'))"
)


def shown(url: str) -> str:
    """``url`` as messages show it: without a password."""
    head, sep, tail = url.partition("://")
    if "@" in tail.split("/", 1)[0]:
        who, _, rest = tail.partition("@")
        return f"{head}{sep}{who.split(':', 1)[0]}@{rest}"
    return url


def connect(url: str, *, readonly: bool) -> Any:
    """A psycopg connection to ``url``, or :class:`StoreError` saying why not."""
    import psycopg

    options = "-c default_transaction_read_only=on" if readonly else ""
    try:
        return psycopg.connect(url, autocommit=True, options=options, connect_timeout=10)
    except psycopg.Error as e:
        raise StoreError(f"{shown(url)}: cannot connect ({str(e).strip()})") from None


def version_of(conn: Any, url: str) -> int:
    """The schema version of the database, 0 for an empty one; refuses a foreign one."""
    tables = {
        r[0]
        for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
    }
    if "planetd_schema" not in tables:
        if tables:
            raise StoreError(
                f"{shown(url)}: a PostgreSQL database of another program "
                f"(tables: {', '.join(sorted(tables))}); use another database"
            )
        return 0
    row = conn.execute("SELECT version FROM planetd_schema").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: Any, url: str, *, readonly: bool) -> int:
    """Bring the schema to :data:`SCHEMA_VERSION`; refuse a newer or foreign database.

    Every migration runs in one transaction under an advisory lock, so two
    daemons started at once migrate once.
    """
    import psycopg

    try:
        version = version_of(conn, url)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{shown(url)}: written by a newer planetd (schema {version}, this one knows "
                f"up to {SCHEMA_VERSION}); upgrade planetd or use another database"
            )
        if readonly:
            if version < SCHEMA_VERSION:
                raise StoreError(f"{shown(url)}: needs a migration; start the daemon once")
            return version
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(7206571)")  # 'planetd', once at a time
            version = version_of(conn, url)
            if version == 0:
                conn.execute("CREATE TABLE planetd_schema (version INTEGER NOT NULL)")
                conn.execute("INSERT INTO planetd_schema VALUES (0)")
            for target in range(version + 1, SCHEMA_VERSION + 1):
                conn.execute(MIGRATIONS[target])
                conn.execute("UPDATE planetd_schema SET version = %s", (target,))
    except psycopg.Error as e:
        raise StoreError(f"{shown(url)}: cannot migrate ({str(e).strip()})") from None
    return SCHEMA_VERSION
