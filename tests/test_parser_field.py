"""Which parser read each feed's last document: stored, kept across 304s, shown by
``/api/feeds``, and added to an existing database without losing a row."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from builders import feed_config, utc
from feeds import atom
from planet_harness import Document, PlanetTestCase
from planetd import schema
from planetd.boundaries import FeedState, FetchKind, FetchResult, ParsedFeed, Validators
from planetd.decide import decide_poll
from planetd.parse import FEEDPARSER
from planetd.schedule import Bounds
from planetd.store import open_database

#: An RSS document with an unescaped ampersand: ill-formed XML, which only feedparser reads.
ILL_FORMED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Tom & Jerry</title><link>https://tj.example/</link>
<item><guid>tj-1</guid><title>Cats & mice</title><link>https://tj.example/1</link>
<pubDate>Sat, 04 Jul 2026 10:00:00 GMT</pubDate><description>chase</description></item>
</channel></rss>"""

WELL_FORMED = atom(
    "Blog", "https://blog.example/", [("tag:b,2026:1", "One", "2026-07-04T10:00:00Z", "<p>x</p>")]
).encode()


class ParserFieldTests(PlanetTestCase):
    """``/api/feeds`` names the parser that read each feed's last document."""

    async def test_each_feed_names_the_parser_that_read_it(self) -> None:
        """A well-formed Atom feed is read by the fast path ("lxml"); an ill-formed one by
        feedparser; a feed not yet polled says null; a 304 keeps the name; the health page
        says it too."""
        server = self.serve(
            {
                "/fast.xml": Document(WELL_FORMED, (("ETag", '"f1"'),)),
                "/broken.xml": Document(ILL_FORMED, (("ETag", '"b1"'),)),
            }
        )
        fast, broken = server.url("/fast.xml"), server.url("/broken.xml")
        planet = await self.planet_for([fast, broken])
        before = {f["url"]: f["parser"] for f in await planet.feeds()}
        assert before == {fast: None, broken: None}
        await planet.poll()
        after = {f["url"]: f["parser"] for f in await planet.feeds()}
        assert after == {fast: "lxml", broken: FEEDPARSER}
        assert len(await planet.entries()) == 2
        status, page = await planet.get("/feeds")
        assert status == 200
        assert b'<small class="health-parser">read by lxml</small>' in page
        assert b'<small class="health-parser">read by feedparser</small>' in page
        await planet.poll()
        assert [status for path, status in server.requests[-2:]] == [304, 304], server.requests
        again = {f["url"]: f["parser"] for f in await planet.feeds()}
        assert again == after


def test_a_schema_3_database_gains_the_column_and_keeps_every_row(tmp_path: Path) -> None:
    """Migration 4 on a database written by schema 3: every feed, entry and reading list
    keeps every value, and each feed's parser reads as unknown (None) until its next parse."""
    path = tmp_path / "v3.sqlite"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        for version in (1, 2, 3):
            for statement in schema._statements(schema._MIGRATIONS[version]):
                conn.execute(statement)
            if version in schema._FILLS:
                schema._FILLS[version](conn, None)
        conn.execute("PRAGMA user_version = 3")
        for n in range(3):
            conn.execute(
                "INSERT INTO feeds (url, name, status, http_status, etag, subscribed_at,"
                " entry_count, last_polled_at) VALUES (?, ?, 'ok', 200, ?, 5, 7, 1e9)",
                (f"https://f{n}/", f"Feed {n}", f'"e{n}"'),
            )
            for m in range(7):
                conn.execute(
                    "INSERT INTO entries (id, feed_url, key, raw_hash, title, published,"
                    " first_seen, content_html, text) VALUES (?, ?, ?, 'h', ?, ?, 0, '', 't')",
                    (f"{n:012x}{m:012x}", f"https://f{n}/", f"k{m}", f"Post {m}", 1e9 + m),
                )
        conn.execute("INSERT INTO reading_lists (url, feeds) VALUES ('https://l/', '[]')")
        feeds_before = conn.execute("SELECT * FROM feeds ORDER BY url").fetchall()
        entries_before = conn.execute("SELECT * FROM entries ORDER BY id").fetchall()
    db = open_database(str(path))
    try:
        conn = db._conn
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        feeds_after = conn.execute("SELECT * FROM feeds ORDER BY url").fetchall()
        assert [row[:-1] for row in feeds_after] == feeds_before
        assert [row[-1] for row in feeds_after] == [None, None, None]
        assert conn.execute("SELECT * FROM entries ORDER BY id").fetchall() == entries_before
        assert conn.execute("SELECT count(*) FROM reading_lists").fetchone()[0] == 1
        states = db.feed_states(active_only=False)
        assert [(s.name, s.entry_count, s.parser) for s in states] == [
            ("Feed 0", 7, None),
            ("Feed 1", 7, None),
            ("Feed 2", 7, None),
        ]
    finally:
        db.close()


def test_the_decision_records_the_parser_of_a_parsed_body_and_keeps_it_otherwise() -> None:
    """A parsed body names its parser in the next state; a 304, an unchanged body and a
    failed fetch keep the name the last parsed document gave."""
    feed = feed_config()
    state = FeedState(url=feed.url, name="Jane", parser="lxml")
    now = utc(2026, 7, 4, 12, 0)
    bounds = Bounds(min_interval=300.0, max_interval=86400.0)

    def parser_after(fetched: FetchResult, parsed: ParsedFeed | None) -> str | None:
        decided = decide_poll(feed, state, fetched, parsed, now=now, bounds=bounds, jitter=0.5)
        return decided.state.parser

    ok = FetchResult(kind=FetchKind.OK, http_status=200, validators=Validators(body_hash="n"))
    assert parser_after(ok, ParsedFeed(parser=FEEDPARSER)) == FEEDPARSER
    assert parser_after(ok, ParsedFeed(parser="lxml")) == "lxml"
    assert parser_after(ok, None) == "lxml"  # the body was byte-identical: not parsed
    not_modified = FetchResult(kind=FetchKind.NOT_MODIFIED, http_status=304)
    assert parser_after(not_modified, None) == "lxml"
    failed = FetchResult(kind=FetchKind.FAILED, error="timed out")
    assert parser_after(failed, None) == "lxml"
