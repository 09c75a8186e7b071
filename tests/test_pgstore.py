"""The PostgreSQL store: the same refusals as SQLite's, the same versions, and its leases.

(Every query test of tests/test_store.py also runs on PostgreSQL through its ``db``
fixture; this file holds what only PostgreSQL has.)
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from builders import feed_config, parsed
from planetd.aggregation import Aggregation
from planetd.boundaries import FeedState, FeedStatus, ListedFeed, PollOutcome, ReadingListState
from planetd.config import parse_config
from planetd.dbthreads import Store
from planetd.pgstore import PgDatabase
from planetd.pgthreads import PgStore
from planetd.schema import SCHEMA_VERSION
from planetd.search import parse_query
from planetd.store import StoreError, open_database

NOW = datetime(2026, 7, 4, 12, tzinfo=timezone.utc)
A = feed_config("https://a.example/feed", name="Alice")
B = feed_config("https://a.example/other", name="Bob")


def _open(url: str) -> PgDatabase:
    db = open_database(url)
    assert isinstance(db, PgDatabase)
    return db


def test_a_new_database_is_migrated_to_the_current_version(pg_url: str) -> None:
    """An empty PostgreSQL database is given planetd's schema, at SQLite's version number."""
    _open(pg_url).close()
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT version FROM planetd_schema").fetchone() == (SCHEMA_VERSION,)


def test_reopening_keeps_feeds_and_reading_lists(pg_url: str) -> None:
    """What one connection stored, the next one reads (migrating twice is a no-op)."""
    db = _open(pg_url)
    db.sync_feeds([A], NOW)
    listed = ReadingListState(url=A.url, feeds=(ListedFeed("https://x.example/", "Х"),))
    db.save_reading_list(listed)
    db.close()
    db = _open(pg_url)
    assert [s.url for s in db.feed_states()] == [A.url]
    assert db.reading_lists() == [listed]
    db.close()


def test_a_database_from_a_newer_planetd_is_refused_untouched(pg_url: str) -> None:
    """A schema newer than this planetd knows is refused, saying so, and left as it was."""
    _open(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE planetd_schema SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="newer planetd"):
        open_database(pg_url)
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT version FROM planetd_schema").fetchone() == (
            SCHEMA_VERSION + 1,
        )


def test_another_programs_database_is_refused_untouched(pg_url: str) -> None:
    """A database with tables that are not planetd's is refused, naming them; nothing added."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE invoices (n int)")
    with pytest.raises(StoreError, match=r"another program.*invoices"):
        open_database(pg_url)
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    assert tables == [("invoices",)]


def test_read_only_mode_needs_a_migrated_database_and_refuses_writes(pg_url: str) -> None:
    """Read-only opening never migrates, and a read-only connection cannot write."""
    with pytest.raises(StoreError, match="needs a migration"):
        open_database(pg_url, readonly=True)
    _open(pg_url).close()
    db = open_database(pg_url, readonly=True)
    with pytest.raises(Exception, match="read-only"):
        db.sync_feeds([A], NOW)
    db.close()


def test_an_unreachable_server_is_a_store_error() -> None:
    """A URL no server answers is refused with a StoreError naming it (without a password)."""
    with pytest.raises(StoreError, match=r"postgresql://someone@127\.0\.0\.1:1/x: cannot connect"):
        open_database("postgresql://someone:secret@127.0.0.1:1/x")


def test_a_due_feed_is_claimed_by_one_node_until_its_poll_is_stored(pg_url: str) -> None:
    """Of two nodes asking for the same due feed, one gets it (with its stored state);
    the other is told to ask again soon; storing the poll ends the
    lease and moves the feed's next poll, so neither may poll it again before then."""
    one, two = _open(pg_url), _open(pg_url)
    one.sync_feeds([A], NOW)
    now = NOW.timestamp()
    first = one.claim(A.url, "one", now, 120.0, "a.example", 2)
    assert first.state is not None and first.state.status is FeedStatus.PENDING
    second = two.claim(A.url, "two", now, 120.0, "a.example", 2)
    assert second.state is None and second.retry_at == now + 1.0
    state = first.state.__class__(
        url=A.url,
        name=A.name,
        status=FeedStatus.OK,
        last_polled_at=NOW,
        next_poll_at=NOW + timedelta(hours=1),
    )
    one.record_claimed_poll(A, PollOutcome(state=state), NOW, "one")
    again = two.claim(A.url, "two", now + 1, 120.0, "a.example", 2)
    assert again.state is None and again.retry_at == now + 3600
    one.close()
    two.close()


def test_a_dead_nodes_lease_runs_out(pg_url: str) -> None:
    """A claim never released (its node died mid-poll) stops counting after the lease:
    another node then gets the feed."""
    db = _open(pg_url)
    db.sync_feeds([A], NOW)
    now = NOW.timestamp()
    assert db.claim(A.url, "dead", now, 120.0, "", 2).state is not None
    assert db.claim(A.url, "live", now + 119, 120.0, "", 2).state is None
    assert db.claim(A.url, "live", now + 121, 120.0, "", 2).state is not None
    db.close()


def test_claims_hold_the_per_host_limit_across_nodes(pg_url: str) -> None:
    """With ``per_host`` 1, a second feed of the same host waits while the first is
    claimed by any node, and is granted once that claim ends."""
    db = _open(pg_url)
    db.sync_feeds([A, B], NOW)
    now = NOW.timestamp()
    assert db.claim(A.url, "one", now, 120.0, "a.example", 1).state is not None
    refused = db.claim(B.url, "two", now, 120.0, "a.example", 1)
    assert refused.state is None and refused.retry_at == now + 1.0
    assert db.claim(B.url, "two", now + 121, 120.0, "a.example", 1).state is not None
    db.close()


def test_a_database_url_in_the_config_is_kept_as_written(tmp_path: Path) -> None:
    """``database = postgresql://...`` is a URL, not a path beside the config; and
    ``lease_timeout`` is read as a duration (default two minutes)."""
    text = "[Planet]\ndatabase = postgresql://planetd@db.example:5432/planet\nlease_timeout = 45s\n"
    planet = parse_config(text, str(tmp_path / "planet.ini"))
    assert planet.database == "postgresql://planetd@db.example:5432/planet"
    assert planet.lease_timeout == 45.0
    assert parse_config("[Planet]\n", str(tmp_path / "planet.ini")).lease_timeout == 120.0


def test_the_wiring_picks_the_store_the_database_names(tmp_path: Path) -> None:
    """A postgresql:// database gets the PostgreSQL store (with the config's lease and
    per-host limit) and its poller asks for claims; a file gets SQLite's, no claims."""
    from twisted.internet import reactor

    config = parse_config("[Planet]\nlease_timeout = 30s\nper_host_concurrency = 3\n", "p.ini")
    pg = Aggregation(config, "postgresql://u@127.0.0.1:1/x", reactor)  # type: ignore[arg-type]
    assert isinstance(pg.store, PgStore) and pg.poller.claims is pg.store
    assert (pg.store.lease_timeout, pg.store.per_host) == (30.0, 3)
    lite = Aggregation(config, str(tmp_path / "p.sqlite"), reactor)  # type: ignore[arg-type]
    assert isinstance(lite.store, Store) and lite.poller.claims is None


def test_search_finds_stemmed_words_with_highlighted_snippets(pg_url: str) -> None:
    """On PostgreSQL a search matches English stems in title and text, ranks title hits
    first, leaves hidden entries out, and marks the hits in the snippet."""
    db = _open(pg_url)
    db.sync_feeds([A], NOW)
    entries = (
        parsed("t", NOW - timedelta(days=2), title="Running servers", text="About ops."),
        parsed("x", NOW - timedelta(days=1), title="Notes", text="He runs a marathon daily."),
        parsed("n", NOW, title="Gardening", text="Nothing to see."),
    )
    state = FeedState(url=A.url, name=A.name, status=FeedStatus.OK, last_polled_at=NOW)
    db.record_poll(A, PollOutcome(state=state, entries=entries), NOW)
    results = db.search(parse_query("run"), limit=10)
    assert [h.entry.title for h in results.hits] == ["Running servers", "Notes"]
    assert "<mark>runs</mark>" in results.hits[1].snippet_html
    assert results.next_offset is None
    first = db.search(parse_query("run"), limit=1)
    assert len(first.hits) == 1 and first.next_offset == 1
    db.close()
