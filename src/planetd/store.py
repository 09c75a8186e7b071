"""SQLite storage: the database planetd reads and writes, one transaction per poll.

Owns durability (a feed's state and its entries land together or not at all,
in one transaction per poll), the queries of feeds and of the river, and
reading past damage (a damaged row is skipped when read, never fatal).
Writing a poll reads a :class:`planetd.plan.StoredFeed` snapshot, asks
:func:`planetd.plan.plan_entries` what to write and executes that plan
(the SQL of both sides is :mod:`planetd.entrywrite`'s): the store decides
nothing about renamed ids, flood, duplicates or retention. The schema, its
migrations and the databases planetd refuses are :mod:`planetd.schema`'s; a
row made a value is :mod:`planetd.storerows`'s; the reading lists' table and
the reads of several planets are parts of :class:`Database` kept in
:mod:`planetd.readingliststore` and :mod:`planetd.planetreads`.

:class:`Database` is synchronous and knows nothing of Twisted;
:mod:`planetd.dbthreads` runs it on one writer thread and a small reader
pool so that SQLite never blocks the reactor. Must not import Twisted.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from planetd import schema, searchindex, websubstore
from planetd.boundaries import (
    EntryID,
    EntryKey,
    FeedConfig,
    FeedState,
    FeedURL,
    Hidden,
    Judge,
    PollOutcome,
    PollRecord,
    SearchHit,
    SearchQuery,
    SearchResults,
    StoredEntry,
    Subscription,
)
from planetd.config import is_database_url
from planetd.entrywrite import execute_plan, read_stored_feed
from planetd.plan import EntryPlan, plan_entries
from planetd.planetreads import SeveralPlanetsReads
from planetd.readingliststore import ReadingListTable
from planetd.schema import DatabaseError, StoreError
from planetd.searchindex import Progress
from planetd.statememo import FeedStateMemo
from planetd.storerows import _ENTRY_COLUMNS, _FEED_COLUMNS, _feed_state, _search_hit, _stored_entry
from planetd.submissionstore import SubmissionQueue
from planetd.subscriptions import feed_order

if TYPE_CHECKING:
    from planetd.boundaries import ReadsAllPlanets, ReadsPlanet

__all__ = ["Database", "DatabaseError", "StoreError", "ThreadLocalDatabases", "open_database"]


class Database(ReadingListTable, SeveralPlanetsReads):
    """One SQLite connection and planetd's queries over it. Use from one thread at a time.

    The reading lists' queries and the reads of several planets are its parts
    (:mod:`planetd.readingliststore`, :mod:`planetd.planetreads`)."""

    def __init__(
        self, path: str, *, readonly: bool = False, memo: FeedStateMemo | None = None
    ) -> None:
        self.path = path
        self.readonly = readonly
        self._conn = schema.connect(path, readonly=readonly)
        #: Feed states already made from unchanged rows (shared by the reader connections).
        self._memo = memo

    def submission_queue(self) -> SubmissionQueue:
        """The queue of suggested feeds over this connection."""
        return SubmissionQueue(self._conn)

    def close(self) -> None:
        """Checkpoint the write-ahead log into the database and close: no journal left."""
        try:
            if not self.readonly:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._conn.close()

    def migrate(self, progress: Progress | None = None) -> int:
        """Bring the schema up to date, or raise :class:`StoreError` saying why not.

        ``progress`` hears how far a migration that builds the search index has got.
        """
        return schema.migrate(self._conn, self.path, readonly=self.readonly, progress=progress)

    def check_writable(self, wait: float = 2.0) -> None:
        """Take the write lock once, so a locked database is found at startup, not mid-poll."""
        schema.check_writable(self._conn, self.path, wait)

    def integrity_check(self) -> str:
        return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])

    def _transaction(self) -> schema.Transaction:
        return schema.Transaction(self._conn)

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
        """Every configured feed, in :func:`planetd.subscriptions.feed_order`."""
        where = "WHERE active = 1" if active_only else ""
        rows = self._conn.execute(f"SELECT {_FEED_COLUMNS} FROM feeds {where}")
        if self._memo is not None:
            return self._memo.states(rows, _feed_state)
        states = []
        for row in rows:
            try:
                states.append(_feed_state(row))
            except (TypeError, ValueError, OverflowError):
                continue  # a damaged row: skipped, never fatal
        return sorted(states, key=feed_order)

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
        """Write a poll's state and entries, as :mod:`planetd.plan` plans, in one transaction.

        The snapshot is read inside the transaction, so the plan is written
        over exactly what it was made from.
        """
        plan = EntryPlan()
        with self._transaction():
            if outcome.entries:  # a poll without entries has nothing to read or plan
                stored = read_stored_feed(self._conn, feed.url, outcome.entries)
                plan = plan_entries(feed, stored, outcome.entries, now)
                execute_plan(self._conn, feed.url, plan)
            self._write_state(outcome.state)
        return plan.record

    def _write_state(self, state: FeedState) -> None:
        self._conn.execute(
            "UPDATE feeds SET link = ?, title = ?, status = ?, http_status = ?, last_error = ?,"
            " last_polled_at = ?, last_success_at = ?, next_poll_at = ?,"
            " consecutive_failures = ?, etag = ?, last_modified = ?, body_hash = ?,"
            " moved_to = ?, parser = ?,"
            " entry_count = (SELECT count(*) FROM entries WHERE feed_url = feeds.url),"
            " latest_entry_at = (SELECT max(published) FROM entries WHERE feed_url = feeds.url)"
            " WHERE url = ?",
            (
                state.link,
                state.title,
                state.status.value,
                state.http_status,
                state.last_error,
                schema.ts(state.last_polled_at),
                schema.ts(state.last_success_at),
                schema.ts(state.next_poll_at),
                state.consecutive_failures,
                state.validators.etag,
                state.validators.last_modified,
                state.validators.body_hash,
                state.moved_to,
                state.parser,
                state.url,
            ),
        )

    # -- reading entries ----------------------------------------------------------

    def entries(
        self,
        *,
        limit: int,
        before: tuple[float, str] | None = None,
        feed_url: FeedURL | None = None,
        include_hidden: bool = False,
        judge: Judge | None = None,
        feed_urls: Collection[FeedURL] | None = None,
        feeds: Collection[FeedURL] | None = None,
        unhidden: Collection[EntryID] = (),
    ) -> list[StoredEntry]:
        """The newest entries of active feeds, newest first, after the ``before`` cursor.

        Entries hidden when stored (flood, duplicate) and those ``judge`` hides
        (filters) are left out unless ``include_hidden``; then they carry
        ``hidden``. Reads in batches so a filter that hides much still fills a page.
        With ``feed_urls`` (a group's feeds), only those feeds' entries.
        With ``feeds``, only those feeds' entries (one planet of several), with the
        entries ``unhidden`` names shown although stored hidden.
        """
        found: list[StoredEntry] = []
        cursor = before
        batch = max(limit * 2, 50)
        for _ in range(10_000):  # bounded: each batch advances the cursor
            rows = list(
                self._entry_batch(
                    batch, cursor, feed_url, include_hidden, feed_urls, feeds, unhidden
                )
            )
            for row in rows:
                try:
                    hidden = Hidden(row[12]) if row[12] and row[0] not in unhidden else None
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
        feed_urls: Collection[FeedURL] | None = None,
        feeds: Collection[FeedURL] | None = None,
        unhidden: Collection[EntryID] = (),
    ) -> Iterator[Sequence[Any]]:
        clauses, params = searchindex.shown_where(
            feed_url, include_hidden, feed_urls, feeds, unhidden
        )
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
        """One page of ``query``'s results, best first, from ``offset`` in the ranking.

        Hidden entries are left out as :meth:`entries` leaves them out. The
        whole read runs under :data:`planetd.searchindex.TIME_BUDGET`: a
        search that would run longer raises :class:`SearchTooSlowError`.
        """
        hits: list[SearchHit] = []
        with searchindex.time_budget(self._conn, searchindex.TIME_BUDGET):
            ranking = searchindex.ranked(
                self._conn,
                query,
                feed_url=feed_url,
                include_hidden=include_hidden,
                feed_urls=feed_urls,
                feeds=feeds,
                unhidden=unhidden,
            )
            position = offset
            while position < len(ranking) and len(hits) < limit:
                chunk = ranking[position : position + limit - len(hits)]
                rows = searchindex.rows_with_snippets(self._conn, query, chunk, _ENTRY_COLUMNS)
                position += len(chunk)
                for rowid in chunk:
                    hit = _search_hit(rows.get(rowid), judge, include_hidden, unhidden)
                    if hit is not None:
                        hits.append(hit)
        more = position < len(ranking)
        return SearchResults(hits=tuple(hits), next_offset=position if more else None)

    # -- push (WebSub): the queries are planetd.websubstore's ----------------------

    def subscriptions(self) -> list[Subscription]:
        """Every stored WebSub subscription."""
        return websubstore.load(self._conn)

    def websub_states(self) -> dict[FeedURL, Subscription]:
        """Each feed's WebSub subscription, by feed URL."""
        return {sub.feed_url: sub for sub in websubstore.load(self._conn)}

    def save_subscription(self, subscription: Subscription) -> None:
        with self._transaction():
            websubstore.save(self._conn, subscription)

    def forget_subscription(self, feed_url: FeedURL) -> None:
        with self._transaction():
            websubstore.forget(self._conn, feed_url)

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


def open_database(
    path: str, *, readonly: bool = False, progress: Progress | None = None
) -> Database:
    """Open and migrate the database at ``path``, or raise :class:`StoreError` saying why.

    ``progress`` hears how far a migration that builds the search index has got.
    A ``postgresql://`` URL opens :class:`planetd.pgstore.PgDatabase` instead.
    """
    if is_database_url(path):
        from planetd.pgstore import open_pg_database

        return open_pg_database(path, readonly=readonly)
    schema.refuse_unusable_file(path, readonly=readonly)
    db = Database(path, readonly=readonly)
    try:
        db.migrate(progress)
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
        self._memo = FeedStateMemo()
        self._all: list[Database] = []
        self._lock = threading.Lock()

    def get(self) -> Database:
        db: Database | None = getattr(self._local, "db", None)
        if db is None:
            db = Database(self.path, readonly=True, memo=self._memo)
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def close_all(self) -> None:
        with self._lock:
            for db in self._all:
                db.close()
            self._all.clear()


if TYPE_CHECKING:  # static conformance: a Database is what a page build reads
    _reads: type[ReadsPlanet] = Database
    _reads_all: type[ReadsAllPlanets] = Database
