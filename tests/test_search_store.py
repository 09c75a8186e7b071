"""Search over a real SQLite store: the index in step with writes, ranking, the language,
the time budget, the migration of an existing database, and HTML-safe snippets."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from builders import feed_config, parsed, utc
from planetd import schema, searchindex
from planetd.boundaries import (
    FeedConfig,
    FeedState,
    FeedStatus,
    Hidden,
    PollOutcome,
    SearchTooSlowError,
)
from planetd.search import parse_query
from planetd.store import Database, open_database

NOW = utc(2026, 7, 4, 12, 0)
A = feed_config("https://a.example/feed", name="Alice")
B = feed_config("https://b.example/feed", name="Bob's Café")


@pytest.fixture
def db() -> Iterator[Database]:
    """An in-memory store subscribed to feeds A and B."""
    database = open_database(":memory:")
    database.sync_feeds([A, B], NOW)
    yield database
    database.close()


def poll(db: Database, feed: FeedConfig, *entries: Any, now: datetime = NOW) -> None:
    """Record a good poll of ``feed`` that delivered ``entries``."""
    state = FeedState(url=feed.url, name=feed.name, status=FeedStatus.OK)
    db.record_poll(feed, PollOutcome(state=state, entries=entries), now)


def post(key: str, title: str, body: str, day: int = 1, **kw: Any) -> Any:
    """An entry published on day ``day`` of June 2026 whose text is its title and ``body``."""
    return parsed(
        key,
        utc(2026, 6, day, 12),
        title=title,
        content_html=f"<p>{body}</p>",
        text=f"{title}\n{body}",
        **kw,
    )


def titles(db: Database, text: str, **kw: Any) -> list[str]:
    """The titles a search finds, best first."""
    return [h.entry.title for h in db.search(parse_query(text), limit=50, **kw).hits]


FILLER = [post(f"f{n}", f"Filler {n}", f"weather report number {n} sunny") for n in range(30)]


# -- ranking ---------------------------------------------------------------------------


def test_a_title_hit_outranks_a_passing_mention(db: Database) -> None:
    """bm25 with the title weighted: the post about asyncio beats the one that names it once
    in a long text, even though the mention is newer."""
    poll(db, A, *FILLER)
    long_text = "a long post about many things " * 40 + "and asyncio once"
    poll(db, A, post("about", "Asyncio in depth", "asyncio tasks and asyncio loops", day=1))
    poll(db, B, post("mention", "Weekly links", long_text, day=20))
    assert titles(db, "asyncio") == ["Asyncio in depth", "Weekly links"]


def test_equal_scores_are_broken_by_recency(db: Database) -> None:
    """Entries that score the same come newest first."""
    poll(db, A, *FILLER)
    poll(db, A, *(post(f"p{d}", f"Release {d}", "twisted release notes", day=d) for d in (3, 9, 5)))
    assert titles(db, "twisted") == ["Release 9", "Release 5", "Release 3"]


def test_a_broad_word_ranks_title_hits_first_then_recency(db: Database) -> None:
    """A word in ``broad`` entries or more is not weighed by bm25 (too slow on a big planet):
    entries with the words in their title come first, then the others, newest first."""
    poll(db, A, post("old-title", "Python news", "python", day=1))
    poll(db, A, *(post(f"t{d}", f"Day {d}", "plain python text", day=d) for d in (5, 7, 6)))
    poll(db, B, post("new-title", "More python", "python", day=3))
    query = parse_query("python")
    ranked = searchindex.ranked(db._conn, query, feed_url=None, include_hidden=False, broad=3)
    title_of = dict(db._conn.execute("SELECT rowid, title FROM entries"))
    assert [title_of[r] for r in ranked] == [
        "More python",
        "Python news",
        "Day 7",
        "Day 6",
        "Day 5",
    ]
    assert searchindex.ranked(db._conn, query, feed_url=None, include_hidden=False) != ranked


def test_source_and_author_are_searched(db: Database) -> None:
    """A feed's name and an entry's author find it; diacritics are folded (café = cafe)."""
    poll(db, A, post("x", "Morning", "coffee", author="Guido Rossum"))
    poll(db, B, post("y", "Evening", "tea"))
    assert titles(db, "rossum") == ["Morning"]
    assert titles(db, "cafe") == ["Evening"]
    assert titles(db, "café") == ["Evening"]


def test_stemming_finds_other_forms(db: Database) -> None:
    """The porter stemmer: "running" finds "runs"."""
    poll(db, A, post("x", "Notes", "the server runs well"))
    assert titles(db, "running") == ["Notes"]


# -- the language ----------------------------------------------------------------------


def test_phrase_prefix_and_exclusion(db: Database) -> None:
    """Quoted phrases match words in order; word* matches a prefix; -word excludes."""
    poll(
        db,
        A,
        post("1", "One", "the event loop runs"),
        post("2", "Two", "loop over every event"),
        post("3", "Three", "asynchronous generators and trio"),
    )
    assert titles(db, '"event loop"') == ["One"]
    assert sorted(titles(db, "event loop")) == ["One", "Two"]
    assert titles(db, "asynchron*") == ["Three"]
    assert titles(db, "event -runs") == ["Two"]
    assert titles(db, 'event -"event loop"') == ["Two"]


@pytest.mark.parametrize(
    "typed", ['title:"x', "NEAR(event loop", "event OR", "AND", "*event", "e:v:e:n:t"]
)
def test_bad_syntax_is_plain_words(db: Database, typed: str) -> None:
    """What FTS5 would reject as syntax runs as plain words: no error, no crash."""
    poll(db, A, post("1", "One", "the event loop, NEAR and OR and AND"))
    db.search(parse_query(typed), limit=5)


def test_cjk_text_is_found_by_substring(db: Database) -> None:
    """CJK text (no spaces) is found by a substring of three or more characters through the
    trigram index, and by its first characters in the main index."""
    poll(db, A, post("1", "東京の話", "東京都庁の展望台について"), post("2", "Other", "plain"))
    assert titles(db, "都庁の") == ["東京の話"]
    assert titles(db, "東京") == ["東京の話"]
    assert titles(db, "展望台") == ["東京の話"]


# -- the index in step with the entries ------------------------------------------------


def test_updates_renames_and_expunges_keep_the_index_in_step(db: Database) -> None:
    """A changed entry is found by its new words only; a renamed feed by its new name; an
    expunged entry not at all; and FTS5's own integrity check agrees."""
    poll(db, A, post("1", "Draft", "first wording", raw_hash="h1"))
    poll(db, A, post("1", "Final", "second wording", raw_hash="h2"))
    assert titles(db, "first") == []
    assert titles(db, "second") == ["Final"]
    db.sync_feeds([feed_config(A.url, name="Alicia"), B], NOW)
    assert titles(db, "alicia") == ["Final"]
    assert titles(db, "alice") == []
    conn = db._conn
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("DELETE FROM entries")
    conn.execute("COMMIT")
    assert titles(db, "second") == []
    conn.execute("INSERT INTO entry_search(entry_search, rank) VALUES ('integrity-check', 1)")
    conn.execute(
        "INSERT INTO entry_search_cjk(entry_search_cjk, rank) VALUES ('integrity-check', 1)"
    )


def test_an_entry_and_its_index_row_land_in_one_transaction(db: Database) -> None:
    """A poll that fails midway writes neither the entry nor its index row."""

    class Boom(Exception):
        pass

    def failing(*args: Any) -> None:
        raise Boom

    state = FeedState(url=A.url, name=A.name, status=FeedStatus.OK)
    outcome = PollOutcome(state=state, entries=(post("1", "Lost", "vanishing words"),))
    original = db._write_state
    db._write_state = failing  # type: ignore[method-assign]
    with pytest.raises(Boom):
        db.record_poll(A, outcome, NOW)
    db._write_state = original  # type: ignore[method-assign]
    count = db._conn.execute(
        "SELECT count(*) FROM entry_search WHERE entry_search MATCH 'vanishing'"
    ).fetchone()[0]
    assert count == 0


# -- filters and paging ----------------------------------------------------------------


def test_feed_filter_hidden_entries_and_judged_ones(db: Database) -> None:
    """``feed_url`` narrows to one feed; entries hidden when stored or by the judge are left
    out unless asked for, and then carry their reason."""
    poll(db, A, post("1", "Alpha", "shared word"))
    poll(db, B, post("2", "Beta", "shared word"), post("3", "Gamma", "shared word spam"))
    db._conn.execute("UPDATE entries SET hidden = 'duplicate' WHERE title = 'Beta'")

    def judge(url: Any, text: str) -> Hidden | None:
        return Hidden.FILTER if "spam" in text else None

    assert titles(db, "shared", judge=judge) == ["Alpha"]
    assert titles(db, "shared", feed_url=B.url, judge=judge) == []
    found = db.search(parse_query("shared"), limit=10, include_hidden=True, judge=judge).hits
    assert {h.entry.title: h.entry.hidden for h in found} == {
        "Alpha": None,
        "Beta": Hidden.DUPLICATE,
        "Gamma": Hidden.FILTER,
    }


def test_pages_follow_each_other_without_gaps(db: Database) -> None:
    """``next_offset`` continues the same ranking: the pages together are every match once."""
    poll(db, A, *(post(f"{n}", f"Post {n}", "paging words", day=n + 1) for n in range(7)))
    query = parse_query("paging")
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = db.search(query, limit=3, offset=offset)
        seen += [h.entry.title for h in page.hits]
        offset = page.next_offset
    assert seen == [f"Post {n}" for n in range(6, -1, -1)]


# -- limits ----------------------------------------------------------------------------


def test_a_search_past_its_time_budget_is_stopped() -> None:
    """The progress handler stops a statement that runs past the budget: SearchTooSlowError,
    and the connection works afterwards."""
    conn = sqlite3.connect(":memory:")
    ticks = iter(range(10**9))
    slow = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT max(i) FROM n"
    budget = searchindex.time_budget(conn, 5, clock=lambda: float(next(ticks)))
    with pytest.raises(SearchTooSlowError, match="took longer"), budget:
        conn.execute(slow).fetchone()
    assert conn.execute("SELECT 1").fetchone() == (1,)


# -- snippets --------------------------------------------------------------------------


def test_snippets_escape_the_text_and_mark_the_hits(db: Database) -> None:
    """A snippet shows the text around the hit, escaped, the hit in <mark>: markup in an
    entry's text stays text."""
    body = 'see <script>alert("x")</script> and <img src=x onerror=alert(1)> asyncio here'
    poll(db, A, post("1", "Unsafe", body))
    (hit,) = db.search(parse_query("asyncio"), limit=5).hits
    assert "<mark>asyncio</mark>" in hit.snippet_html
    assert "<script" not in hit.snippet_html and "<img" not in hit.snippet_html
    assert "&lt;script&gt;" in hit.snippet_html


# -- the migration ---------------------------------------------------------------------


def test_a_schema_1_database_is_migrated_and_its_entries_indexed(tmp_path: Path) -> None:
    """An existing database (schema 1) gains the index at its first open: every stored entry
    is searchable, and the progress callback hears how far the build got."""
    path = tmp_path / "old.sqlite"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        for statement in schema._statements(schema._MIGRATIONS[1]):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        conn.execute(
            "INSERT INTO feeds (url, name, subscribed_at) VALUES ('https://a/', 'Old Feed', 0)"
        )
        for n in range(45):
            conn.execute(
                "INSERT INTO entries (id, feed_url, key, raw_hash, title, published, first_seen,"
                " content_html, text) VALUES (?, 'https://a/', ?, 'h', ?, ?, 0, '', ?)",
                (f"{n:024x}", f"k{n}", f"Old post {n}", 1e9 + n, f"archived words {n}"),
            )
    heard: list[tuple[int, int]] = []
    db = open_database(str(path), progress=lambda done, total: heard.append((done, total)))
    try:
        assert db._conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        assert heard and heard[-1] == (45, 45)
        results = db.search(parse_query("archived"), limit=100)
        assert len(results.hits) == 45
        assert len(db.search(parse_query('"old feed"'), limit=100).hits) == 45
    finally:
        db.close()
    reopened = open_database(str(path), readonly=True)
    assert len(reopened.search(parse_query("archived"), limit=100).hits) == 45
    reopened.close()


def test_fill_reports_progress_batch_by_batch(db: Database) -> None:
    """The index build reports each batch, ending at the number of entries."""
    poll(db, A, *FILLER)
    conn = db._conn
    conn.execute("INSERT INTO entry_search(entry_search) VALUES ('delete-all')")
    heard: list[tuple[int, int]] = []
    assert searchindex.fill(conn, lambda done, total: heard.append((done, total))) == 30
    assert heard[-1] == (30, 30)
    assert titles(db, "sunny")
