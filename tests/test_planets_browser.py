"""Several planets in a real browser: the page of planets, and a mounted planet's links."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Daemon, FeedServer
from feeds import atom

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_a_reader_goes_from_the_page_of_planets_into_a_mounted_planet(
    tmp_path: Path, feed_server: FeedServer, make_daemon
) -> None:
    """With no planet at /, Chromium shows the page of planets; following a planet's link
    leads to its river under its mount, styled by its stylesheet, and its "Feed health"
    link stays inside the mount and lists that planet's feeds only."""
    from browser import browser

    for name in ("a", "b"):
        entry = (f"tag:{name},1", f"Post of {name.upper()}", "2026-07-04T09:00:00Z", "<p>x</p>")
        (feed_server.folder / f"{name}.atom").write_text(
            atom(name, f"https://{name}.example/", [entry])
        )
    a = tmp_path / "a.ini"
    a.write_text(
        f"[Planet]\nname = Planet A\nmount = /a/\nroot = no\nmin_interval = 1s\n\n"
        f"[{feed_server.url('a.atom')}]\nname = Feed of A\n"
    )
    b = tmp_path / "b.ini"
    b.write_text(
        f"[Planet]\nname = Planet B\nmount = /b/\nmin_interval = 1s\n\n"
        f"[{feed_server.url('b.atom')}]\nname = Feed of B\n"
    )
    daemon: Daemon = make_daemon(a)
    daemon.extra = ["--config", str(b)]
    daemon.start()
    daemon.wait_until(
        lambda: len(daemon.json("/b/api/entries")["entries"]) == 1, 30, "B's entry stored"
    )
    with browser(1200, 900) as page:
        page.get(daemon.url("/"))
        assert page.title == "Planets"
        sources = [e.text for e in page.find_elements("css selector", "h3.entry-source")]
        assert sorted(sources) == ["Planet A", "Planet B"]
        page.find_element("link text", "Planet B").click()
        assert page.current_url == daemon.url("/b/")
        assert page.title == "Planet B"
        sheets = page.execute_script(
            "return Array.from(document.styleSheets).map(s => [s.href, s.cssRules.length])"
        )
        assert sheets == [[daemon.url("/b/planetd.css"), sheets[0][1]]]
        assert sheets[0][1] > 10
        page.find_element("link text", "Feed health").click()
        assert page.current_url == daemon.url("/b/feeds")
        rows = [e.text for e in page.find_elements("css selector", "td.health-feed a")]
        assert rows == ["Feed of B"]
