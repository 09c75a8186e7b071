"""End to end: a real ``twistd -n planetd`` with two groups serves each group's river,
feeds and API, and picks up a changed group on SIGHUP."""

from __future__ import annotations

import signal
from pathlib import Path

import feedparser
import html5lib
import pytest

from conftest import Daemon, FeedServer
from feeds import atom, rss
from test_e2e import stop_cleanly

pytestmark = pytest.mark.e2e

PYTHON = [
    ("tag:py,2026:a", "Type hints in anger", "2026-07-04T09:30:00Z", "<p>Typed.</p>"),
    ("tag:py,2026:b", "Packaging, again", "2026-07-03T18:00:00Z", "<p>Wheels.</p>"),
]
TWISTED = [("tw-1", "Deferreds explained", "2026-07-04T00:00:00Z", "<p>callbacks</p>")]
JOBS = [("job-1", "Hiring a Twisted engineer", "2026-07-02T12:00:00Z", "<p>Apply.</p>")]

GROUPS = """
[group:community]
title = Community blog posts
description = What the community writes.
"""


def write_planet(tmp_path: Path, server: FeedServer, jobs_title: str = "Jobs") -> Path:
    (server.folder / "python.atom").write_text(atom("Python", "https://py.example.org/", PYTHON))
    (server.folder / "twisted.rss").write_text(rss("Twisted", "https://tw.example.org/", TWISTED))
    (server.folder / "jobs.rss").write_text(rss("Jobs", "https://jobs.example.org/", JOBS))
    config = tmp_path / "planet.ini"
    config.write_text(
        f"""[Planet]
name = Planet Groups
link = http://planet.example.org/
min_interval = 1s
poll_interval = 1h
{GROUPS}
[group:jobs]
title = {jobs_title}

[{server.url("python.atom")}]
name = Planet Python
group = Community

[{server.url("twisted.rss")}]
name = Planet Twisted
group = community, Jobs

[{server.url("jobs.rss")}]
name = Job board
group = jobs
"""
    )
    return config


def entry_titles(body: bytes) -> set[str]:
    """The titles of a feed's entries, read by feedparser, which must find it well formed."""
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return {e.title.split(": ", 1)[-1] for e in parsed.entries}


def test_a_daemon_serves_each_groups_river_feeds_and_entries(
    tmp_path: Path, feed_server: FeedServer, make_daemon
) -> None:
    """With two groups, ``/groups/SLUG/`` and its Atom, RSS 2.0, JSON Feed and OPML hold
    only the group's entries and feeds (Atom and RSS read by feedparser with no bozo);
    ``/api/entries?group=`` filters; the river names the groups beside each source; a
    SIGHUP that retitles a group shows the new title."""
    config = write_planet(tmp_path, feed_server)
    daemon: Daemon = make_daemon(config)
    daemon.start()
    daemon.wait_until(
        lambda: len(daemon.json("/api/entries")["entries"]) == 4, 30, "all four entries"
    )
    community = {"Type hints in anger", "Packaging, again", "Deferreds explained"}
    jobs = {"Deferreds explained", "Hiring a Twisted engineer"}
    for slug, expected in (("community", community), ("jobs", jobs)):
        for name in ("atom.xml", "rss20.xml"):
            status, headers, body = daemon.get(f"/groups/{slug}/{name}")
            assert status == 200 and "ETag" in headers
            assert entry_titles(body) == expected, (slug, name)
        items = daemon.json(f"/groups/{slug}/feed.json")["items"]
        assert {i["title"] for i in items} == expected
        api = daemon.json(f"/api/entries?group={slug}")["entries"]
        assert {e["title"] for e in api} == expected
        status, _, opml = daemon.get(f"/groups/{slug}/opml.xml")
        assert status == 200 and opml.count(b"<outline ") == 2
    by_title = {e["title"]: e for e in daemon.json("/api/entries")["entries"]}
    assert by_title["Deferreds explained"]["groups"] == ["community", "jobs"]
    assert by_title["Type hints in anger"]["groups"] == ["community"]
    assert daemon.get("/api/entries?group=nope")[0] == 404

    page = html5lib.parse(daemon.get("/")[2], namespaceHTMLElements=False)
    sidebar = [a.text for a in page.findall(".//ul[@class='groups']/li/a")]
    assert sidebar == ["Community blog posts", "Jobs"]
    shown = {
        article.find(".//h4/a").text: [
            a.text for a in article.findall(".//span[@class='entry-groups']/a")
        ]
        for article in page.iter("article")
    }
    assert shown["Deferreds explained"] == ["Community blog posts", "Jobs"]
    assert shown["Hiring a Twisted engineer"] == ["Jobs"]
    group_page = daemon.get("/groups/community/")[2].decode()
    assert "What the community writes." in group_page
    assert "Hiring a Twisted engineer" not in group_page

    write_planet(tmp_path, feed_server, jobs_title="Jobs and gigs")
    assert daemon.process is not None
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_until(
        lambda: b"Jobs and gigs" in daemon.get("/groups/jobs/")[2], 30, "the new group title"
    )
    assert entry_titles(daemon.get("/groups/jobs/atom.xml")[2]) == jobs
    stop_cleanly(daemon)
