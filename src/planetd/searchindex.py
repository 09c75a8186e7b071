"""The full-text index of the entries: its tables, how it stays in step, and its queries.

Owns the SQL of search. The index is two SQLite FTS5 tables with *external
content*: they hold only the index, and read the indexed text back from the
view ``entry_search_source`` (an entry's title, author, text and its feed's
name), so no text is stored twice:

- ``entry_search``: ``porter unicode61 remove_diacritics 2`` over title,
  author, source (the feed's name) and text (the plain text of the sanitized
  content): English stemming, and "café" and "cafe" are one word;
- ``entry_search_cjk``: ``trigram`` over title and text of the entries whose
  title or text holds CJK characters only (Chinese, Japanese and Korean are
  written without spaces; trigrams make any substring of three or more
  characters findable, at a size cost paid only where it is needed).

Triggers on ``entries`` and ``feeds`` keep both in step inside the very
transaction that writes an entry (insert, update, expunge) or renames a
feed: the index can never disagree with what it indexes. The migration that
creates them fills them from the rows already there, in batches, reporting
progress. A search ranks by ``bm25`` among the newest :data:`WINDOW`
matches, ties broken by recency (title hits first, then recency, when a
term is too common for bm25 to stay fast), under a time budget enforced by
SQLite's progress handler.

Blocking, no Twisted. What a query means is :mod:`planetd.search`'s.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from planetd.boundaries import FeedURL, SearchQuery, SearchTooSlowError
from planetd.search import HIT_END, HIT_START

#: Reports an index build's progress: rows indexed so far, rows in all.
Progress = Callable[[int, int], None]

#: A search ranks the newest this many matches (all of them for rarer words).
WINDOW = 2000
#: A term in this many entries or more is too broad to weigh with bm25 (see :func:`ranked`).
BROAD = 5000
#: A query with a broad term orders the newest this many matches (no bm25 to weigh).
BROAD_WINDOW = 500
#: Seconds a search may run before it is stopped.
TIME_BUDGET = 0.2
#: Relevance weights of title, author, source and text (bm25's column weights).
WEIGHTS = (8.0, 3.0, 2.0, 1.0)
#: Words of text around the hits a snippet shows.
SNIPPET_TOKENS = 32

_CJK_GLOB = "'*[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]*'"
_SOURCE = "(SELECT name FROM feeds WHERE url = {row}.feed_url)"


def _main(row: str, command: str = "") -> str:
    """An INSERT into ``entry_search`` of the entry ``row`` (``new``/``old``)."""
    head = "entry_search, rowid" if command else "rowid"
    first = f"'{command}', " if command else ""
    source = _SOURCE.format(row=row)
    return (
        f"INSERT INTO entry_search({head}, title, author, source, text) VALUES "
        f"({first}{row}.rowid, {row}.title, {row}.author, {source}, {row}.text)"
    )


def _cjk(row: str, command: str = "") -> str:
    """An INSERT into ``entry_search_cjk`` of ``row``, if it holds CJK characters."""
    head = "entry_search_cjk, rowid" if command else "rowid"
    first = f"'{command}', " if command else ""
    return (
        f"INSERT INTO entry_search_cjk({head}, title, text) SELECT {first}{row}.rowid,"
        f" {row}.title, {row}.text WHERE ({row}.title || ' ' || {row}.text) GLOB {_CJK_GLOB}"
    )


#: Migration 2: the index, its source view and the triggers that keep it in step.
SCHEMA = f"""
CREATE VIEW entry_search_source AS
    SELECT e.rowid AS rowid, e.title AS title, e.author AS author, f.name AS source,
           e.text AS text
    FROM entries e JOIN feeds f ON f.url = e.feed_url;
CREATE VIRTUAL TABLE entry_search USING fts5(
    title, author, source, text,
    content='entry_search_source', content_rowid='rowid',
    tokenize='porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE entry_search_cjk USING fts5(
    title, text,
    content='entry_search_source', content_rowid='rowid',
    tokenize='trigram'
);
CREATE TRIGGER entry_search_insert AFTER INSERT ON entries BEGIN
    {_main("new")}; {_cjk("new")};
END;
CREATE TRIGGER entry_search_delete AFTER DELETE ON entries BEGIN
    {_main("old", "delete")}; {_cjk("old", "delete")};
END;
CREATE TRIGGER entry_search_update AFTER UPDATE OF title, author, text, feed_url ON entries
BEGIN
    {_main("old", "delete")}; {_cjk("old", "delete")};
    {_main("new")}; {_cjk("new")};
END;
CREATE TRIGGER entry_search_rename AFTER UPDATE OF name ON feeds
WHEN old.name IS NOT new.name BEGIN
    INSERT INTO entry_search(entry_search, rowid, title, author, source, text)
        SELECT 'delete', rowid, title, author, old.name, text FROM entries
        WHERE feed_url = new.url;
    INSERT INTO entry_search(rowid, title, author, source, text)
        SELECT rowid, title, author, new.name, text FROM entries WHERE feed_url = new.url;
END
"""

_TRIGGERS = ("entry_search_insert", "entry_search_delete", "entry_search_update")
_BATCH = 20_000


def fill(conn: sqlite3.Connection, progress: Progress | None = None) -> int:
    """Index every entry already stored (the migration's second half); returns the count.

    Runs inside the migration's transaction, in batches of rowids;
    ``progress`` hears of the start and of each batch.
    """
    low, high, total = conn.execute(
        "SELECT coalesce(min(rowid), 0), coalesce(max(rowid), -1), count(*) FROM entries"
    ).fetchone()
    done = 0
    if progress is not None:
        progress(done, total)
    for start in range(low, high + 1, _BATCH):
        bounds = (start, start + _BATCH - 1)
        done += conn.execute(
            "INSERT INTO entry_search(rowid, title, author, source, text)"
            " SELECT rowid, title, author, source, text FROM entry_search_source"
            " WHERE rowid BETWEEN ? AND ?",
            bounds,
        ).rowcount
        conn.execute(
            "INSERT INTO entry_search_cjk(rowid, title, text)"
            " SELECT rowid, title, text FROM entry_search_source"
            f" WHERE rowid BETWEEN ? AND ? AND (title || ' ' || text) GLOB {_CJK_GLOB}",
            bounds,
        )
        if progress is not None:
            progress(done, total)
    return done


def pause_index(conn: sqlite3.Connection) -> None:
    """Stop indexing entry writes (the benchmark's index-off run; never the daemon)."""
    for name in _TRIGGERS:
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")


@contextmanager
def time_budget(
    conn: sqlite3.Connection, seconds: float, clock: Callable[[], float] = time.monotonic
) -> Iterator[None]:
    """Stop any statement of the block that runs past ``seconds``: :class:`SearchTooSlowError`."""
    deadline = clock() + seconds
    conn.set_progress_handler(lambda: int(clock() > deadline), 2_000)
    try:
        yield
    except sqlite3.OperationalError as e:
        if "interrupt" in str(e):
            raise SearchTooSlowError(
                f"the search took longer than {seconds:g}s; try fewer or rarer words"
            ) from None
        raise
    finally:
        conn.set_progress_handler(None, 0)


def _marks(values: Collection[Any]) -> str:
    """``?, ?, ...``: one placeholder per value."""
    return ", ".join("?" * len(values))


def shown_where(
    feed_url: FeedURL | None,
    include_hidden: bool,
    feed_urls: Collection[FeedURL] | None = None,
    feeds: Collection[FeedURL] | None = None,
    unhidden: Collection[str] = (),
) -> tuple[list[str], list[Any]]:
    """Which entries a reader may see, as SQL conditions on ``e`` (entries) and ``f``
    (their feed) with their parameters: active feeds only, hidden entries only when
    asked, one feed if named, only those of ``feed_urls`` (a group's feeds) if given,
    and only ``feeds`` if given (one planet of several), where the entries
    ``unhidden`` names show although stored hidden. The river and search read
    through the same rule."""
    clauses = ["f.active = 1"]
    params: list[Any] = []
    if not include_hidden and unhidden:
        clauses.append(f"(e.hidden IS NULL OR e.id IN ({_marks(unhidden)}))")
        params.extend(sorted(unhidden))
    elif not include_hidden:
        clauses.append("e.hidden IS NULL")
    if feed_url is not None:
        clauses.append("e.feed_url = ?")
        params.append(feed_url)
    # Plain placeholders, not an engine's JSON functions: the same rule runs on
    # SQLite and on PostgreSQL; an empty set matches nothing.
    for narrowed in (feed_urls, feeds):
        if narrowed is not None:
            clauses.append(f"e.feed_url IN ({_marks(narrowed)})" if narrowed else "1 = 0")
            params.extend(sorted(narrowed))
    return clauses, params


def _table(query: SearchQuery) -> str:
    return "entry_search_cjk" if query.trigram else "entry_search"


def ranked(
    conn: sqlite3.Connection,
    query: SearchQuery,
    *,
    feed_url: FeedURL | None,
    include_hidden: bool,
    feed_urls: Collection[FeedURL] | None = None,
    feeds: Collection[FeedURL] | None = None,
    unhidden: Collection[str] = (),
    window: int = WINDOW,
    broad: int = BROAD,
) -> list[int]:
    """The rowids of ``query``'s matches, best first, among the newest ``window`` matches
    (by rowid: the order entries were first stored).

    When every term is in fewer than ``broad`` entries, they are ranked by
    bm25; scores that agree to three significant digits are a tie, broken by
    the newer publication date, then the id. bm25 reads every entry holding
    each term to weigh it, which a term found in most of a large planet's
    entries would make slow (and such a term weighs next to nothing): a query
    with a broad word ranks the newest :data:`BROAD_WINDOW` matches: those
    that hold its words in their title first, then the others, newest first
    in each.
    """
    table = _table(query)
    clauses, params = shown_where(feed_url, include_hidden, feed_urls, feeds, unhidden)

    def matches(expression: str, score: str, limit: int, since: int = 0) -> list[Any]:
        return list(
            conn.execute(
                f"SELECT s.rowid, {score}, e.published, e.id FROM {table} s"
                " JOIN entries e ON e.rowid = s.rowid JOIN feeds f ON f.url = e.feed_url"
                f" WHERE {table} MATCH ? AND s.rowid >= ? AND {' AND '.join(clauses)}"
                " ORDER BY s.rowid DESC LIMIT ?",
                (expression, since, *params, limit),
            )
        )

    if not any(_broad(conn, table, word, broad) for word in _words(query.terms)):
        weights = WEIGHTS if not query.trigram else (WEIGHTS[0], WEIGHTS[3])
        score = f"bm25({table}, {', '.join(map(str, weights))})"
        rows = matches(query.expression, score, window)
        rows.sort(key=lambda r: (_tied(r[1]), -r[2], _reverse(r[3])))
        return [r[0] for r in rows]
    # Title hits first among the newest matches, then the others; newest first in each.
    rows = matches(query.expression, "1", BROAD_WINDOW)
    if rows:
        title = f"{{title}} : {query.include} AND {query.expression}"
        first = {r[0] for r in matches(title, "0", BROAD_WINDOW, since=rows[-1][0])}
        rows = [(r[0], 0 if r[0] in first else 1, *r[2:]) for r in rows]
    rows.sort(key=lambda r: (r[1], -r[2], _reverse(r[3])))
    return [r[0] for r in rows]


def _words(terms: Iterable[str]) -> Iterator[str]:
    """Each word of ``terms`` on its own (a phrase costs bm25 what its words cost); a
    prefix stays whole."""
    for term in terms:
        if term.endswith("*"):
            yield term
        else:
            for word in term[1:-1].replace('""', '"').split():
                yield '"' + word.replace('"', '""') + '"'


def _broad(conn: sqlite3.Connection, table: str, term: str, broad: int) -> bool:
    """True if ``term`` is in ``broad`` entries or more (counting stops there)."""
    (found,) = conn.execute(
        f"SELECT count(*) FROM (SELECT rowid FROM {table} WHERE {table} MATCH ? LIMIT ?)",
        (term, broad),
    ).fetchone()
    return bool(found >= broad)


def _tied(score: float) -> float:
    """A bm25 score to three significant digits: closer scores are a tie."""
    return float(f"{score:.3g}")


def _reverse(text: str) -> tuple[int, ...]:
    """A key that sorts strings in reverse order (ids descending as a last tie-breaker)."""
    return tuple(-ord(c) for c in text)


def rows_with_snippets(
    conn: sqlite3.Connection, query: SearchQuery, rowids: Sequence[int], columns: str
) -> dict[int, tuple[Any, ...]]:
    """``columns`` of the entries ``rowids`` (aliases ``e`` and ``f``), each with its snippet
    last: the text around the hits, hits between :data:`HIT_START` and :data:`HIT_END`."""
    if not rowids:
        return {}
    table = _table(query)
    text_column = 1 if query.trigram else 3
    found = conn.execute(
        f"SELECT s.rowid, {columns}, snippet({table}, {text_column}, ?, ?, '…', ?)"
        f" FROM {table} s JOIN entries e ON e.rowid = s.rowid JOIN feeds f ON f.url = e.feed_url"
        f" WHERE {table} MATCH ? AND s.rowid IN ({', '.join('?' * len(rowids))})",
        (HIT_START, HIT_END, SNIPPET_TOKENS, query.expression, *rowids),
    )
    return {row[0]: tuple(row[1:]) for row in found}
