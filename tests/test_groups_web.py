"""Groups on the web and on disk: each group's river, Atom, RSS 2.0, JSON Feed and OPML,
``/api/entries?group=``, the sidebar and the entries' group names, and ``planetd render``.

The app runs in memory (``RequestTraversalAgent``) over a real SQLite file, as in
``test_web.py``; ``planetd render`` runs as a subprocess, as a user runs it.
"""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import html5lib
import pytest
from treq.testing import RequestTraversalAgent
from twisted.internet.task import Clock
from twisted.web.client import readBody
from twisted.web.http_headers import Headers

from builders import parsed, utc
from conftest import planetd_cli, subprocess_env
from planetd.boundaries import FeedState, FeedStatus, PollOutcome
from planetd.config import parse_config
from planetd.dbthreads import InlineStore
from planetd.store import Database, open_database
from planetd.webface import web_face
from test_web import result_of

pytestmark = pytest.mark.filterwarnings("ignore:Using readBody with a transport:DeprecationWarning")

A, B, C = (f"https://{x}.example.org/feed" for x in "abc")

CONFIG = f"""[Planet]
name = Django <Aggregator>
link = http://planet.example.org/
owner_name = Owner
items_per_page = 20

[group:community]
title = Community blog posts
description = What the <community> writes.

[group:Jobs]
name = Jobs

[{A}]
name = Alpha
group = community, Jobs

[{B}]
name = Beta
group = Community

[{C}]
name = Gamma
"""

#: Each feed's entry keys, and the groups (slugs) its entries are in.
KEYS = {A: ["a0", "a1"], B: ["b0", "b1", "b2"], C: ["c0"]}
GROUPS_OF = {A: ["community", "jobs"], B: ["community"], C: []}


class GroupPlanet:
    """A planet with two groups over a real database, and GETs through the raw agent."""

    def __init__(self, folder: Path, text: str = CONFIG) -> None:
        self.config = parse_config(text, str(folder / "planet.ini"))
        self.db: Database = open_database(str(folder / "planet.sqlite"))
        self.clock = Clock()
        self.clock.advance(utc(2026, 7, 6).timestamp())
        self.db.sync_feeds(self.config.feeds, utc(2026, 7, 1))
        self.store = InlineStore(self.db)
        self.web = web_face(self.config, self.store, self.clock, rebuild_delay=0)
        self.agent = RequestTraversalAgent(self.web.app.resource())

    def add(self, url: str, *keys: str, day: int = 4) -> None:
        feed = next(f for f in self.config.feeds if f.url == url)
        state = FeedState(url=feed.url, name=feed.name, status=FeedStatus.OK, link="https://s/")
        entries = [parsed(k, utc(2026, 7, day, n)) for n, k in enumerate(keys)]
        outcome = PollOutcome(state=state, entries=entries)
        result_of(self.store.record_poll(feed, outcome, utc(2026, 7, 5)))

    def get(self, path: str) -> tuple[int, Any, bytes]:
        pending = self.agent.request(b"GET", b"http://planet.test" + path.encode(), Headers())
        self.agent.flush()
        response = result_of(pending)
        body = readBody(response)
        self.agent.flush()
        return response.code, response.headers, result_of(body)

    def json(self, path: str) -> Any:
        code, _, body = self.get(path)
        assert code == 200, body
        return json.loads(body)


@pytest.fixture
def planet(tmp_path: Path) -> Iterator[GroupPlanet]:
    p = GroupPlanet(tmp_path)
    for url, keys in KEYS.items():
        p.add(url, *keys)
    yield p
    p.db.close()


def titles_by_feed() -> dict[str, str]:
    """The title each stored entry gets (builders.parsed: ``Title KEY``), by key's feed."""
    return {f"Title {key}": url for url, keys in KEYS.items() for key in keys}


@pytest.mark.parametrize(("slug", "members"), [("community", {A, B}), ("jobs", {A})])
def test_each_groups_feeds_validate_and_hold_only_its_entries(
    planet: GroupPlanet, slug: str, members: set[str]
) -> None:
    """``/groups/SLUG/atom.xml`` and ``rss20.xml`` parse with no bozo flag, are titled with
    the group, and hold every entry of the group's feeds and no other."""
    expected = {t for t, url in titles_by_feed().items() if url in members}
    for name in ("atom.xml", "rss20.xml"):
        code, _, body = planet.get(f"/groups/{slug}/{name}")
        assert code == 200
        result = feedparser.parse(body)
        assert not result.bozo, result.get("bozo_exception")
        title = "Community blog posts" if slug == "community" else "Jobs"
        assert result.feed.title == f"Django <Aggregator>: {title}"
        shown = {e.title.split(": ", 1)[-1] for e in result.entries}
        assert shown == expected, name
    atom = feedparser.parse(planet.get(f"/groups/{slug}/atom.xml")[2])
    assert atom.feed.id == f"http://planet.example.org/groups/{slug}/atom.xml"
    if slug == "community":
        assert atom.feed.subtitle == "What the <community> writes."


def test_a_groups_json_feed_and_opml_hold_only_its_feeds(planet: GroupPlanet) -> None:
    """The group's JSON Feed is titled with the group and holds only its entries; its OPML
    lists only its feeds."""
    document = planet.json("/groups/jobs/feed.json")
    assert document["title"] == "Django <Aggregator>: Jobs"
    assert document["feed_url"] == "http://planet.example.org/groups/jobs/feed.json"
    assert {i["_planetd"]["feed_url"] for i in document["items"]} == {A}
    assert len(document["items"]) == 2
    code, headers, body = planet.get("/groups/community/opml.xml")
    assert code == 200 and headers.getRawHeaders("content-type")[0].startswith("text/x-opml")
    outlines = ET.fromstring(body).findall("./body/outline")
    assert {o.get("xmlUrl") for o in outlines} == {A, B}
    assert (
        ET.fromstring(body).findtext("./head/title") == "Django <Aggregator>: Community blog posts"
    )


def test_the_api_filters_by_group_and_every_entry_names_its_groups(planet: GroupPlanet) -> None:
    """``/api/entries?group=SLUG`` lists the group's entries only (with ``limit`` and
    ``before`` as usual); every entry carries ``groups``, the slugs of its feed's groups."""
    everything = planet.json("/api/entries")["entries"]
    assert len(everything) == 6
    for entry in everything:
        assert entry["groups"] == GROUPS_OF[entry["feed_url"]]
    jobs = planet.json("/api/entries?group=jobs")["entries"]
    assert {e["feed_url"] for e in jobs} == {A} and len(jobs) == 2
    first = planet.json("/api/entries?group=community&limit=3")
    rest = planet.json(f"/api/entries?group=community&limit=3&before={first['next']}")
    assert {e["feed_url"] for e in first["entries"] + rest["entries"]} == {A, B}
    assert len(first["entries"]) + len(rest["entries"]) == 5 and rest["next"] is None
    narrowed = planet.json(f"/api/entries?group=community&feed={B}")["entries"]
    assert {e["feed_url"] for e in narrowed} == {B}
    assert planet.json(f"/api/entries?group=jobs&feed={B}")["entries"] == []


def test_an_unknown_group_is_a_404_with_a_clear_error(planet: GroupPlanet) -> None:
    """A slug the planet has no group for: a 404 JSON error naming it on the API, a 404 on
    the pages, and a 404 for an output a group does not have."""
    code, headers, body = planet.get("/api/entries?group=nope")
    assert code == 404
    assert headers.getRawHeaders("content-type") == ["application/json"]
    assert json.loads(body) == {"error": "no group 'nope' in this planet"}
    assert planet.get("/groups/nope/")[0] == 404
    assert planet.get("/groups/nope/atom.xml")[0] == 404
    assert planet.get("/groups/jobs/index.html")[0] == 404
    assert planet.get("/groups/jobs/feeds")[0] == 404


def test_search_can_be_narrowed_to_a_group(planet: GroupPlanet) -> None:
    """``/api/entries?q=&group=`` finds only the group's entries, each with its groups."""
    found = planet.json("/api/entries?q=Title&group=jobs&limit=50")["entries"]
    assert {e["feed_url"] for e in found} == {A} and len(found) == 2
    assert all(e["groups"] == ["community", "jobs"] for e in found)
    assert len(planet.json("/api/entries?q=Title&limit=50")["entries"]) == 6


def html(body: bytes) -> Any:
    return html5lib.parse(body, namespaceHTMLElements=False)


def test_the_river_lists_the_groups_and_each_entry_shows_its_groups(planet: GroupPlanet) -> None:
    """The sidebar lists every group (its title, a link to its river); an entry shows the
    titles of its feed's groups beside its source, each a link; an entry in no group
    shows none."""
    page = html(planet.get("/")[2])
    groups = page.findall(".//ul[@class='groups']/li/a")
    assert [(a.text, a.get("href")) for a in groups] == [
        ("Community blog posts", "/groups/community/"),
        ("Jobs", "/groups/jobs/"),
    ]
    sources = {}
    for article in page.iter("article"):
        title = article.find(".//h4/a").text
        shown = article.findall(".//span[@class='entry-groups']/a")
        sources[title] = [a.text for a in shown]
        assert all(a.get("href").startswith("/groups/") for a in shown)
    assert sources["Title a0"] == ["Community blog posts", "Jobs"]
    assert sources["Title b1"] == ["Community blog posts"]
    assert sources["Title c0"] == []


def test_a_groups_river_has_its_title_entries_feeds_and_outputs(planet: GroupPlanet) -> None:
    """``/groups/SLUG/`` is titled with the group, says its description, shows only its
    entries and feeds, marks it current in the sidebar and links the group's own feeds."""
    code, headers, body = planet.get("/groups/community/")
    assert code == 200 and headers.getRawHeaders("content-type")[0].startswith("text/html")
    page = html(body)
    assert page.findtext(".//title") == "Community blog posts · Django <Aggregator>"
    assert page.findtext(".//h2[@class='group-heading']") == "Community blog posts"
    assert page.findtext(".//p[@class='group-description']") == "What the <community> writes."
    titles = {a.text for a in page.findall(".//article//h4/a")}
    assert titles == {t for t, url in titles_by_feed().items() if url in (A, B)}
    feeds = [a.text for a in page.findall(".//ul[@class='subscriptions']/li/a")]
    assert sorted(feeds) == ["Alpha", "Beta"]
    current = page.findall(".//ul[@class='groups']/li[@class='group group-current']/a")
    assert [a.text for a in current] == ["Community blog posts"]
    outputs = [a.get("href") for a in page.findall(".//ul[@class='outputs']/li/a")]
    assert "/groups/community/atom.xml" in outputs and "/feeds" in outputs
    assert page.find(".//link[@rel='stylesheet']").get("href") == "/planetd.css"
    assert planet.get("/groups/community")[0] in (301, 308)


def test_a_groups_river_pages_through_its_older_entries(tmp_path: Path) -> None:
    """A group's river holds ``items_per_page`` entries and links its older page, which
    continues with the group's entries only, until every one was shown once; a cursor
    planetd did not make is a 400, and an unknown group stays a 404."""
    p = GroupPlanet(tmp_path, CONFIG.replace("items_per_page = 20", "items_per_page = 2"))
    try:
        for url, keys in KEYS.items():
            p.add(url, *keys)
        seen: list[str] = []
        path: str | None = "/groups/community/"
        for _ in range(10):  # bounded: five entries, two a page
            if path is None:
                break
            code, _, body = p.get(path)
            assert code == 200
            page = html(body)
            seen += [a.text for a in page.findall(".//article//h4/a")]
            link = page.find(".//nav[@class='pager']/a")
            path = None if link is None else link.get("href")
            assert path is None or path.startswith("/groups/community/?before=")
        assert sorted(seen) == sorted(t for t, url in titles_by_feed().items() if url in (A, B))
        assert p.get("/groups/community/?before=bogus")[0] == 400
        assert p.get("/groups/nope/?before=bogus")[0] == 404
    finally:
        p.db.close()


def test_group_outputs_are_built_on_request_not_with_every_change(
    planet: GroupPlanet,
) -> None:
    """A change to the store rebuilds the planet's pages, not the groups': a group's
    outputs are built at the first request after a change, and then show it."""
    caches = planet.web._groups
    result_of(planet.web.outputs.refresh())
    assert planet.web.outputs.ready
    assert not any(cache.ready for cache in caches.values())
    before = planet.json("/groups/jobs/feed.json")["items"]
    assert caches["jobs"].ready and not caches["community"].ready
    planet.add(A, "a9", day=5)
    result_of(planet.web.outputs.refresh())
    assert not caches["community"].ready
    after = planet.json("/groups/jobs/feed.json")["items"]
    assert [i["title"] for i in after] == ["Title a9"] + [i["title"] for i in before]


def test_a_planet_without_groups_shows_no_group_markup(tmp_path: Path) -> None:
    """A planet whose config names no group has no groups sidebar, no group names beside
    sources, no ``/groups/`` pages, and ``groups`` is an empty list on every entry."""
    text = CONFIG.replace("group = community, Jobs\n", "").replace("group = Community\n", "")
    text = text.split("[group:community]")[0] + text.split("name = Jobs\n", 1)[1]
    p = GroupPlanet(tmp_path, text)
    try:
        p.add(A, "a0")
        body = p.get("/")[2]
        assert b"groups" not in body and b"Groups" not in body
        assert p.json("/api/entries")["entries"][0]["groups"] == []
        assert p.get("/groups/community/")[0] == 404
    finally:
        p.db.close()


def test_render_writes_every_groups_river_and_feeds(planet: GroupPlanet, tmp_path: Path) -> None:
    """``planetd render`` writes ``groups/SLUG/index.html`` and the group's Atom, RSS,
    JSON Feed and OPML for every group, with links relative to the folder."""
    config = tmp_path / "planet.ini"
    config.write_text(CONFIG)
    output = tmp_path / "site"
    result = subprocess.run(
        [*planetd_cli(), "render", str(config), "--database", str(tmp_path / "planet.sqlite"),
         "--output", str(output)],
        capture_output=True, text=True, env=subprocess_env(), timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for slug, members in (("community", {A, B}), ("jobs", {A})):
        folder = output / "groups" / slug
        assert sorted(p.name for p in folder.iterdir()) == [
            "atom.xml", "feed.json", "index.html", "opml.xml", "rss20.xml",
        ]  # fmt: skip
        for name in ("atom.xml", "rss20.xml"):
            parsed_feed = feedparser.parse((folder / name).read_bytes())
            assert not parsed_feed.bozo
            expected = {t for t, url in titles_by_feed().items() if url in members}
            assert {e.title.split(": ", 1)[-1] for e in parsed_feed.entries} == expected
        page = html((folder / "index.html").read_bytes())
        assert page.find(".//link[@rel='stylesheet']").get("href") == "../../planetd.css"
        outputs = [a.get("href") for a in page.findall(".//ul[@class='outputs']/li/a")]
        assert "./atom.xml" in outputs
        links = [a.get("href") for a in page.findall(".//ul[@class='groups']/li/a")]
        assert links == ["../../groups/community/", "../../groups/jobs/"]
    river = html((output / "index.html").read_bytes())
    links = [a.get("href") for a in river.findall(".//ul[@class='groups']/li/a")]
    assert links == ["./groups/community/", "./groups/jobs/"]


def test_a_group_no_feed_names_is_served_empty(tmp_path: Path) -> None:
    """A ``[group:SLUG]`` section that no feed names is a group with no entries: its
    river, feeds and API answer, empty (and its Atom still reads without a bozo flag)."""
    p = GroupPlanet(tmp_path, CONFIG + "\n[group:empty]\ntitle = Nothing yet\n")
    try:
        for url, keys in KEYS.items():
            p.add(url, *keys)
        assert p.json("/api/entries?group=empty")["entries"] == []
        result = feedparser.parse(p.get("/groups/empty/atom.xml")[2])
        assert not result.bozo and result.entries == []
        assert result.feed.title == "Django <Aggregator>: Nothing yet"
        assert p.json("/groups/empty/feed.json")["items"] == []
        assert p.get("/groups/empty/")[0] == 200
    finally:
        p.db.close()
