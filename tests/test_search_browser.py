"""The search page in headless Chromium, served by a real daemon: the sidebar form leads
to results with marked snippets, and hostile entries found by a search run no script."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import html5lib
import pytest

from conftest import Daemon, FeedServer
from feeds import atom
from test_browser import CHROMIUM, VECTORS, chromium

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_the_search_page_in_a_real_browser(
    tmp_path: Path, feed_server: FeedServer, make_daemon
) -> None:
    """Chromium shows the river's search form, and /search?q= lists the matching entries,
    best first, hits in <mark>; entries carrying script in every form run none of it."""
    entries = [
        ("tag:t,2026:1", "Asyncio in depth", "2026-07-04T09:00:00Z", "<p>asyncio asyncio</p>"),
        ("tag:t,2026:2", "Weekly links", "2026-07-03T09:00:00Z", "<p>and asyncio once</p>"),
        ("tag:t,2026:3", "Unrelated", "2026-07-02T09:00:00Z", "<p>gardening</p>"),
    ]
    hostile = [
        (f"tag:x,2026:{n}", f"Vector {n} asyncio", f"2026-07-01T{n:02d}:00:00Z", v + " asyncio")
        for n, v in enumerate(VECTORS)
    ]
    (feed_server.folder / "good.atom").write_text(atom("Good", "https://good.example/", entries))
    (feed_server.folder / "evil.atom").write_text(atom("Evil", "https://evil.example/", hostile))
    config = tmp_path / "planet.ini"
    config.write_text(
        f"[Planet]\nname = Planet Search\nitems_per_page = 50\nmin_interval = 1s\n\n"
        f"[{feed_server.url('good.atom')}]\nname = Planet Twisted\n\n"
        f"[{feed_server.url('evil.atom')}]\nname = Planet Hostile\n"
    )
    daemon: Daemon = make_daemon(config)
    daemon.start()
    total = len(entries) + len(hostile)
    daemon.wait_until(
        lambda: len(daemon.json("/api/entries")["entries"]) == total, 30, "every entry stored"
    )

    river = html5lib.parse(
        chromium("--dump-dom", daemon.url("/"), profile=tmp_path / "p1"),
        namespaceHTMLElements=False,
    )
    form = river.find(".//aside/form")
    assert form is not None and form.get("action") == "/search"

    page = daemon.url("/search?q=" + quote("asyncio"))
    dom = chromium("--dump-dom", page, profile=tmp_path / "p2")
    document = html5lib.parse(dom, namespaceHTMLElements=False)
    assert "".join(document.find("head/title").itertext()) == "asyncio · Search · Planet Search"
    assert document.find("body").get("data-pwned") is None
    hits = [a for a in document.iter("article") if a.get("class") == "hit"]
    titles = ["".join(h.find("h4").itertext()).strip() for h in hits]
    assert titles[0] == "Asyncio in depth"
    assert "Unrelated" not in titles
    assert len(hits) == 2 + len(VECTORS)
    assert all(h.find(".//mark") is not None for h in hits)
    for hit in hits:
        snippet = hit.find("p")
        assert {e.tag for e in snippet.iter() if e is not snippet} == {"mark"}
