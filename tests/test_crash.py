"""Nothing lost: SIGKILL at random moments, damaged databases, a full disk.

The soak runs a real ``twistd -n planetd`` against a feed server whose feeds
keep growing, kills it with SIGKILL at random moments while it polls, and
restarts it; at the end every entry the server ever served must be stored
exactly once, in a database that passes ``PRAGMA integrity_check``.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import Daemon, FeedServer, subprocess_env, twistd
from feeds import atom

pytestmark = pytest.mark.e2e

FEEDS = 12
KILLS = 10


def write_feeds(server: FeedServer, round_: int) -> set[tuple[str, str]]:
    """Every feed gains entries each round; returns every (feed file, entry id) served so far."""
    served: set[tuple[str, str]] = set()
    for f in range(FEEDS):
        entries = [
            (
                f"tag:crash,2026:{f}-{n}",
                f"Feed {f} post {n}",
                f"2026-07-{1 + n % 28:02d}T{n % 24:02d}:00:00Z",
                f"<p>feed {f} post {n}</p>" * 20,
            )
            for n in range(5 + round_ * (1 + f % 3))
        ]
        name = f"feed{f}.atom"
        (server.folder / name).write_text(atom(f"Feed {f}", f"https://f{f}.example/", entries))
        served |= {(name, e[0]) for e in entries}
    return served


def stored_entries(database: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(database) as conn:
        return [
            (u.rsplit("/", 1)[-1], k) for u, k in conn.execute("SELECT feed_url, key FROM entries")
        ]


def test_sigkill_during_polling_loses_and_duplicates_nothing(
    tmp_path: Path, feed_server: FeedServer, make_daemon
) -> None:
    """Ten SIGKILLs at random moments while polling: integrity ok, every entry stored once.

    After the last restart the daemon resumes its stored schedule and its
    validators: nothing is downloaded again.
    """
    rng = random.Random(2026)
    served = write_feeds(feed_server, 0)
    config = tmp_path / "planet.ini"
    config.write_text(
        "[Planet]\nname = Crash\nmin_interval = 1s\npoll_interval = 1s\nconcurrency = 4\n"
        + "".join(
            f"\n[{feed_server.url(f'feed{f}.atom')}]\nname = Feed {f}\n" for f in range(FEEDS)
        )
    )
    daemon: Daemon = make_daemon(config)
    kills = 0
    for round_ in range(1, KILLS + 1):
        daemon.start()
        served = write_feeds(feed_server, round_)
        time.sleep(rng.uniform(0.3, 1.5))
        daemon.stop(signal.SIGKILL)
        kills += 1
    with sqlite3.connect(daemon.database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    config.write_text(config.read_text().replace("poll_interval = 1s", "poll_interval = 1h"))
    daemon.start()
    daemon.wait_until(lambda: set(stored_entries(daemon.database)) >= served, 60, "every entry")
    feeds = daemon.json("/api/feeds")["feeds"]
    assert {f["status"] for f in feeds} == {"ok"}
    assert all(
        f["entry_count"] == sum(1 for s in served if s[0] == f["url"].rsplit("/", 1)[-1])
        for f in feeds
    )
    stop = daemon.stop()
    assert stop in (0, -signal.SIGTERM)

    rows = stored_entries(daemon.database)
    assert len(rows) == len(set(rows)), "an entry was stored twice"
    assert set(rows) == served, "an entry was lost"
    with sqlite3.connect(daemon.database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        states = conn.execute("SELECT status, etag FROM feeds").fetchall()
    assert all(status == "ok" and etag for status, etag in states)
    assert kills == KILLS

    # Restart once more: the river is whole at once; feeds polled within their
    # interval are not due, and the rest are asked with validators: nothing is
    # downloaded again (every request, if any, is answered 304).
    before = len(feed_server.accesses())
    daemon.start()
    assert len(daemon.json("/api/entries?limit=500&hidden=1")["entries"]) == len(served)
    time.sleep(3)
    assert {status for status, _ in feed_server.accesses()[before:]} <= {304}
    daemon.stop()


def run_daemon_once(
    config: Path, database: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *twistd(),
            "-n",
            "--pidfile=",
            "planetd",
            "--config",
            str(config),
            "--database",
            str(database),
            "--listen",
            "tcp:0:interface=127.0.0.1",
        ],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=str(config.parent),
        timeout=timeout,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "planet.ini"
    path.write_text("[Planet]\nname = Careful\n")
    return path


def test_a_database_from_a_newer_planetd_is_refused(config: Path, tmp_path: Path) -> None:
    """A schema newer than this planetd knows stops the daemon; the file is left as it was."""
    database = tmp_path / "newer.sqlite"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE feeds (url TEXT)")
        conn.execute("PRAGMA user_version = 99")
    before = database.read_bytes()
    result = run_daemon_once(config, database)
    assert result.returncode != 0
    assert "written by a newer planetd" in result.stderr
    assert database.read_bytes() == before


def test_a_locked_database_is_refused(config: Path, tmp_path: Path) -> None:
    """Another process holding the write lock stops the daemon with a clear line."""
    database = tmp_path / "locked.sqlite"
    first = run_daemon_once_quick_create(config, database)
    assert first == 0
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None);"
            " c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(60)",
            str(database),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        result = run_daemon_once(config, database)
    finally:
        holder.kill()
        holder.wait(10)
    assert result.returncode != 0
    assert "cannot write" in result.stderr
    assert "locked" in result.stderr


def run_daemon_once_quick_create(config: Path, database: Path) -> int:
    """Create and migrate a database the way the daemon does, then close it."""
    code = "import sys; from planetd.store import open_database; open_database(sys.argv[1]).close()"
    return subprocess.run(
        [sys.executable, "-c", code, str(database)], env=subprocess_env(), timeout=60, check=False
    ).returncode


def test_a_missing_folder_is_a_clear_error(config: Path, tmp_path: Path) -> None:
    """A --database in a folder that does not exist: one line, non-zero exit, nothing created."""
    result = run_daemon_once(config, tmp_path / "nowhere" / "planet.sqlite")
    assert result.returncode != 0
    assert "does not exist" in result.stderr
    assert not (tmp_path / "nowhere").exists()


def process_tree(root: int) -> set[int]:
    """``root`` and every process below it, read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    tree = {root}
    for _ in range(10):
        tree |= {pid for pid, parent in parents.items() if parent in tree}
    return tree


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_killed_daemon_leaves_no_parse_workers_behind(
    tmp_path: Path, feed_server: FeedServer, make_daemon
) -> None:
    """SIGKILL gives the daemon no chance to stop its pool: its workers notice and exit."""
    write_feeds(feed_server, 0)
    config = tmp_path / "planet.ini"
    config.write_text(f"[Planet]\nname = K\n\n[{feed_server.url('feed0.atom')}]\n")
    daemon: Daemon = make_daemon(config)
    daemon.start()
    daemon.wait_until(lambda: bool(daemon.json("/api/entries")["entries"]), 30, "a parse")
    assert daemon.process is not None
    helpers = process_tree(daemon.process.pid) - {daemon.process.pid}
    assert len(helpers) >= 2, "the parse workers run in their own processes"
    daemon.stop(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p in helpers):
        time.sleep(0.1)
    assert not [p for p in helpers if alive(p)]
