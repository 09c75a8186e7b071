"""End to end: a real ``twistd -n planetd`` subscribes to a real hub and takes its pushes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Daemon, FeedServer, subprocess_env
from feeds import atom
from websubhub import HubProcess

pytestmark = pytest.mark.e2e

ENTRIES = [("tag:b,2026:1", "First post", "2026-07-01T10:00:00Z", "<p>one</p>")]
PUSHED = ("tag:b,2026:2", "Pushed post", "2026-07-02T10:00:00Z", "<p>two</p>")


@pytest.fixture
def hub() -> Iterator[HubProcess]:
    process = HubProcess(subprocess_env())
    yield process
    process.stop()


def hub_feed(entries: list[tuple[str, str, str, str]], hub: str, self_url: str) -> bytes:
    text = atom("Blog", "https://blog.example/", entries)
    links = f'<link rel="hub" href="{hub}"/><link rel="self" href="{self_url}"/>'
    return text.replace("<updated>", links + "<updated>", 1).encode()


def test_a_push_reaches_the_api_without_a_poll(
    tmp_path: Path, feed_server: FeedServer, hub: HubProcess, make_daemon
) -> None:
    """The daemon polls the feed, finds its hub, subscribes under its public_url and
    answers the hub's verification; a signed push then puts the new entry in
    /api/entries within seconds (the next poll is an hour away), the feed server is not
    asked again, and /api/feeds shows the subscription active with its last push."""
    feed_url = feed_server.url("feed.atom")
    hub_url = hub.url + "/hub"
    (feed_server.folder / "feed.atom").write_bytes(hub_feed(ENTRIES, hub_url, feed_url))
    config = tmp_path / "planet.ini"
    config.write_text("[Planet]\nname = Push\n")
    daemon: Daemon = make_daemon(config)
    config.write_text(
        f"""[Planet]
name = Push
min_interval = 1s
poll_interval = 1h
public_url = http://127.0.0.1:{daemon.port}/
websub_lease = 1d

[{feed_url}]
name = Blog
"""
    )
    daemon.start()
    daemon.wait_until(lambda: feed_url in hub.state()["verified"], 30, "the hub's verification")
    daemon.wait_until(
        lambda: (daemon.json("/api/feeds")["feeds"][0]["websub"] or {}).get("state") == "active",
        10,
        "an active subscription",
    )
    fetches = len(feed_server.accesses())
    pushed = hub_feed([*ENTRIES, PUSHED], hub_url, feed_url)
    started = time.monotonic()
    assert hub.publish(feed_url, pushed)["statuses"] == [200]
    daemon.wait_until(
        lambda: "Pushed post" in [e["title"] for e in daemon.json("/api/entries")["entries"]],
        10,
        "the pushed entry",
    )
    assert time.monotonic() - started < 5
    assert len(feed_server.accesses()) == fetches
    # /api/feeds is rebuilt at most once a second: the push shows within that pacing.
    daemon.wait_until(
        lambda: daemon.json("/api/feeds")["feeds"][0]["websub"]["last_push_at"] is not None,
        5,
        "the push in /api/feeds",
    )
    websub = daemon.json("/api/feeds")["feeds"][0]["websub"]
    assert websub["state"] == "active" and websub["hub"] == hub_url
    assert websub["last_push_at"] is not None and websub["pushes_accepted"] == 1
    forged = hub.publish(feed_url, pushed.replace(b"Pushed post", b"Forged post"), secret="x")
    assert forged["statuses"] == [202]
    time.sleep(1.5)
    titles = [e["title"] for e in daemon.json("/api/entries")["entries"]]
    assert "Forged post" not in titles
    assert "ignored a push" in daemon.log()
