"""End to end: a real ``twistd -n planetd`` reloads its config on SIGHUP and reads reading lists.

The daemon polls a real feed server (counted through its access log); the
config file is edited on disk and the daemon signalled, as an operator does.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import Daemon, FeedServer, planetd_cli, subprocess_env
from feeds import atom
from loadgen import run_load

pytestmark = pytest.mark.e2e

PLANET = """[Planet]
name = {name}
link = http://planet.example.org/
min_interval = 1s
poll_interval = 1h
"""


def serve_feed(server: FeedServer, name: str, title: str, count: int = 2) -> str:
    entries = [
        (f"tag:{name},2026:{i}", f"{title} post {i}", f"2026-07-0{i + 1}T10:00:00Z", "<p>x</p>")
        for i in range(count)
    ]
    (server.folder / name).write_text(atom(title, f"https://{name}.example/", entries))
    return server.url(name)


def write_config(path: Path, feeds: dict[str, str], name: str = "Planet Reload") -> None:
    text = PLANET.format(name=name)
    text += "".join(f"\n[{url}]\nname = {title}\n" for url, title in feeds.items())
    path.write_text(text)


def titles(daemon: Daemon) -> set[str]:
    return {e["title"] for e in daemon.json("/api/entries?limit=500")["entries"]}


def hangup(daemon: Daemon) -> None:
    assert daemon.process is not None
    daemon.process.send_signal(signal.SIGHUP)


def first_fetch(server: FeedServer, name: str, timeout: float) -> float:
    """Seconds until the feed server has served ``name`` once (within ``timeout``)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if any(path == f"/{name}" for _, path in server.accesses()):
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"{name} was not fetched within {timeout}s")


def test_sighup_adds_removes_and_renames_feeds(
    tmp_path: Path, feed_server: FeedServer, make_daemon
) -> None:
    """After ``kill -HUP``: an added feed is fetched within seconds and its entries show;
    a removed feed leaves the river and /api/feeds but keeps its rows in the database,
    and comes back with its entries when re-added; a changed planet name shows on the
    next render; a feed the edit leaves alone is not polled again because of it."""
    a = serve_feed(feed_server, "a.atom", "Alpha")
    b = serve_feed(feed_server, "b.atom", "Beta")
    keep = serve_feed(feed_server, "keep.atom", "Kept")
    config = tmp_path / "planet.ini"
    write_config(config, {a: "Alpha", keep: "Kept"})
    daemon = make_daemon(config)
    daemon.start()
    daemon.wait_until(lambda: len(titles(daemon)) == 4, 30, "alpha and kept entries")
    kept_fetches = sum(1 for _, p in feed_server.accesses() if p == "/keep.atom")

    write_config(config, {b: "Beta", keep: "Kept"}, name="Planet Reloaded")
    hangup(daemon)
    elapsed = first_fetch(feed_server, "b.atom", 10)
    assert elapsed < 5, f"the added feed was first fetched {elapsed:.2f}s after SIGHUP"
    daemon.wait_until(
        lambda: titles(daemon) == {"Beta post 0", "Beta post 1", "Kept post 0", "Kept post 1"},
        15,
        "beta in, alpha out of the river",
    )
    assert {f["url"] for f in daemon.json("/api/feeds")["feeds"]} == {b, keep}
    daemon.wait_until(lambda: b"Planet Reloaded" in daemon.get("/")[2], 10, "the new name")
    with sqlite3.connect(daemon.database) as db:
        stored = db.execute("SELECT count(*) FROM entries WHERE feed_url = ?", (a,)).fetchone()
    assert stored == (2,), "a removed feed keeps its entries in the database"
    assert sum(1 for _, p in feed_server.accesses() if p == "/keep.atom") == kept_fetches

    write_config(config, {a: "Alpha", b: "Beta", keep: "Kept"}, name="Planet Reloaded")
    hangup(daemon)
    daemon.wait_until(lambda: len(titles(daemon)) == 6, 15, "alpha back in the river")
    assert "reloaded" in daemon.log()
    print(f"\nreload figure: SIGHUP to the added feed's first fetch: {elapsed * 1000:.0f} ms")


def test_a_broken_config_is_refused_and_the_running_one_stays(
    tmp_path: Path, feed_server: FeedServer, make_daemon
) -> None:
    """A config that fails to load is refused with one log line naming file, line and
    key; the daemon keeps serving and polling with the config it had, and a later good
    edit is applied."""
    a = serve_feed(feed_server, "a.atom", "Alpha")
    b = serve_feed(feed_server, "b.atom", "Beta")
    config = tmp_path / "planet.ini"
    write_config(config, {a: "Alpha"})
    daemon = make_daemon(config)
    daemon.start()
    daemon.wait_until(lambda: len(titles(daemon)) == 2, 30, "alpha entries")

    config.write_text(
        PLANET.format(name="Broken") + "items_per_page = many\n" + f"\n[{b}]\nname = Beta\n"
    )
    hangup(daemon)
    daemon.wait_until(lambda: "reload refused" in daemon.log(), 10, "the refusal")
    refusals = [line for line in daemon.log().splitlines() if "reload refused" in line]
    assert len(refusals) == 1
    assert f"{config}:6: key 'items_per_page'" in refusals[0]
    time.sleep(1.5)
    assert daemon.status("/healthz") == 200
    assert titles(daemon) == {"Alpha post 0", "Alpha post 1"}
    assert not any(p == "/b.atom" for _, p in feed_server.accesses())

    write_config(config, {a: "Alpha", b: "Beta"})
    hangup(daemon)
    daemon.wait_until(lambda: len(titles(daemon)) == 4, 15, "beta after the fix")


def test_no_request_fails_while_the_daemon_reloads(
    tmp_path: Path, feed_server: FeedServer, make_daemon
) -> None:
    """200 clients reading ``/`` while the config is reloaded several times (feeds
    added and removed, the planet renamed) see no failed request."""
    urls = [serve_feed(feed_server, f"f{i}.atom", f"Feed {i}", 3) for i in range(6)]
    config = tmp_path / "planet.ini"
    write_config(config, {u: f"Feed {i}" for i, u in enumerate(urls[:3])})
    daemon = make_daemon(config)
    daemon.start()
    daemon.wait_until(lambda: len(titles(daemon)) == 9, 30, "the first three feeds")

    reloads = 6

    def edit_and_signal() -> None:
        for n in range(reloads):
            time.sleep(1.0)
            chosen = urls[n % 3 : n % 3 + 3 + n % 2]
            write_config(config, {u: f"Feed {u}" for u in chosen}, name=f"Planet {n}")
            hangup(daemon)

    editor = threading.Thread(target=edit_and_signal)
    editor.start()
    result = run_load(daemon.port, ["/"], clients=200, seconds=reloads + 2.0)
    editor.join()
    daemon.wait_until(lambda: daemon.log().count("reloaded ") >= reloads, 15, "every reload")
    requests, failed = len(result.latencies), len(result.errors)
    print(f"\nreload figure: {requests} requests during {reloads} reloads, {failed} failed")
    assert result.errors == []
    assert requests > 200


def test_a_reading_list_subscribes_to_its_feeds(
    tmp_path: Path, feed_server: FeedServer, make_daemon
) -> None:
    """A section with ``content_type = opml`` is fetched as a reading list: each http(s)
    outline becomes a feed named from its text, shown in /api/feeds and /feeds with the
    list it came from; a feed that leaves the list stops being polled and leaves the
    river; after a restart the list's feeds are served before it is fetched again."""
    a = serve_feed(feed_server, "a.atom", "Alpha")
    b = serve_feed(feed_server, "b.atom", "Beta")

    def write_list(outlines: dict[str, str]) -> None:
        body = "".join(
            f'<outline text="{name}" type="rss" xmlUrl="{url}"/>' for url, name in outlines.items()
        )
        (feed_server.folder / "list.opml").write_text(
            f'<?xml version="1.0"?><opml version="2.0"><head/><body>{body}'
            '<outline text="local" xmlUrl="file:/etc/passwd"/></body></opml>'
        )

    write_list({a: "Alpha from the list", b: "Beta from the list"})
    listed = feed_server.url("list.opml")
    config = tmp_path / "planet.ini"
    config.write_text(
        PLANET.format(name="Listed") + f"\n[{listed}]\ncontent_type = opml\npoll_interval = 2s\n"
    )
    checked = subprocess.run(
        [*planetd_cli(), "check", str(config)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        check=True,
    )
    assert "feeds: 0\n" in checked.stdout
    assert "reading lists: 1\n" in checked.stdout
    assert f"reading list: {listed} (opml)" in checked.stdout

    daemon = make_daemon(config)
    daemon.start()
    daemon.wait_until(lambda: len(titles(daemon)) == 4, 30, "the listed feeds' entries")

    def shown() -> dict[str, tuple[str, str]]:
        feeds = daemon.json("/api/feeds")["feeds"]
        return {f["url"]: (f["name"], f["reading_list"]) for f in feeds}

    wanted = {a: ("Alpha from the list", listed), b: ("Beta from the list", listed)}
    daemon.wait_until(lambda: shown() == wanted, 10, "the feeds named and shown by their list")
    assert listed.encode() in daemon.get("/feeds")[2]

    write_list({a: "Alpha from the list"})
    daemon.wait_until(
        lambda: {f["url"] for f in daemon.json("/api/feeds")["feeds"]} == {a}, 15, "beta gone"
    )
    daemon.wait_until(lambda: titles(daemon) == {"Alpha post 0", "Alpha post 1"}, 10, "river")

    daemon.stop()
    (feed_server.folder / "list.opml").unlink()
    daemon.start()
    assert {f["url"] for f in daemon.json("/api/feeds")["feeds"]} == {a}
    assert titles(daemon) == {"Alpha post 0", "Alpha post 1"}


def test_planetd_reload_signals_the_daemon_of_a_pidfile(
    tmp_path: Path, feed_server: FeedServer, make_daemon
) -> None:
    """``planetd reload PLANET.INI --pidfile X`` makes the daemon named by X reload (an
    added feed is fetched); with no daemon behind the pid file it says so and fails."""
    a = serve_feed(feed_server, "a.atom", "Alpha")
    b = serve_feed(feed_server, "b.atom", "Beta")
    config = tmp_path / "planet.ini"
    write_config(config, {a: "Alpha"})
    daemon = make_daemon(config)
    daemon.start()
    assert daemon.process is not None
    pidfile = tmp_path / "planetd.pid"
    pidfile.write_text(f"{daemon.process.pid}\n")

    write_config(config, {a: "Alpha", b: "Beta"})
    done = subprocess.run(
        [*planetd_cli(), "reload", str(config), "--pidfile", str(pidfile)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
    )
    assert done.returncode == 0, done.stderr
    assert f"pid {daemon.process.pid}" in done.stdout
    first_fetch(feed_server, "b.atom", 10)

    daemon.stop()
    refused = subprocess.run(
        [*planetd_cli(), "reload", str(config), "--pidfile", str(pidfile)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"planetd: no planetd runs with pidfile {pidfile}")
    missing = subprocess.run(
        [*planetd_cli(), "reload", str(config)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=str(tmp_path),
    )
    assert missing.returncode == 1
    assert "no planetd runs with pidfile twistd.pid (no such file)" in missing.stderr
    assert os.path.exists(config)


def test_planetd_reload_reports_a_broken_config_and_signals_nothing(tmp_path: Path) -> None:
    """``planetd reload`` on a config that does not load names file, line and key and
    exits 1 before looking for a daemon (a pid file that exists is left alone)."""
    config = tmp_path / "planet.ini"
    config.write_text("[Planet]\nname = P\npoll_interval = soon\n")
    pidfile = tmp_path / "twistd.pid"
    pidfile.write_text("1\n")
    done = subprocess.run(
        [*planetd_cli(), "reload", str(config), "--pidfile", str(pidfile)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
    )
    assert done.returncode == 1
    assert done.stderr == f"planetd: {config}:3: key 'poll_interval': expected a duration" + (
        " such as 30s, 15m, 2h or 1d, got 'soon'\n"
    )
