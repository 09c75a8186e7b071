"""End to end: one real ``twistd -n planetd`` serving two planets that share a feed."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Daemon, FeedServer, planetd_cli, subprocess_env
from feeds import atom, rss

pytestmark = pytest.mark.e2e

SHARED = [
    ("tag:shared,2026:1", "Shared news", "2026-07-04T09:00:00Z", "<p>both</p>"),
    ("tag:shared,2026:2", "Older shared news", "2026-07-02T09:00:00Z", "<p>both, older</p>"),
]
ONLY_A = [("a-1", "Only in A", "2026-07-03T10:00:00Z", "<p>a</p>")]
ONLY_B = [("tag:b,2026:1", "Only in B", "2026-07-03T11:00:00Z", "<p>b</p>")]


def write_planets(tmp_path: Path, server: FeedServer) -> tuple[Path, Path]:
    """Two planets: A at /a/ (and /, as the first), B at /b/ and on host b.example; both
    list the shared feed, each under its own name and interval."""
    (server.folder / "shared.atom").write_text(atom("Shared", "https://s.example/", SHARED))
    (server.folder / "a.rss").write_text(rss("A blog", "https://a.example/", ONLY_A))
    (server.folder / "b.atom").write_text(atom("B blog", "https://b.example/", ONLY_B))
    a = tmp_path / "a.ini"
    a.write_text(
        f"""[Planet]
name = Planet A
mount = /a/
min_interval = 1s
poll_interval = 2s

[{server.url("shared.atom")}]
name = Shared as A calls it

[{server.url("a.rss")}]
name = A's own
"""
    )
    b = tmp_path / "b.ini"
    b.write_text(
        f"""[Planet]
name = Planet B
mount = /b/
host = b.example
min_interval = 1s
poll_interval = 1h

[{server.url("shared.atom")}]
name = Shared as B calls it
poll_interval = 5s

[{server.url("b.atom")}]
name = B's own
"""
    )
    return a, b


def titles(entries: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(e["feed_name"], e["title"]) for e in entries]


def test_two_planets_share_one_poll_and_keep_their_own_rivers(
    tmp_path: Path, feed_server: FeedServer, make_daemon
) -> None:
    """A feed listed by two planets is fetched once per interval (the shorter of the two),
    yet shows in both rivers under each planet's own name for it; each planet shows only
    its own feeds, at its mount and (for B) on its host; the first planet is also served
    at /, and the page of planets lists both with their newest entries."""
    a, b = write_planets(tmp_path, feed_server)
    daemon: Daemon = make_daemon(a)
    daemon.extra = ["--config", str(b)]
    daemon.start()
    daemon.wait_until(
        lambda: (
            len(daemon.json("/a/api/entries")["entries"]) == 3
            and len(daemon.json("/b/api/entries")["entries"]) == 3
        ),
        30,
        "both rivers full",
    )
    assert titles(daemon.json("/a/api/entries")["entries"]) == [
        ("Shared as A calls it", "Shared news"),
        ("A's own", "Only in A"),
        ("Shared as A calls it", "Older shared news"),
    ]
    assert titles(daemon.json("/b/api/entries")["entries"]) == [
        ("Shared as B calls it", "Shared news"),
        ("B's own", "Only in B"),
        ("Shared as B calls it", "Older shared news"),
    ]
    assert [f["name"] for f in daemon.json("/b/api/feeds")["feeds"]] == [
        "B's own",
        "Shared as B calls it",
    ]

    # Host-based routing: B on its own host, at its root and under its mount alike.
    _, _, body = daemon.get("/api/entries", headers={"Host": "b.example:8080"})
    assert "B's own" in body.decode()
    assert "A's own" not in body.decode()
    # The first planet is also served at /; its links keep to its mount (the page, too,
    # is rebuilt at most once a second).
    daemon.wait_until(lambda: b"Only in A" in daemon.get("/")[2], 5, "A's river at /")
    status, _, page = daemon.get("/")
    assert status == 200
    assert b'href="/a/feeds"' in page
    assert b"Only in A" in page and b"Only in B" not in page
    assert daemon.status("/b/feeds") == 200
    assert daemon.status("/feeds") == 200  # A's own /feeds, at /
    assert daemon.status("/c/") == 404  # A (at /) has no such page
    status, _, _ = daemon.get("/b")
    assert status == 200  # followed the redirect to /b/
    # The page of planets: both planets, their newest entries with the planet as source
    # (rebuilt at most once a second, like every page: it shows a store change within 2 s).
    daemon.wait_until(
        lambda: all(s in daemon.get("/planets/")[2] for s in (b"Only in A", b"Only in B")),
        5,
        "the page of planets",
    )
    status, _, planets = daemon.get("/planets/")
    assert status == 200
    text = planets.decode()
    assert re.search(r'<a href="/a/">Planet A</a>', text)
    assert re.search(r'<a href="/b/">Planet B</a>', text)
    assert "Only in A" in text and "Only in B" in text
    assert text.count("Shared news") == 1

    # One poll of the shared feed per interval (2s, A's), not one per planet.
    # Watch until A's own feed has been polled four times (bounded: a loaded machine
    # polls late), then compare: the shared feed is polled as often as A's, not twice.
    start = len(feed_server.accesses())
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        time.sleep(0.5)
        window = feed_server.accesses()[start:]
        if sum(1 for _, path in window if path == "/a.rss") >= 4:
            break
    window = feed_server.accesses()[start:]
    shared = sum(1 for _, path in window if path == "/shared.atom")
    only_a = sum(1 for _, path in window if path == "/a.rss")
    only_b = sum(1 for _, path in window if path == "/b.atom")
    assert only_a >= 4, window
    assert only_a - 2 <= shared <= only_a + 1, window
    assert only_b == 0, window  # B's own feed keeps B's hour
    assert daemon.stop() in (0, -signal.SIGTERM)

    # planetd render writes every planet into its own folder, the page of planets above.
    out = tmp_path / "site"
    done = planetd("render", a, "--config", b, "--output", out, "--database", daemon.database)
    assert done.returncode == 0, done.stderr
    assert "Shared as B calls it" in (out / "b" / "index.html").read_text()
    assert "Only in B" not in (out / "a" / "index.html").read_text()
    assert (out / "a" / "feeds" / "index.html").exists()
    index = (out / "index.html").read_text()
    assert 'href="a/"' in index and 'href="b/"' in index
    assert 'href="a/planetd.css"' in index


def planetd(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*planetd_cli(), *(str(a) for a in args)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
        check=False,
    )


def test_check_names_both_files_when_two_planets_claim_one_mount(tmp_path: Path) -> None:
    """Two planets on the same mount: `planetd check` (and the daemon) stop with one line
    naming both files and the key's line; planets that do not clash are listed with where
    each is served."""
    a = tmp_path / "a.ini"
    a.write_text("[Planet]\nname = A\nmount = /python/\n")
    b = tmp_path / "b.ini"
    b.write_text("[Planet]\nname = B\n\nmount = /python\n")
    done = planetd("check", a, "--config", b)
    assert done.returncode == 1
    assert done.stderr.strip() == (f"planetd: {b}:4: key 'mount': /python/ is already {a}'s mount")
    b.write_text("[Planet]\nname = B\nhost = B.example\n")
    done = planetd("check", a, "--config", b)
    assert done.returncode == 0, done.stderr
    assert "planet A: served at /python/, at /" in done.stdout
    assert "planet B: served on host b.example" in done.stdout


def test_planetd_poll_of_several_planets_fetches_a_shared_feed_once(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """`planetd poll a.ini --config b.ini --all` polls every feed of both planets, a feed
    both list once; `planetd feeds` then shows each polled feed once."""
    a, b = write_planets(tmp_path, feed_server)
    database = tmp_path / "cli.sqlite"
    done = planetd("poll", a, "--config", b, "--all", "--database", database)
    assert done.returncode == 0, done.stderr
    paths = [path for _, path in feed_server.accesses()]
    assert sorted(paths) == ["/a.rss", "/b.atom", "/shared.atom"]
    done = planetd("feeds", a, "--config", b, "--database", database)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("shared.atom") == 1
