"""The live river in headless Chromium, served by a real ``twistd -n planetd``: with the
river open, an entry the daemon stores shows as "1 new entry" and, on a click, at the top
of the river, within two seconds of being stored."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from browser import browser
from conftest import Daemon, FeedServer
from feeds import atom

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

OLD = [
    ("tag:t,2026:1", "First post", "2026-07-01T09:00:00Z", "<p>one</p>"),
    ("tag:t,2026:2", "Second post", "2026-07-02T09:00:00Z", "<p>two</p>"),
]
NEW = ("tag:t,2026:3", "Live post", "2026-07-03T09:00:00Z", "<p>three, <em>live</em></p>")


def wait_for(check: Any, timeout: float, what: str, step: float = 0.02) -> Any:
    """Poll ``check()`` every ``step`` seconds until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_new_entry_appears_on_an_open_river(
    tmp_path: Path, feed_server: FeedServer, make_daemon
) -> None:
    """The river open in Chromium; the feed gains an entry and the daemon polls it: the
    page shows "1 new entry" and, on a click, the entry (sanitized, as the river renders
    it) at the top, within 2 s of its being stored; the notice then goes away."""
    feed = feed_server.folder / "live.atom"
    feed.write_text(atom("Live", "https://live.example/", OLD))
    config = tmp_path / "planet.ini"
    config.write_text(
        "[Planet]\nname = Planet Live\nmin_interval = 1s\npoll_interval = 1s\n"
        f"event_heartbeat = 2s\n\n[{feed_server.url('live.atom')}]\nname = Live Blog\n"
    )
    daemon: Daemon = make_daemon(config)
    daemon.start()
    daemon.wait_until(
        lambda: len(daemon.json("/api/entries?limit=500")["entries"]) == 2, 30, "first poll"
    )
    with browser(1000, 900) as page:
        page.get(daemon.url("/"))
        wait_for(lambda: len(page.find_elements("css selector", "article.entry")) == 2, 10, "page")
        # The stream opens once the page has settled (a few seconds, or the reader's first
        # input); the script marks the river when it is open.
        wait_for(lambda: page.find_elements("css selector", "#river[data-live=open]"), 10, "stream")
        feed.write_text(atom("Live", "https://live.example/", [*OLD, NEW]))

        def stored() -> str | None:
            entries = daemon.json("/api/entries?limit=500")["entries"]
            return next((e["id"] for e in entries if e["title"] == "Live post"), None)

        new_id = wait_for(stored, 30, "the new entry stored", step=0.02)
        stored_at = time.monotonic()
        notice = wait_for(
            lambda: [
                n
                for n in page.find_elements("css selector", "button.live-notice")
                if n.is_displayed()
            ],
            2,
            "the notice",
        )[0]
        assert notice.text == "1 new entry"
        notice.click()
        wait_for(lambda: page.find_elements("css selector", f"#e-{new_id}"), 2, "the entry")
        shown_within = time.monotonic() - stored_at
        assert shown_within <= 2.0, shown_within
        articles = page.find_elements("css selector", "article.entry")
        assert articles[0].get_attribute("id") == f"e-{new_id}"
        assert "live-new" in (articles[0].get_attribute("class") or "")
        assert articles[0].find_element("css selector", ".entry-content em").text == "live"
        assert len(articles) == 3
        assert not [
            n for n in page.find_elements("css selector", "button.live-notice") if n.is_displayed()
        ]
        errors = [
            entry
            for entry in page.get_log("browser")
            if entry.get("level") == "SEVERE" and "favicon" not in entry.get("message", "")
        ]
        assert errors == []
