"""End to end: a real ``twistd -n planetd`` polls a real feed server and serves the river."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import html5lib
import pytest

from conftest import Daemon, FeedServer
from feeds import atom, rss

pytestmark = pytest.mark.e2e

PYTHON_ENTRIES = [
    ("tag:py,2026:a", "Type hints in anger", "2026-07-04T09:30:00Z", "<p>Typed <b>code</b>.</p>"),
    ("tag:py,2026:b", "Packaging, again", "2026-07-03T18:00:00Z", "<p>Wheels.</p>"),
    ("tag:py,2026:c", "Title only", "2026-07-03T08:00:00Z", ""),
]
TWISTED_ITEMS = [
    ("tw-1", "Deferreds explained", "2026-07-04T00:00:00Z", "<p>callbacks</p>"),
    ("tw-2", "Klein routing", "2026-07-02T12:00:00Z", "<pre>@app.route('/')</pre>"),
]


def write_planet(tmp_path: Path, server: FeedServer) -> Path:
    (server.folder / "python.atom").write_text(
        atom("Python Blog", "https://py.example.org/", PYTHON_ENTRIES)
    )
    (server.folder / "twisted.rss").write_text(
        rss("Twisted Blog", "https://tw.example.org/", TWISTED_ITEMS)
    )
    config = tmp_path / "planet.ini"
    config.write_text(
        f"""[Planet]
name = Planet Test
link = http://planet.example.org/
owner_name = Test Owner
owner_email = owner@example.org
min_interval = 1s
poll_interval = 1h

[{server.url("python.atom")}]
name = Planet Python

[{server.url("twisted.rss")}]
name = Planet Twisted
"""
    )
    return config


def test_daemon_polls_serves_and_keeps_entries_across_restart(
    tmp_path: Path, feed_server: FeedServer, make_daemon
) -> None:
    """Every entry two feeds serve reaches /api/entries and the river, and survives a restart.

    After a restart with the feed server gone, the page shows every entry at
    once, before any feed has been polled again.
    """
    config = write_planet(tmp_path, feed_server)
    daemon: Daemon = make_daemon(config)
    daemon.start()
    daemon.wait_until(
        lambda: len(daemon.json("/api/entries")["entries"]) == 5, 30, "all five entries"
    )
    entries = daemon.json("/api/entries")["entries"]
    assert [e["title"] for e in entries] == [
        "Type hints in anger",
        "Deferreds explained",
        "Packaging, again",
        "Title only",
        "Klein routing",
    ]
    by_title = {e["title"]: e for e in entries}
    assert by_title["Type hints in anger"]["feed_name"] == "Planet Python"
    assert by_title["Type hints in anger"]["published"] == "2026-07-04T09:30:00Z"
    assert by_title["Type hints in anger"]["content_html"] == "<p>Typed <b>code</b>.</p>"
    assert by_title["Deferreds explained"]["feed_name"] == "Planet Twisted"
    assert by_title["Title only"]["content_html"] == ""

    feeds = daemon.json("/api/feeds")["feeds"]
    assert {f["status"] for f in feeds} == {"ok"}
    assert {f["entry_count"] for f in feeds} == {3, 2}

    status, headers, page = daemon.get("/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert '"GET / HTTP/1.1"' not in daemon.log(), "no access log unless access_log = yes"
    river = river_outline(page)
    assert river == [
        (
            "04 Jul 2026",
            ["Planet Python: Type hints in anger", "Planet Twisted: Deferreds explained"],
        ),
        ("03 Jul 2026", ["Planet Python: Packaging, again", "Planet Python: Title only"]),
        ("02 Jul 2026", ["Planet Twisted: Klein routing"]),
    ]

    stop_cleanly(daemon)
    feed_server.stop()
    assert not Path(str(daemon.database) + "-wal").exists() or (
        Path(str(daemon.database) + "-wal").stat().st_size == 0
    )

    daemon.start()
    assert len(daemon.json("/api/entries")["entries"]) == 5
    assert river_outline(daemon.get("/")[2]) == river
    restarted = {f["url"]: f for f in daemon.json("/api/feeds")["feeds"]}
    assert {f["status"] for f in restarted.values()} == {"ok"}
    stop_cleanly(daemon)


def stop_cleanly(daemon: Daemon) -> None:
    """SIGTERM: twistd shuts down (and re-raises the signal as its exit status)."""
    assert daemon.stop() in (0, -signal.SIGTERM)
    assert "planetd stopped; database closed" in daemon.log()


def river_outline(page: bytes) -> list[tuple[str, list[str]]]:
    """Day headings and, under each, "source: title" of every entry, from a parsed page."""
    document = html5lib.parse(page, namespaceHTMLElements=False)
    outline = []
    for day in document.iter("section"):
        if "day" not in (day.get("class") or "").split():
            continue
        heading = "".join(day.find("h2").itertext()).strip()
        titles = []
        for article in day.iter("article"):
            source = "".join(article.find("h3").itertext()).strip()
            title = "".join(article.find("h4").itertext()).strip()
            titles.append(f"{source}: {title}")
        outline.append((re.sub(r"\s+", " ", heading), titles))
    return outline


def test_a_hanging_feed_delays_nothing(
    tmp_path: Path, feed_server: FeedServer, make_daemon
) -> None:
    """While one feed's host never answers, the others are polled and / answers at once."""
    config = write_planet(tmp_path, feed_server)
    with config.open("a") as f:
        f.write(f"\n[{feed_server.url('hang')}]\nname = Hanging Blog\nfeed_timeout = 60s\n")
    config.write_text(config.read_text().replace("[Planet]\n", "[Planet]\naccess_log = yes\n"))
    daemon: Daemon = make_daemon(config)
    daemon.start()
    daemon.wait_until(
        lambda: len(daemon.json("/api/entries")["entries"]) == 5, 30, "the other feeds' entries"
    )
    started = time.monotonic()
    status, _, page = daemon.get("/")
    elapsed = time.monotonic() - started
    assert status == 200
    assert elapsed < 1.0
    assert b"Hanging Blog" in page
    assert '"GET / HTTP/1.1" 200' in daemon.log()
    states = {f["name"]: f["status"] for f in daemon.json("/api/feeds")["feeds"]}
    assert states == {"Planet Python": "ok", "Planet Twisted": "ok", "Hanging Blog": "pending"}
    stop_cleanly(daemon)
