"""What a browser shows of groups: headless Chromium over a real daemon with two groups."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO, Daemon, FeedServer
from feeds import atom

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

ARTIFACTS = REPO / "test-artifacts"

POSTS = [
    ("t:1", "Deferreds explained", "2026-07-04T09:00:00Z", "<p>Callbacks.</p>"),
    ("t:2", "Klein routing", "2026-07-03T09:00:00Z", "<p>Routes.</p>"),
]
JOBS = [("j:1", "Hiring a Twisted engineer", "2026-07-04T10:00:00Z", "<p>Apply.</p>")]


def test_the_river_shows_each_entrys_groups_and_links_each_groups_river(
    tmp_path: Path, feed_server: FeedServer, make_daemon
) -> None:
    """In Chromium, each entry shows its groups' titles beside its source; the sidebar's
    group link opens the group's river, titled with the group and holding only its
    entries; neither page scrolls sideways on a 390 px phone."""
    from browser import browser

    (feed_server.folder / "posts.atom").write_text(atom("Posts", "https://p.example/", POSTS))
    (feed_server.folder / "jobs.atom").write_text(atom("Jobs", "https://j.example/", JOBS))
    config = tmp_path / "planet.ini"
    config.write_text(
        "[Planet]\nname = Planet Groups\nmin_interval = 1s\n\n"
        "[group:community]\ntitle = Community blog posts\n\n"
        f"[{feed_server.url('posts.atom')}]\nname = Twisted blog\ngroup = Community\n\n"
        f"[{feed_server.url('jobs.atom')}]\nname = Job board\ngroup = Jobs, Community\n"
    )
    daemon: Daemon = make_daemon(config)
    daemon.start()
    daemon.wait_until(lambda: len(daemon.json("/api/entries")["entries"]) == 3, 30, "entries")
    ARTIFACTS.mkdir(exist_ok=True)
    with browser(1200, 900) as page:
        page.get(daemon.url("/"))
        sources = {
            a.find_element("css selector", ".entry-title a").text: a.find_element(
                "css selector", ".entry-source"
            ).text
            for a in page.find_elements("css selector", "article.entry")
        }
        assert sources["Hiring a Twisted engineer"] == "Job board · Community blog posts, Jobs"
        assert sources["Klein routing"] == "Twisted blog · Community blog posts"
        page.save_screenshot(str(ARTIFACTS / "groups-river.png"))
        links = page.find_elements("css selector", "ul.groups a")
        assert [a.text for a in links] == ["Community blog posts", "Jobs"]
        links[1].click()
        assert page.current_url == daemon.url("/groups/jobs/")
        assert page.title == "Jobs · Planet Groups"
        shown = [a.text for a in page.find_elements("css selector", "article .entry-title a")]
        assert shown == ["Hiring a Twisted engineer"]
    for path in ("/", "/groups/community/"):
        with browser(390, 900) as phone:
            phone.get(daemon.url(path))
            overflow = phone.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 0, f"{path}: the page scrolls sideways by {overflow}px"
