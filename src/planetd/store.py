"""SQLite storage: the database planetd reads and writes, one transaction per poll.

Owns durability (a feed's state and its entries land together or not at all,
in one transaction per poll), the queries of feeds and of the river, and
reading past damage (a damaged row is skipped when read, never fatal).
Writing a poll reads a :class:`planetd.plan.StoredFeed` snapshot, asks
:func:`planetd.plan.plan_entries` what to write and executes that plan
(the SQL of both sides is :mod:`planetd.entrywrite`'s): the store decides
nothing about renamed ids, flood, duplicates or retention. The schema, its
migrations and the databases planetd refuses are :mod:`planetd.schema`'s.

:class:`Database` is synchronous and knows nothing of Twisted;
:mod:`planetd.dbthreads` runs it on one writer thread and a small reader
pool so that SQLite never blocks the reactor. Must not import Twisted.
"""

from __future__ import annotations

import json
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
    FeedStatus,
    FeedURL,
    Hidden,
    Judge,
    ListedFeed,
    PollOutcome,
    PollRecord,
    ReadingListState,
    SearchHit,
    SearchQuery,
    SearchResults,
    StoredEntry,
    Subscription,
    Validators,
)
from planetd.config import is_database_url
from planetd.entrywrite import execute_plan, read_stored_feed
from planetd.plan import HASH_KEY_PREFIX, EntryPlan, plan_entries
from planetd.schema import DatabaseError, StoreError
from planetd.search import highlight_html
from planetd.searchindex import Progress
from planetd.statememo import FeedStateMemo
from planetd.submissionstore import SubmissionQueue
from planetd.subscriptions import feed_order

if TYPE_CHECKING:
    from planetd.boundaries import ReadsAllPlanets, ReadsPlanet

__all__ = ["Database", "DatabaseError", "StoreError", "ThreadLocalDatabases", "open_database"]

_FEED_COLUMNS = (
    "url, name, link, title, status, http_status, last_error, last_polled_at, "
    "last_success_at, next_poll_at, consecutive_failures, etag, last_modified, body_hash, "
    "moved_to, subscribed_at, entry_count, latest_entry_at, parser"
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
        last_polled_at=schema.dt(row[7]),
        last_success_at=schema.dt(row[8]),
        next_poll_at=schema.dt(row[9]),
        consecutive_failures=row[10],
        validators=Validators(etag=row[11], last_modified=row[12], body_hash=row[13]),
        moved_to=row[14],
        subscribed_at=schema.dt(row[15]),
        entry_count=row[16],
        latest_entry_at=schema.dt(row[17]),
        parser=row[18],
    )


def _stored_entry(row: Sequence[Any], hidden: Hidden | None) -> StoredEntry:
    return StoredEntry(
        id=EntryID(row[0]),
        feed_url=FeedURL(row[1]),
        key=EntryKey(row[2]),
        title=row[3],
        link=row[4],
        author=row[5],
        published=schema.required_dt(row[6]),
        updated=schema.dt(row[7]),
        first_seen=schema.required_dt(row[8]),
        content_html=row[9],
        feed_name=row[10],
        feed_link=row[11],
        hidden=hidden,
    )


def _search_hit(
    row: Sequence[Any] | None,
    judge: Judge | None,
    include_hidden: bool,
    unhidden: Collection[str] = (),
) -> SearchHit | None:
    """A search's row as a hit, or None if it is hidden (and hidden ones are left out)
    or damaged."""
    if row is None:
        return None
    try:
        hidden = Hidden(row[12]) if row[12] and row[0] not in unhidden else None
        if hidden is None and judge is not None:
            hidden = judge(FeedURL(row[1]), str(row[13]))
        entry = _stored_entry(row, hidden)
    except (TypeError, ValueError, OverflowError):
        return None
    if hidden is not None and not include_hidden:
        return None
    return SearchHit(entry=entry, snippet_html=highlight_html(str(row[14] or "")))


class Database:
    """One SQLite connection and planetd's queries over it. Use from one thread at a time."""

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

    # -- reading lists ------------------------------------------------------------

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

    # -- several planets ----------------------------------------------------------

    def first_delivery_beyond(self, feed_url: FeedURL, keep: int) -> list[EntryID]:
        """The entries of the feed's first delivery beyond its ``keep`` newest: what a
        planet with ``new_feed_items = keep`` hides (:mod:`planetd.planetview`).

        The first delivery is what the feed's first good poll stored (the
        entries first seen at the feed's earliest ``first_seen``), ranked as
        :func:`planetd.plan.flood_hidden` ranks it; entries hidden already
        are left out.
        """
        rows = self._conn.execute(
            "SELECT id FROM (SELECT id, hidden FROM entries WHERE feed_url = ? AND first_seen ="
            " (SELECT min(first_seen) FROM entries WHERE feed_url = ?)"
            " ORDER BY published DESC, key DESC LIMIT -1 OFFSET ?) WHERE hidden IS NULL",
            (feed_url, feed_url, keep),
        )
        return [EntryID(row[0]) for row in rows]

    def duplicates_alone_in(self, feeds: Collection[FeedURL]) -> list[tuple[EntryID, FeedURL]]:
        """Entries (and their feed) of ``feeds`` stored hidden as duplicates whose post no
        other entry of
        ``feeds`` shows: the feed that brought the post first is another planet's,
        so a planet of ``feeds`` shows this copy (:mod:`planetd.planetview`).

        A post is the same as :func:`planetd.plan.is_duplicate` says: the same key
        (not a content hash) or the same link.
        """
        if not feeds:
            return []
        scope = sorted(feeds)
        marks = ", ".join("?" * len(scope))
        rows = self._conn.execute(
            "SELECT e.id, e.feed_url FROM entries e WHERE e.hidden = ?"
            f" AND e.feed_url IN ({marks}) AND NOT EXISTS ("
            " SELECT 1 FROM entries o WHERE o.hidden IS NULL AND o.id != e.id"
            f" AND o.feed_url IN ({marks})"
            " AND ((o.key = e.key AND e.key NOT LIKE ?) OR (o.link = e.link)))",
            (Hidden.DUPLICATE.value, *scope, *scope, HASH_KEY_PREFIX + "%"),
        )
        return [(EntryID(row[0]), FeedURL(row[1])) for row in rows]


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
