"""The PostgreSQL store: planetd's queries over a ``postgresql://`` database, and its leases.

Owns what differs from SQLite once connected: :class:`PgDatabase` runs the
very queries of :class:`planetd.store.Database` (feeds, one transaction per
poll through :func:`planetd.plan.plan_entries` and :mod:`planetd.entrywrite`,
the river, reading lists) over :class:`PgConnection`, which speaks the part
of ``sqlite3.Connection`` those queries use (``?`` parameters become
psycopg's ``%s``); only what SQLite spells its own way is written here again:
opening, migrating, the integrity check and search (``tsvector``).

It also owns the leases that let several daemons share one planet
(:meth:`PgDatabase.claim`): a feed is polled by the node that claims it
while it is due, with ``SELECT ... FOR UPDATE SKIP LOCKED``; the claim is a
row of ``feed_claims`` that lasts ``lease_timeout`` seconds, and is dropped
in the very transaction that stores the poll. A dead node's claims run out.

Blocking, no Twisted: :mod:`planetd.pgthreads` runs it on threads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from planetd import pgschema
from planetd.boundaries import (
    Claim,
    EntryID,
    FeedConfig,
    FeedURL,
    Judge,
    PollOutcome,
    PollRecord,
    SearchHit,
    SearchQuery,
    SearchResults,
)
from planetd.search import HIT_END, HIT_START
from planetd.store import Database
from planetd.storerows import _ENTRY_COLUMNS, _search_hit

__all__ = ["PgConnection", "PgDatabase", "open_pg_database"]


@contextmanager
def _as_sqlite_errors() -> Iterator[None]:
    """psycopg's errors raised as the DB-API classes of ``sqlite3`` that callers catch
    (:data:`planetd.schema.DatabaseError` and its kin), whichever engine stores."""
    import psycopg

    try:
        yield
    except psycopg.IntegrityError as e:
        raise sqlite3.IntegrityError(str(e).strip()) from e
    except psycopg.OperationalError as e:
        raise sqlite3.OperationalError(str(e).strip()) from e
    except psycopg.Error as e:
        raise sqlite3.DatabaseError(str(e).strip()) from e


@lru_cache(maxsize=1024)
def _translate(sql: str) -> str:
    """SQLite's ``?`` parameters as psycopg's ``%s`` (a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


_TRANSACTION_COMMANDS = frozenset({"BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"})


class _Cursor:
    """A psycopg cursor as ``sqlite3.Cursor`` is used: iterate, fetch, count rows."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())

    def fetchone(self) -> Any:
        if self._cursor is None or self._cursor.description is None:
            return None
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        if self._cursor is None or self._cursor.description is None:
            return []
        return list(self._cursor.fetchall())

    @property
    def rowcount(self) -> int:
        return -1 if self._cursor is None else int(self._cursor.rowcount)


class PgConnection:
    """A psycopg connection in autocommit mode, driven as the SQLite queries drive theirs.

    ``BEGIN IMMEDIATE`` (:class:`planetd.schema.Transaction`) opens a
    transaction; ``?`` placeholders are psycopg's ``%s``.
    """

    def __init__(self, conn: Any) -> None:
        self.raw = conn
        self._nested = 0

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> _Cursor:
        with _as_sqlite_errors():
            return self._execute(sql, parameters)

    def _execute(self, sql: str, parameters: Sequence[Any]) -> _Cursor:
        command = sql.strip().upper()
        if command in _TRANSACTION_COMMANDS:
            return self._transaction_command(command)
        if not parameters:
            return _Cursor(self.raw.execute(sql))
        return _Cursor(self.raw.execute(_translate(sql), tuple(parameters)))

    def _transaction_command(self, command: str) -> _Cursor:
        """BEGIN inside a transaction joins it (its COMMIT is the outer one's); ROLLBACK
        ends the whole transaction."""
        if command == "BEGIN IMMEDIATE":
            if self.in_transaction:
                self._nested += 1
                return _Cursor(None)
            command = "BEGIN"
        elif command == "COMMIT" and self._nested:
            self._nested -= 1
            return _Cursor(None)
        elif command == "ROLLBACK":
            self._nested = 0
        return _Cursor(self.raw.execute(command))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = [tuple(r) for r in rows]
        if batch:
            with _as_sqlite_errors(), self.raw.cursor() as cursor:
                cursor.executemany(_translate(sql), batch)

    @property
    def in_transaction(self) -> bool:
        import psycopg.pq

        return bool(self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE)

    def close(self) -> None:
        self.raw.close()


class PgDatabase(Database):
    """One PostgreSQL connection and planetd's queries over it. One thread at a time."""

    def __init__(self, url: str, *, readonly: bool = False, conn: Any = None) -> None:
        # Database.__init__ would open an SQLite file: this sets what it sets, for PostgreSQL.
        self.path = url
        self.readonly = readonly
        self.pg = PgConnection(
            conn if conn is not None else pgschema.connect(url, readonly=readonly)
        )
        self._conn = cast(sqlite3.Connection, self.pg)
        self._memo = None  # the SQLite readers' shared memo of feed states: not here

    def close(self) -> None:
        self.pg.close()

    def migrate(self, progress: object = None) -> int:
        return pgschema.migrate(self.pg.raw, self.path, readonly=self.readonly)

    def check_writable(self, wait: float = 2.0) -> None:
        """PostgreSQL takes row locks: any number of daemons write at once."""

    def integrity_check(self) -> str:
        self.pg.execute("SELECT count(*) FROM feeds").fetchone()
        return "ok"

    # -- several daemons ---------------------------------------------------------------

    def claim(
        self, url: FeedURL, node: str, now: float, lease: float, host: str, per_host: int
    ) -> Claim:
        """Claim ``url`` for ``node`` for ``lease`` seconds if it is still due and unclaimed.

        Due means the stored ``next_poll_at`` (which another node moved if it
        polled the feed) is not after ``now``. A feed another transaction is
        claiming right now is skipped, not waited for (``SKIP LOCKED``). At
        most ``per_host`` live claims name one ``host`` ("" is no host, no
        limit), as far as committed claims show: claims of the same host made
        at the same instant by other threads or nodes may each pass, so the
        limit may be passed by at most the claims made at once.
        """
        with self._transaction():
            row = self.pg.execute(
                "SELECT f.next_poll_at, c.node, c.until FROM feeds f"
                " LEFT JOIN feed_claims c ON c.url = f.url"
                " WHERE f.url = ? FOR UPDATE OF f SKIP LOCKED",
                (url,),
            ).fetchone()
            if row is None:  # another node is claiming it this instant
                return Claim(state=None, retry_at=now + 1.0)
            next_poll_at, holder, until = row
            if next_poll_at is not None and next_poll_at > now + 0.001:
                return Claim(state=None, retry_at=float(next_poll_at))
            if holder is not None and holder != node and until > now:
                # Held: ask again soon (its poll is usually stored well before the lease ends).
                return Claim(state=None, retry_at=min(float(until), now + 1.0))
            state = self.feed_state(url)
            if host:
                # Best effort: claims other transactions are making at this instant are
                # not counted yet (a lock per host made them queue, at ~10 ms a claim).
                (busy,) = self.pg.execute(
                    "SELECT count(*) FROM feed_claims WHERE host = ? AND until > ? AND url != ?",
                    (host, now, url),
                ).fetchone()
                if busy >= per_host:
                    return Claim(state=None, retry_at=now + 1.0)
            self.pg.execute(
                "INSERT INTO feed_claims (url, node, until, host) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (url) DO UPDATE SET node = excluded.node, until = excluded.until,"
                " host = excluded.host",
                (url, node, now + lease, host),
            )
            return Claim(state=state, retry_at=now)

    def record_claimed_poll(
        self, feed: FeedConfig, outcome: PollOutcome, now: datetime, node: str
    ) -> PollRecord:
        """:meth:`record_poll`, dropping ``node``'s claim of the feed in the same transaction."""
        with self._transaction():
            record = self.record_poll(feed, outcome, now)
            self.pg.execute("DELETE FROM feed_claims WHERE url = ? AND node = ?", (feed.url, node))
        return record

    def generation(self) -> int:
        """How far the changes of the feeds every node has made have moved the counter
        (a trigger draws from the sequence in each writing transaction)."""
        row = self.pg.execute("SELECT last_value FROM planetd_generation").fetchone()
        return int(row[0]) if row else 0

    # -- search ------------------------------------------------------------------------

    def search(
        self,
        query: SearchQuery,
        *,
        limit: int,
        offset: int = 0,
        feed_url: FeedURL | None = None,
        include_hidden: bool = False,
        judge: Judge | None = None,
        feed_urls: Collection[FeedURL] | None = None,
        feeds: Collection[FeedURL] | None = None,
        unhidden: Collection[EntryID] = (),
    ) -> SearchResults:
        """One page of ``query``'s results, best first (``ts_rank``, then newest)."""
        from planetd import searchindex

        words = " ".join(_plain(t) for t in query.terms)
        clauses, params = searchindex.shown_where(
            feed_url, include_hidden, feed_urls, feeds, unhidden
        )
        vector = pgschema.SEARCH_VECTOR
        rows = self.pg.execute(
            f"SELECT {_ENTRY_COLUMNS}, ts_headline('english', e.text, q, ?) FROM entries e"
            " JOIN feeds f ON f.url = e.feed_url, plainto_tsquery('english', ?) q"
            f" WHERE {vector} @@ q AND {' AND '.join(clauses)}"
            f" ORDER BY ts_rank({vector}, q) DESC, e.published DESC, e.id DESC"
            " LIMIT ? OFFSET ?",
            (
                f"StartSel={HIT_START}, StopSel={HIT_END}, MaxWords=32, MinWords=8",
                words,
                *params,
                limit + 1,
                offset,
            ),
        ).fetchall()
        hits: list[SearchHit] = []
        for row in rows[:limit]:
            hit = _search_hit(row, judge, include_hidden)
            if hit is not None:
                hits.append(hit)
        more = len(rows) > limit
        return SearchResults(hits=tuple(hits), next_offset=offset + limit if more else None)


def _plain(term: str) -> str:
    """An FTS5 term (``"word"``, ``"a phrase"``, ``pre*``) as plain words."""
    return term.strip("*").strip('"').replace('""', '"')


def open_pg_database(url: str, *, readonly: bool = False, conn: Any = None) -> PgDatabase:
    """Connect to and migrate the database at ``url``, or raise :class:`StoreError`."""
    db = PgDatabase(url, readonly=readonly, conn=conn)
    try:
        db.migrate()
    except BaseException:
        db.close()
        raise
    return db
