"""The web face: every output, its HTTP validators, compression and bad input.

The app is driven in memory with ``treq.testing.RequestTraversalAgent`` (the
agent under ``StubTreq``, used raw so that no client-side decompression hides
what was sent) over a real SQLite file. The daemon end-to-end test covers the
same app on a real socket.
"""

from __future__ import annotations

import gzip
import json
import posixpath
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import html5lib
import pytest
from treq.testing import RequestTraversalAgent
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.web.client import readBody
from twisted.web.http_headers import Headers

from builders import parsed, utc
from planetd.boundaries import FeedState, FeedStatus, FeedURL, PollOutcome
from planetd.config import parse_config
from planetd.dbthreads import InlineStore
from planetd.river import feed_id
from planetd.store import Database, open_database
from planetd.webface import web_face

pytestmark = pytest.mark.filterwarnings("ignore:Using readBody with a transport:DeprecationWarning")

CONFIG = """[Planet]
name = Planet <Test>
link = http://planet.example.org/
owner_name = Owner
owner_email = owner@example.org
items_per_page = 5
new_feed_items = 3

[https://a.example.org/feed]
name = Alpha <b>Blog</b>

[https://b.example.org/feed]
name = Beta Blog
"""


def result_of(d: Deferred[Any]) -> Any:
    """The result of a Deferred that must already have fired (everything here is in memory)."""
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, "the Deferred has not fired"
    if hasattr(results[0], "raiseException"):
        results[0].raiseException()
    return results[0]


class Planet:
    """A planet app over a real database, with helpers to add entries and make requests."""

    def __init__(self, folder: Path) -> None:
        self.config = parse_config(CONFIG, str(folder / "planet.ini"))
        self.db: Database = open_database(str(folder / "planet.sqlite"))
        self.clock = Clock()
        self.clock.advance(utc(2026, 7, 6).timestamp())
        self.db.sync_feeds(self.config.feeds, utc(2026, 7, 1))
        self.store = InlineStore(self.db)
        # Every test here reads right after it writes, on a clock that stands still:
        # pages rebuild at once (the daemon waits up to a second between rebuilds).
        self.web = web_face(self.config, self.store, self.clock, rebuild_delay=0)
        self.agent = RequestTraversalAgent(self.web.app.resource())

    def add(self, feed_index: int, *entries: Any) -> None:
        feed = self.config.feeds[feed_index]
        state = FeedState(url=feed.url, name=feed.name, status=FeedStatus.OK, link="https://site/")
        result_of(
            self.store.record_poll(feed, PollOutcome(state=state, entries=entries), utc(2026, 7, 5))
        )

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
        """A GET through the raw agent: no client-side decompression hides what was sent."""
        raw = Headers({k.encode(): [v.encode()] for k, v in (headers or {}).items()})
        pending = self.agent.request(b"GET", b"http://planet.test" + path.encode(), raw)
        self.agent.flush()
        response = result_of(pending)
        body_pending = readBody(response)
        self.agent.flush()
        return response.code, response.headers, result_of(body_pending)


@pytest.fixture
def planet(tmp_path: Path) -> Iterator[Planet]:
    p = Planet(tmp_path)
    p.add(0, *(parsed(f"a{n}", utc(2026, 7, 4, n)) for n in range(3)))
    p.add(1, *(parsed(f"b{n}", utc(2026, 7, 3, n)) for n in range(4)))
    yield p
    p.db.close()


def header(headers: Any, name: str) -> str | None:
    values = headers.getRawHeaders(name)
    return values[0] if values else None


PATHS = [
    "/", "/feeds", "/atom.xml", "/rss20.xml", "/opml.xml", "/feed.json", "/api/entries",
    "/api/feeds", "/planetd.css", "/api/entries?limit=2",
    f"/feeds/{feed_id('https://a.example.org/feed')}",
]  # fmt: skip


@pytest.mark.parametrize("path", PATHS)
def test_every_output_has_validators_and_answers_304(planet: Planet, path: str) -> None:
    """Each GET carries ETag and Last-Modified, and a matching If-None-Match gets a bodiless 304."""
    code, headers, body = planet.get(path)
    assert code == 200 and body
    etag = header(headers, "etag")
    assert etag and etag.startswith('"')
    assert header(headers, "last-modified")
    assert header(headers, "cache-control")
    code, _, body = planet.get(path, {"If-None-Match": etag})
    assert (code, body) == (304, b"")
    code, _, _ = planet.get(path, {"If-Modified-Since": header(headers, "last-modified")})
    assert code == 304


@pytest.mark.parametrize("path", ["/", "/atom.xml", "/api/entries", "/feed.json"])
def test_gzip_when_asked(planet: Planet, path: str) -> None:
    """A client that accepts gzip gets the same bytes compressed, with its own ETag."""
    _, plain_headers, plain = planet.get(path)
    code, headers, body = planet.get(path, {"Accept-Encoding": "gzip, deflate"})
    assert code == 200
    assert header(headers, "content-encoding") == "gzip"
    assert gzip.decompress(body) == plain
    assert header(headers, "vary") == "Accept-Encoding"
    assert header(headers, "etag") != header(plain_headers, "etag")
    code, _, _ = planet.get(
        path, {"Accept-Encoding": "gzip", "If-None-Match": header(headers, "etag")}
    )
    assert code == 304
    _, refused, _ = planet.get(path, {"Accept-Encoding": "gzip;q=0"})
    assert header(refused, "content-encoding") is None


def test_html_has_security_headers(planet: Planet) -> None:
    """HTML pages forbid inline script and sniffing: script may come from planetd's own
    files only; a river without the live river has no script element at all."""
    _, headers, body = planet.get("/")
    csp = header(headers, "content-security-policy") or ""
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == ["'self'"]
    assert header(headers, "x-content-type-options") == "nosniff"
    assert header(headers, "referrer-policy")
    document = html5lib.parse(body, namespaceHTMLElements=False)
    assert list(document.iter("script")) == []


def test_names_and_titles_are_escaped(planet: Planet) -> None:
    """Feed and planet names are plain text: markup in them shows as text, never as tags."""
    _, _, body = planet.get("/")
    assert b"Alpha &lt;b&gt;Blog&lt;/b&gt;" in body
    assert b"Planet &lt;Test&gt;" in body
    document = html5lib.parse(body, namespaceHTMLElements=False)
    assert not [b for b in document.iter("b") if "Blog" in "".join(b.itertext())]


def test_the_cache_follows_new_entries(planet: Planet) -> None:
    """A stored entry changes the page and its ETag; until then the same bytes are served."""
    _, first_headers, first = planet.get("/")
    _, again_headers, again = planet.get("/")
    assert again == first and header(again_headers, "etag") == header(first_headers, "etag")
    planet.add(0, parsed("fresh", utc(2026, 7, 5, 12), title="Fresh news"))
    _, headers, body = planet.get("/")
    assert b"Fresh news" in body
    assert header(headers, "etag") != header(first_headers, "etag")


def test_the_daemon_shows_a_new_entry_within_two_seconds(tmp_path: Path) -> None:
    """With the daemon's default rebuild delay, a page read right after a write may be the
    previous one, but the new entry is served within two seconds with no further write."""
    p = Planet(tmp_path)
    p.web = web_face(p.config, p.store, p.clock)
    p.agent = RequestTraversalAgent(p.web.app.resource())
    p.add(0, parsed("old", utc(2026, 7, 4), title="Old news"))
    assert b"Old news" in p.get("/")[2]
    p.add(0, parsed("fresh", utc(2026, 7, 5, 12), title="Fresh news"))
    p.clock.advance(0.5)
    assert b"Fresh news" not in p.get("/")[2]
    p.clock.advance(1.5)
    assert b"Fresh news" in p.get("/")[2]
    p.db.close()


def test_river_page_is_cut_and_links_to_older(planet: Planet) -> None:
    """items_per_page bounds the first page; its "Older entries" link leads to the rest."""
    _, _, body = planet.get("/")
    document = html5lib.parse(body, namespaceHTMLElements=False)
    assert len(list(document.iter("article"))) == 5
    older = [a.get("href") for a in document.iter("a") if a.get("rel") == "next"]
    assert len(older) == 1
    code, _, rest = planet.get(older[0])
    assert code == 200
    page2 = html5lib.parse(rest, namespaceHTMLElements=False)
    assert len(list(page2.iter("article"))) == 1


@pytest.mark.parametrize(
    "query",
    ["limit=-1", "limit=1000000000", "limit=abc", "limit=0", "before=garbage",
     "feed=https://unknown.example/feed", "hidden=maybe", "before=%ff%fe"],
)  # fmt: skip
def test_bad_query_parameters_get_a_json_400(planet: Planet, query: str) -> None:
    """Malformed parameters get a 400 with a JSON error, never a 500 or a traceback."""
    code, headers, body = planet.get("/api/entries?" + query)
    assert code == 400
    assert header(headers, "content-type") == "application/json"
    assert set(json.loads(body)) == {"error"}


def test_bad_river_cursor_is_a_400(planet: Planet) -> None:
    """An older-page link with a forged cursor is refused, not rendered."""
    code, _, _ = planet.get("/?before=nonsense")
    assert code == 400


def test_api_entries_pages_without_gaps_or_repeats(planet: Planet) -> None:
    """Following `next` from page to page visits every entry once, newest first."""
    seen: list[str] = []
    path = "/api/entries?limit=2"
    for _ in range(10):
        document = json.loads(planet.get(path)[2])
        seen.extend(e["id"] for e in document["entries"])
        if document["next"] is None:
            break
        path = f"/api/entries?limit=2&before={document['next']}"
    assert len(seen) == len(set(seen)) == 6
    full = json.loads(planet.get("/api/entries")[2])["entries"]
    assert [e["id"] for e in full] == seen
    assert [e["published"] for e in full] == sorted((e["published"] for e in full), reverse=True)


def test_api_entries_by_feed_and_hidden(planet: Planet) -> None:
    """`feed` narrows to one feed; `hidden=1` adds what the river hides, with the reason."""
    only_b = json.loads(planet.get("/api/entries?feed=https://b.example.org/feed")[2])
    assert {e["feed_url"] for e in only_b["entries"]} == {"https://b.example.org/feed"}
    # new_feed_items = 3: the fourth entry of the second feed's first delivery is hidden.
    assert len(only_b["entries"]) == 3
    with_hidden = json.loads(planet.get("/api/entries?hidden=1")[2])["entries"]
    assert [e["hidden"] for e in with_hidden].count("flood") == 1
    assert len(with_hidden) == 7


def test_feeds_page_and_unknown_feed(planet: Planet) -> None:
    """Each feed has a page; an unknown feed id is a 404."""
    code, _, body = planet.get(f"/feeds/{feed_id('https://b.example.org/feed')}")
    assert code == 200 and b"Beta Blog" in body
    assert planet.get("/feeds/ffffffffffff")[0] == 404
    code, _, health = planet.get("/feeds")
    assert code == 200 and b"1 flood" in health


def test_healthz_after_the_first_render(tmp_path: Path) -> None:
    """/healthz is 503 until the pages are rendered and the poller runs, then 200 ok."""
    p = Planet(tmp_path)
    assert p.get("/healthz")[0] == 503
    p.get("/")
    assert p.get("/healthz")[:3:2] == (200, b"ok\n")
    p.db.close()


def test_atom_and_rss_reparse_cleanly(planet: Planet) -> None:
    """feedparser reads planetd's Atom and RSS with no bozo flag and every page entry present."""
    for path, version in (("/atom.xml", "atom10"), ("/rss20.xml", "rss20")):
        result = feedparser.parse(planet.get(path)[2])
        assert not result.bozo, result.get("bozo_exception")
        assert result.version == version
        assert len(result.entries) == 5
    atom = feedparser.parse(planet.get("/atom.xml")[2])
    assert {e.source.title for e in atom.entries} == {"Alpha <b>Blog</b>", "Beta Blog"}


def test_json_feed_has_the_required_fields(planet: Planet) -> None:
    """JSON Feed 1.1: version, title, items each with id; planetd's extras under _planetd."""
    document = json.loads(planet.get("/feed.json")[2])
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["title"] == "Planet <Test>"
    assert len(document["items"]) == 5
    for item in document["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert "content_html" in item or "content_text" in item
        assert item["_planetd"]["feed_url"].startswith("https://")


def test_opml_lists_the_subscriptions(planet: Planet) -> None:
    """The OPML parses back to the configured feed list."""
    root = ET.fromstring(planet.get("/opml.xml")[2])
    assert root.get("version") == "2.0"
    urls = sorted(o.get("xmlUrl") for o in root.iter("outline"))
    assert urls == ["https://a.example.org/feed", "https://b.example.org/feed"]


def test_api_feeds_shape(planet: Planet) -> None:
    """/api/feeds has every INTERFACE.md field for every configured feed."""
    feeds = json.loads(planet.get("/api/feeds")[2])["feeds"]
    assert len(feeds) == 2
    for feed in feeds:
        assert {
            "url", "name", "link", "status", "http_status", "last_error", "last_polled_at",
            "last_success_at", "next_poll_at", "entry_count", "moved_to",
        } <= set(feed)  # fmt: skip
    assert {f["entry_count"] for f in feeds} == {3, 4}
    assert FeedURL("https://a.example.org/feed") in {f["url"] for f in feeds}


def test_an_operator_template_dir_restyles_the_river(tmp_path: Path) -> None:
    """`template_dir` templates override the shipped ones by name; the rest stay as shipped."""
    theme = tmp_path / "theme"
    theme.mkdir()
    (theme / "index.html").write_text(
        "<!DOCTYPE html><title>{{ planet.name }}</title>"
        "{% for day in days %}<h2>{{ day.heading }}</h2>{% endfor %}<p>house style</p>"
    )
    (theme / "planetd.css").write_text("body { color: rebeccapurple; }")
    folder = tmp_path / "planet"
    folder.mkdir()
    text = CONFIG.replace("[Planet]\n", f"[Planet]\ntemplate_dir = {theme}\n")
    (folder / "planet.ini").write_text(text)
    p = Planet(folder)
    p.config = parse_config(text, str(folder / "planet.ini"))
    p.web = web_face(p.config, p.store, p.clock)
    p.agent = RequestTraversalAgent(p.web.app.resource())
    p.add(0, parsed("x", utc(2026, 7, 4)))
    assert b"house style" in p.get("/")[2]
    assert b"04 Jul 2026" in p.get("/")[2]
    assert b"rebeccapurple" in p.get("/planetd.css")[2]
    assert b"Feed health" in p.get("/feeds")[2]
    p.db.close()


class CountingReader:
    """A :class:`ReadsPlanet` over a real database that counts the feed reads."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.calls: list[str] = []

    def feed_states(self, *, active_only: bool = True) -> list[FeedState]:
        self.calls.append("feed_states")
        return self.db.feed_states(active_only=active_only)

    def hidden_counts(self) -> Any:
        self.calls.append("hidden_counts")
        return self.db.hidden_counts()

    def entries(self, **kw: Any) -> Any:
        return self.db.entries(**kw)


def test_a_build_reads_the_feeds_once(planet: Planet) -> None:
    """Every fixed output (river, health page, OPML, /api/feeds) and every static file
    comes from ONE read of the feed states and hidden counts, not one read per output."""
    site = planet.web.site
    reader = CountingReader(planet.db)
    site.build_all(reader, utc(2026, 7, 6))
    assert sorted(reader.calls) == ["feed_states", "hidden_counts"]
    reader.calls.clear()
    files = site.static_files(reader, utc(2026, 7, 6))
    assert sorted(reader.calls) == ["feed_states", "hidden_counts"]
    assert len(files) == 9


def test_static_files_are_a_whole_relative_site(planet: Planet) -> None:
    """`planetd render`'s files: the five outputs, the stylesheet, the health page and one
    page per feed, every link relative and resolving to a file, and no "Older entries" link
    even when the daemon's river has an older page."""
    files = planet.web.site.static_files(planet.db, utc(2026, 7, 6))
    ids = [feed_id("https://a.example.org/feed"), feed_id("https://b.example.org/feed")]
    assert set(files) == {
        "index.html", "atom.xml", "rss20.xml", "opml.xml", "feed.json", "planetd.css",
        "feeds/index.html", *(f"feeds/{i}/index.html" for i in ids),
    }  # fmt: skip
    assert b'rel="next"' in planet.get("/")[2], "the daemon's river has an older page"
    index = files["index.html"].decode()
    assert "?before=" not in index and 'rel="next"' not in index
    assert len(list(html5lib.parse(index).iter("{http://www.w3.org/1999/xhtml}article"))) == 5
    for name, body in files.items():
        if not name.endswith(".html"):
            continue
        folder = name.rsplit("/", 1)[0] if "/" in name else ""
        for link in re.findall(r'(?:href|src)="([^"#]*)"', body.decode()):
            if link.startswith(("http:", "https:", "mailto:")):
                continue
            assert not link.startswith("/"), (name, link)
            target = posixpath.normpath(posixpath.join(folder, link))
            resolved = target if target in files else posixpath.join(target, "index.html")
            assert resolved.removeprefix("./") in files or target == ".", (name, link)
    assert files["planetd.css"] == planet.get("/planetd.css")[2]
    assert files["atom.xml"] == planet.get("/atom.xml")[2]
