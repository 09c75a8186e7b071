"""End to end: a feed suggested at ``/submit`` and approved at ``/moderate`` reaches the river.

A real ``twistd -n planetd`` with submissions on; the suggested feed is served
by the test's feed server on 127.0.0.1, so the config sets
``allow_private_feeds = yes`` (the address guard itself is
``test_guardedfetch.py``'s). One test drives the pages over plain HTTP, the
other in headless Chromium, as a submitter and a moderator would.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from browser import browser
from conftest import Daemon, FeedServer, planetd_cli, subprocess_env
from feeds import atom

pytestmark = pytest.mark.e2e

TOKEN = "moderate-me-please-0123456789"

PLANET = f"""# Planet Submit: the operator's comments stay where they are.
[Planet]
name = Planet Submit
link = http://planet.example.org/
min_interval = 1s
poll_interval = 1h
submissions = yes
allow_private_feeds = yes
moderation_token = {TOKEN}

; the planet's first feed
[{{kept}}]
name = Kept
"""


def serve(server: FeedServer, name: str, title: str) -> str:
    entries = [
        (f"tag:{name},2026:{i}", f"{title} post {i}", f"2026-07-0{i + 1}T10:00:00Z", "<p>x</p>")
        for i in range(2)
    ]
    (server.folder / name).write_text(atom(title, f"https://{name}.example/", entries))
    return server.url(name)


def titles(daemon: Daemon) -> set[str]:
    return {e["title"] for e in daemon.json("/api/entries?limit=500")["entries"]}


def post(daemon: Daemon, path: str, fields: dict[str, str], headers: dict[str, str] | None = None):
    import urllib.request

    request = urllib.request.Request(
        daemon.url(path), data=urllib.parse.urlencode(fields).encode(), headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def start(tmp_path: Path, feed_server: FeedServer, make_daemon) -> tuple[Daemon, Path, str]:
    kept = serve(feed_server, "kept.atom", "Kept")
    config = tmp_path / "planet.ini"
    config.write_text(PLANET.format(kept=kept))
    daemon = make_daemon(config)
    daemon.start()
    daemon.wait_until(lambda: len(titles(daemon)) == 2, 30, "the kept feed's entries")
    return daemon, config, config.read_text()


def test_a_suggested_feed_is_approved_and_polled_within_seconds(
    tmp_path: Path, feed_server: FeedServer, make_daemon
) -> None:
    """Suggest over HTTP (CSRF token from the form), see it in the queue with its preview,
    approve it with the bearer token: the config gains the section after its untouched
    text, the daemon reloads, and the feed's entries reach the river within seconds.
    The command line sees the same queue."""
    daemon, config, original = start(tmp_path, feed_server, make_daemon)
    new = serve(feed_server, "new.atom", "Suggested")
    _, _, form = daemon.get("/submit")
    csrf = re.search(rb'name="csrf" value="([^"]+)"', form)
    assert csrf
    fields = {"csrf": csrf.group(1).decode(), "url": new, "name": "Suggested", "contact": "me"}
    code, body = post(daemon, "/submit", {**fields, "csrf": "forged.0"})
    assert code == 403
    code, body = post(daemon, "/submit", fields)
    assert code == 200, body
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert daemon.get("/moderate", {"Authorization": "Bearer wrong"})[0] == 403
    status, _, listing = daemon.get("/moderate", bearer)
    assert status == 200 and b'"parsed":true' in listing and b"Suggested post 1" in listing

    approved_at = time.monotonic()
    code, body = post(daemon, "/moderate", {"action": "approve", "id": "1"}, bearer)
    assert code == 200, body
    daemon.wait_until(lambda: len(titles(daemon)) == 4, 15, "the approved feed's entries")
    elapsed = time.monotonic() - approved_at
    assert elapsed < 10
    text = config.read_text()
    assert text.startswith(original), "the config keeps its text and comments"
    assert text[len(original) :] == f"\n[{new}]\nname = Suggested\n"
    assert "moderation: approve suggestion 1" in daemon.log()
    listed = subprocess.run(
        [
            *planetd_cli(),
            "submissions",
            "list",
            "--config",
            str(config),
            "-d",
            str(daemon.database),
        ],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert "1\tapproved" in listed.stdout
    print(f"\nsubmissions figure: approval to entries in the river: {elapsed * 1000:.0f} ms")


@pytest.mark.browser
def test_submit_then_approve_in_a_real_browser(
    tmp_path: Path, feed_server: FeedServer, make_daemon
) -> None:
    """In headless Chromium: fill the form and send it, read the thanks; sign in at
    /moderate with the token, see the preview, press Approve; the river then shows the
    new feed's entries."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    def shown(driver: Any, element_id: str) -> Any:
        """The element once the page that has it has loaded (a click navigates later)."""
        located = expected_conditions.presence_of_element_located((By.ID, element_id))
        return WebDriverWait(driver, 20).until(located)

    daemon, _, _ = start(tmp_path, feed_server, make_daemon)
    new = serve(feed_server, "web.atom", "Browser")
    with browser(1000, 900) as driver:
        driver.get(daemon.url("/submit"))
        driver.find_element(By.ID, "submit-url").send_keys(new)
        driver.find_element(By.ID, "submit-name").send_keys("Browser Feed")
        driver.find_element(By.ID, "submit-contact").send_keys("me@example.org")
        driver.find_element(By.ID, "submit-send").click()
        assert "waits for a moderator" in shown(driver, "submit-message").text

        driver.get(daemon.url("/moderate"))
        driver.find_element(By.ID, "moderate-token").send_keys(TOKEN)
        driver.find_element(By.ID, "moderate-login").click()
        article = shown(driver, "submission-1")
        assert "Browser post 1" in article.text
        driver.find_element(By.ID, "approve-1").click()
        assert "Approved" in shown(driver, "moderate-message").text
        daemon.wait_until(lambda: "Browser post 1" in titles(daemon), 15, "the approved feed")
        driver.get(daemon.url("/"))
        deadline = time.monotonic() + 10
        while "Browser post 1" not in driver.page_source and time.monotonic() < deadline:
            time.sleep(0.5)
            driver.refresh()
        assert "Browser post 1" in driver.page_source
