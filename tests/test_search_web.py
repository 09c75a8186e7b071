"""Search on the web face and the command line: ``/search``, ``/api/entries?q=`` and
``planetd search``, over a real SQLite file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import html5lib
import pytest
from treq.testing import RequestTraversalAgent

from builders import parsed, utc
from corpus import CORPUS, need
from htmlsafety import live_script_problems
from planetd.boundaries import SearchTooSlowError
from planetd.dbthreads import InlineStore
from planetd.schema import SCHEMA_VERSION
from planetd.store import Database, open_database
from planetd.webface import web_face
from test_web import Planet, header

pytestmark = pytest.mark.filterwarnings("ignore:Using readBody with a transport:DeprecationWarning")


def post(key: str, title: str, body: str, day: int) -> Any:
    return parsed(key, utc(2026, 7, day, 9), title=title, content_html=f"<p>{body}</p>", text=body)


@pytest.fixture
def planet(tmp_path: Path) -> Iterator[Planet]:
    p = Planet(tmp_path)
    p.add(
        0,
        post("a1", "Asyncio in depth", "asyncio tasks, the asyncio event loop", 4),
        post("a2", "Trio notes", "structured concurrency and nurseries", 3),
    )
    p.add(1, post("b1", "Weekly links", "links about many things and asyncio once", 5))
    p.add(1, *(post(f"f{n}", f"Filler {n}", f"weather report {n}", 1) for n in range(20)))
    yield p
    p.db.close()


def api(planet: Planet, query: str) -> tuple[int, Any]:
    code, _, body = planet.get(f"/api/entries?{query}")
    return code, json.loads(body)


def test_the_search_page_lists_the_best_matches_with_marked_snippets(planet: Planet) -> None:
    """``/search?q=`` is an HTML page in the river's layout: each hit with its source, title
    link, date and a snippet whose hits are in <mark>; the best match first."""
    code, headers, body = planet.get("/search?q=asyncio")
    assert code == 200
    assert header(headers, "content-type") == "text/html; charset=utf-8"
    assert "form-action 'self'" in header(headers, "content-security-policy")
    document = html5lib.parse(body.decode(), namespaceHTMLElements=False)
    hits = [a for a in document.iter("article") if a.get("class") == "hit"]
    assert ["".join(h.find("h4").itertext()) for h in hits] == [
        "Asyncio in depth",
        "Weekly links",
    ]
    snippet = hits[0].find("p")
    assert snippet.get("class") == "hit-snippet"
    assert [m.text for m in snippet.iter("mark")] == ["asyncio", "asyncio"]
    assert hits[0].find("h4/a").get("href") == "https://blog.example.org/a1"
    assert hits[0].find(".//time") is not None
    form = document.find(".//form")
    assert form.get("action") == "/search" and form.get("method") == "get"
    assert form.find(".//input").get("value") == "asyncio"


def test_the_river_has_a_search_form_that_needs_no_script(planet: Planet) -> None:
    """The river's sidebar carries a GET form to /search; a static copy (relative links)
    has none, since no daemon answers there."""
    _, headers, body = planet.get("/")
    document = html5lib.parse(body.decode(), namespaceHTMLElements=False)
    form = document.find(".//aside/form")
    assert form is not None and form.get("action") == "/search"
    assert form.find(".//input").get("name") == "q"
    assert "form-action 'self'" in header(headers, "content-security-policy")
    files = planet.web.site.static_files(planet.db, utc(2026, 7, 6))
    assert b"<form" not in files["index.html"]


def test_an_empty_search_shows_the_form_and_how_to_search(planet: Planet) -> None:
    """``/search`` with no words is the form and a line on the search language."""
    code, _, body = planet.get("/search")
    assert code == 200 and b"quoted words" in body
    code, _, body = planet.get("/search?q=")
    assert code == 200 and b'class="hit"' not in body


def test_fts5_syntax_in_a_query_is_plain_words_on_the_web(planet: Planet) -> None:
    """Input FTS5 would reject is searched as words: a 200, never a 500."""
    for typed in ['asyncio"', "NEAR(asyncio", "title:asyncio", "asyncio AND OR", "(("]:
        code, _, _ = planet.get(f"/search?q={quote(typed)}")
        assert code in (200, 400), typed
        code, _ = api(planet, f"q={quote(typed)}")
        assert code in (200, 400), typed
    assert planet.get(f"/search?q={quote('asyncio AND')}")[0] == 200


def test_a_query_that_cannot_run_is_a_400_saying_why(planet: Planet) -> None:
    """Too long, only exclusions, or a foreign cursor: a 400 with the reason (HTML on the
    page, JSON on the API)."""
    code, _, body = planet.get("/search?q=" + "x" * 300)
    assert code == 400 and b"at most 256 characters" in body
    code, document = api(planet, "q=-asyncio")
    assert code == 400 and "not excluded" in document["error"]
    code, document = api(planet, "q=asyncio&before=bogus")
    assert code == 400 and "cursor" in document["error"]


def test_api_search_has_the_entries_shape_with_snippets_and_pages(planet: Planet) -> None:
    """``/api/entries?q=`` answers the /api/entries shape (``groups`` included) plus
    ``snippet_html``; ``next`` pages through the same ranking, with ``limit``, ``feed`` and
    ``hidden`` as usual."""
    code, document = api(planet, "q=asyncio&limit=1")
    assert code == 200
    (first,) = document["entries"]
    assert first["title"] == "Asyncio in depth"
    assert set(first) == {
        "id", "feed_url", "feed_name", "title", "link", "author", "published", "updated",
        "content_html", "groups", "snippet_html",
    }  # fmt: skip
    assert "<mark>asyncio</mark>" in first["snippet_html"]
    code, second = api(planet, f"q=asyncio&limit=1&before={document['next']}")
    assert [e["title"] for e in second["entries"]] == ["Weekly links"]
    assert second["next"] is None
    feed = quote("https://a.example.org/feed", safe="")
    _, only_a = api(planet, f"q=asyncio&feed={feed}")
    assert [e["title"] for e in only_a["entries"]] == ["Asyncio in depth"]
    _, with_hidden = api(planet, "q=weather&hidden=1")
    assert all("hidden" in e for e in with_hidden["entries"])


def test_search_results_are_cached_per_store_generation(planet: Planet) -> None:
    """The same search answers the same ETag (a 304) until the store changes; a new entry
    shows in the next answer."""
    _, headers, _ = planet.get("/search?q=nurseries")
    etag = header(headers, "etag")
    assert planet.get("/search?q=nurseries", {"If-None-Match": etag})[0] == 304
    planet.add(0, post("a3", "More nurseries", "nurseries again", 6))
    code, headers, body = planet.get("/search?q=nurseries", {"If-None-Match": etag})
    assert code == 200 and b"More nurseries" in body


def test_a_search_over_its_time_budget_is_a_400(tmp_path: Path) -> None:
    """A search the store stops for taking too long is a 400 with the reason, not a 500."""

    class SlowDatabase(Database):
        def search(self, *args: Any, **kwargs: Any) -> Any:
            raise SearchTooSlowError("the search took longer than 0.2s")

    planet = Planet(tmp_path)
    slow = SlowDatabase(str(tmp_path / "planet.sqlite"), readonly=True)
    web = web_face(planet.config, InlineStore(slow), planet.clock, rebuild_delay=0)
    planet.agent = RequestTraversalAgent(web.app.resource())
    code, _, body = planet.get("/search?q=anything")
    assert code == 400 and b"took longer" in body
    code, _, body = planet.get("/api/entries?q=anything")
    assert code == 400 and b"took longer" in json.loads(body)["error"].encode()
    slow._conn.close()
    planet.db.close()


@pytest.mark.corpus
def test_snippets_of_the_xss_corpus_stay_dead(tmp_path: Path) -> None:
    """Every XSS vector of the corpus, stored as an entry's title and text, comes back in
    search snippets as escaped text: no element or attribute that could run script."""
    xss = need(CORPUS / "xss")
    cases = json.loads((xss / "html5lib-sanitizer-tests1.json").read_text(encoding="utf-8"))
    vectors = [c["input"] for c in cases]
    vectors += (xss / "h5sc-rss-vectors.txt").read_text(encoding="utf-8").splitlines()
    planet = Planet(tmp_path)
    entries = [
        parsed(f"x{n}", utc(2026, 7, 1), title=v[:200], text=f"needle {v} needle", content_html="")
        for n, v in enumerate(vectors)
    ]
    for start in range(0, len(entries), 50):
        planet.add(0, *entries[start : start + 50])
    seen = 0
    cursor = ""
    while True:
        code, document = api(planet, f"q=needle&limit=500&hidden=1{cursor}")
        assert code == 200
        for entry in document["entries"]:
            assert live_script_problems(entry["snippet_html"]) == []
            seen += 1
        if not document["next"]:
            break
        cursor = f"&before={document['next']}"
    assert seen == len(vectors)
    _, _, page = planet.get("/search?q=needle")
    assert live_script_problems(page.decode(), allow={"link", "meta"}, within_class="hit") == []
    planet.db.close()


def test_planetd_search_prints_the_same_ranking(tmp_path: Path, planet: Planet) -> None:
    """``planetd search`` runs the web's search core and prints date, source, title, link."""
    from test_cli import planetd

    config = tmp_path / "planet.ini"
    config.write_text(
        "[Planet]\nname = P\n\n[https://a.example.org/feed]\nname = Alpha\n\n"
        "[https://b.example.org/feed]\nname = Beta Blog\n"
    )
    result = planetd("search", config, "asyncio", "--database", tmp_path / "planet.sqlite")
    assert result.returncode == 0, result.stderr
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert [line[2] for line in lines] == ["Asyncio in depth", "Weekly links"]
    assert lines[0][0] == "2026-07-04T09:00:00Z" and lines[0][3] == "https://blog.example.org/a1"
    result = planetd("search", config, "-", "--database", tmp_path / "planet.sqlite")
    assert result.returncode == 1 and result.stderr.startswith("planetd: search:")
    result = planetd("search", config, "zzzzqqq", "--database", tmp_path / "planet.sqlite")
    assert (result.returncode, result.stdout) == (1, "")


def test_opening_an_existing_database_the_daemon_way_keeps_the_index(tmp_path: Path) -> None:
    """Reopening a database that already has the index leaves it as it was."""
    path = str(tmp_path / "x.sqlite")
    open_database(path).close()
    db = open_database(path)
    assert db._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_the_search_page_links_to_more_results(planet: Planet) -> None:
    """A search with more hits than a page holds links to the next page of the same
    ranking, which holds the rest."""
    planet.add(0, *(post(f"r{n}", f"Rain {n}", "rain again", 2) for n in range(30)))
    _, _, body = planet.get("/search?q=rain")
    document = html5lib.parse(body.decode(), namespaceHTMLElements=False)
    assert len([a for a in document.iter("article") if a.get("class") == "hit"]) == 25
    more = document.find(".//nav/a").get("href")
    assert more.startswith("/search?q=rain&before=")
    _, _, body = planet.get(more)
    document = html5lib.parse(body.decode(), namespaceHTMLElements=False)
    assert len([a for a in document.iter("article") if a.get("class") == "hit"]) == 5
    assert document.find(".//nav/a") is None
