"""A push seen by a reader: a real ``twistd -n planetd`` subscribed to a real hub, the
river open in headless Chromium; the hub pushes a new entry and the page shows it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser import browser
from conftest import Daemon, FeedServer, subprocess_env
from test_live_browser import wait_for
from test_websub_e2e import ENTRIES, PUSHED, hub_feed
from websubhub import HubProcess

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture
def hub() -> Iterator[HubProcess]:
    process = HubProcess(subprocess_env())
    yield process
    process.stop()


def test_a_pushed_entry_appears_on_an_open_river_within_two_seconds(
    tmp_path: Path, feed_server: FeedServer, hub: HubProcess, make_daemon
) -> None:
    """The daemon subscribes to the feed's hub; with the river open in Chromium, the hub
    pushes a new entry (the next poll is an hour away): the page shows "1 new entry" and,
    on a click, the pushed entry at the top, within 2 s of the hub's POST."""
    feed_url = feed_server.url("feed.atom")
    hub_url = hub.url + "/hub"
    (feed_server.folder / "feed.atom").write_bytes(hub_feed(ENTRIES, hub_url, feed_url))
    config = tmp_path / "planet.ini"
    config.write_text("[Planet]\nname = Push\n")
    daemon: Daemon = make_daemon(config)
    config.write_text(
        "[Planet]\nname = Planet Push\nmin_interval = 1s\npoll_interval = 1h\n"
        f"event_heartbeat = 2s\npublic_url = http://127.0.0.1:{daemon.port}/\n"
        f"websub_lease = 1d\n\n[{feed_url}]\nname = Blog\n"
    )
    daemon.start()
    daemon.wait_until(
        lambda: (daemon.json("/api/feeds")["feeds"][0]["websub"] or {}).get("state") == "active",
        30,
        "an active subscription",
    )
    daemon.wait_until(
        lambda: len(daemon.json("/api/entries")["entries"]) == 1, 10, "the first entry"
    )
    with browser(1000, 900) as page:
        page.get(daemon.url("/"))
        wait_for(lambda: len(page.find_elements("css selector", "article.entry")) == 1, 10, "page")
        wait_for(lambda: page.find_elements("css selector", "#river[data-live=open]"), 10, "stream")
        pushed_at = time.monotonic()
        answer = hub.publish(feed_url, hub_feed([*ENTRIES, PUSHED], hub_url, feed_url))
        assert answer["statuses"] == [200]
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
        wait_for(
            lambda: [
                a
                for a in page.find_elements("css selector", "article.entry")
                if "Pushed post" in a.text
            ],
            2,
            "the pushed entry",
        )
        shown_within = time.monotonic() - pushed_at
        assert shown_within <= 2.0, shown_within
        articles = page.find_elements("css selector", "article.entry")
        assert len(articles) == 2 and "Pushed post" in articles[0].text
