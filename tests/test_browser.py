"""What a browser shows: headless Chromium loads the river from a real daemon.

The page must render day headings, entries and source names, and entries
carrying script in every form must run none of it: the vectors below would
change ``document.title`` or mark the body if they ran.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import html5lib
import pytest

from conftest import REPO, Daemon, FeedServer
from feeds import atom

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO / "test-artifacts"

VECTORS = [
    "<script>document.title='PWNED'</script>",
    "<img src=x onerror=\"document.title='PWNED'\">",
    "<svg onload=\"document.body.setAttribute('data-pwned','1')\"></svg>",
    "<a href=\"javascript:document.title='PWNED'\">click</a>",
    "<iframe srcdoc=\"<script>parent.document.title='PWNED'</script>\"></iframe>",
    "<body onload=\"document.title='PWNED'\">",
    "<math><mtext><table><mglyph><style><img src=x onerror=\"document.title='PWNED'\">",
    "<object data=\"javascript:document.title='PWNED'\"></object>",
    "<details open ontoggle=\"document.title='PWNED'\">",
    '<meta http-equiv="refresh" content="0;url=javascript:document.title=\'PWNED\'">',
]


def chromium(*args: str, profile: Path) -> str:
    """Run headless Chromium once and return what it printed."""
    assert CHROMIUM is not None
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=3000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.stdout


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="Debian's chromium is not installed"
)
def test_the_river_in_a_real_browser(tmp_path: Path, feed_server: FeedServer, make_daemon) -> None:
    """Chromium shows headings, entries and sources, and no entry's script ever runs."""
    assert CHROMIUM is not None, "CI installs Debian's chromium; it is missing"
    safe = [
        ("tag:t,2026:1", "Deferreds explained", "2026-07-04T09:00:00Z", "<p>Callbacks.</p>"),
        (
            "tag:t,2026:2",
            "Klein routing",
            "2026-07-03T09:00:00Z",
            "<pre><code>@app.route('/')</code></pre>",
        ),
    ]
    hostile = [
        (f"tag:x,2026:{n}", f"<b onmouseover=x>Vector {n}</b>", f"2026-07-02T{n:02d}:00:00Z", v)
        for n, v in enumerate(VECTORS)
    ]
    (feed_server.folder / "good.atom").write_text(atom("Good", "https://good.example/", safe))
    (feed_server.folder / "evil.atom").write_text(atom("Evil", "https://evil.example/", hostile))
    config = tmp_path / "planet.ini"
    config.write_text(
        f"[Planet]\nname = Planet Browser\nitems_per_page = 50\nmin_interval = 1s\n\n"
        f"[{feed_server.url('good.atom')}]\nname = Planet Twisted\n\n"
        f"[{feed_server.url('evil.atom')}]\nname = Planet Hostile\n"
    )
    daemon: Daemon = make_daemon(config)
    daemon.start()
    total = len(safe) + len(hostile)
    daemon.wait_until(
        lambda: len(daemon.json("/api/entries")["entries"]) == total, 30, "every entry stored"
    )

    dom = chromium("--dump-dom", daemon.url("/"), profile=tmp_path / "profile1")
    document = html5lib.parse(dom, namespaceHTMLElements=False)
    title = "".join(document.find("head/title").itertext())
    assert title == "Planet Browser"
    body = document.find("body")
    assert body.get("data-pwned") is None
    headings = [
        "".join(h.itertext()).strip()
        for h in document.iter("h2")
        if h.get("class") == "day-heading"
    ]
    assert headings == ["04 Jul 2026", "03 Jul 2026", "02 Jul 2026"]
    articles = list(document.iter("article"))
    assert len(articles) == total
    sources = {"".join(a.find("h3").itertext()).strip() for a in articles}
    assert sources == {"Planet Twisted", "Planet Hostile"}
    entry_titles = ["".join(a.find("h4").itertext()).strip() for a in articles]
    # A text title shows its markup as text: escaped, never an element.
    assert "<b onmouseover=x>Vector 0</b>" in entry_titles
    assert not [b for a in articles for b in a.find("h4").iter("b")]

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "river.png"
    chromium(
        f"--screenshot={shot}",
        "--window-size=1280,1600",
        "--hide-scrollbars",
        daemon.url("/"),
        profile=tmp_path / "profile2",
    )
    assert shot.exists() and shot.stat().st_size > 10_000


def test_the_health_page_reads_at_desktop_and_phone_widths(
    tmp_path: Path, feed_server: FeedServer, make_daemon
) -> None:
    """/feeds fits a 1200 px window and a 390 px phone without sideways scrolling; times read
    as "… ago" with the exact time on hover; a failing feed's error is there in full."""
    from browser import browser

    (feed_server.folder / "good.atom").write_text(
        atom("Good", "https://good.example/", [("t:1", "One", "2026-07-04T09:00:00Z", "<p>1</p>")])
    )
    missing = "a-feed-whose-address-is-long-enough-to-push-any-table-sideways-" * 3 + ".xml"
    config = tmp_path / "planet.ini"
    config.write_text(
        "[Planet]\nname = Planet Health\nmin_interval = 1s\n\n"
        f"[{feed_server.url('good.atom')}]\nname = Good feed\n\n"
        f"[{feed_server.url(missing)}]\nname = Broken feed\n"
    )
    daemon: Daemon = make_daemon(config)
    daemon.start()
    daemon.wait_until(
        lambda: {f["status"] for f in daemon.json("/api/feeds")["feeds"]} == {"ok", "failing"},
        30,
        "both feeds polled",
    )
    [error] = [f["last_error"] for f in daemon.json("/api/feeds")["feeds"] if f["last_error"]]
    ARTIFACTS.mkdir(exist_ok=True)
    for width in (1200, 390):
        with browser(width, 900) as page:
            page.get(daemon.url("/feeds"))
            overflow = page.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 0, f"{width}px: the page scrolls sideways by {overflow}px"
            times = page.find_elements("css selector", "table.health time")
            assert times and all(t.get_attribute("title").endswith("GMT") for t in times)
            assert any(t.text.endswith("ago") or t.text == "just now" for t in times)
            shown = [e.text for e in page.find_elements("css selector", ".health-error td")]
            assert shown == [error]
            page.save_screenshot(str(ARTIFACTS / f"health-{width}.png"))
