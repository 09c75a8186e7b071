"""A real ``twistd -n planetd`` stops cleanly, however it is told to.

Operators (and systemd) send SIGTERM, sometimes twice in a row; either way the daemon
ends as twistd ends on SIGTERM (by that signal, which systemd counts as a clean stop),
with no traceback and without the multiprocessing resource tracker's complaint
about leaked semaphores, and its log says it stopped.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from conftest import Daemon, FeedServer
from feeds import atom


def planet(tmp_path: Path, server: FeedServer) -> Path:
    """A planet of three feeds, polled at once, so parse workers are running."""
    lines = ["[Planet]", "name = Shutdown", "min_interval = 1s", "poll_interval = 1h", ""]
    for n in range(3):
        entries = [(f"tag:s,2026:{n}-{i}", f"Post {i}", "2026-07-04T00:00:00Z", "<p>x</p>")
                   for i in range(5)]  # fmt: skip
        (server.folder / f"f{n}.atom").write_text(atom(f"Feed {n}", "https://s.example/", entries))
        lines += [f"[{server.url(f'f{n}.atom')}]", f"name = Feed {n}", ""]
    config = tmp_path / "planet.ini"
    config.write_text("\n".join(lines))
    return config


def assert_clean(log: str) -> None:
    assert "Traceback" not in log, log[-3000:]
    assert "ReactorNotRunning" not in log, log[-3000:]
    assert "leaked semaphore" not in log, log[-3000:]
    assert "resource_tracker" not in log, log[-3000:]


@pytest.mark.parametrize("signals", [1, 2, 3], ids=["once", "twice", "three-times"])
def test_sigterm_once_or_repeatedly_stops_cleanly(
    tmp_path: Path, feed_server: FeedServer, make_daemon, signals: int
) -> None:
    """SIGTERM (repeated quickly while the daemon stops) ends it as twistd ends on
    SIGTERM, with a "stopped" line, no traceback and no leaked-semaphore warning; a
    repeated signal is noted in the log."""
    daemon: Daemon = make_daemon(planet(tmp_path, feed_server))
    daemon.start()
    daemon.wait_until(lambda: len(daemon.json("/api/entries")["entries"]) == 15, 30, "entries")
    assert daemon.process is not None
    process = daemon.process
    for _ in range(signals):
        process.send_signal(signal.SIGTERM)
        time.sleep(0.02)
    code = process.wait(30)
    time.sleep(0.5)  # the resource tracker writes after the main process is gone
    log = daemon.log()
    assert code in (0, -signal.SIGTERM), log[-3000:]
    assert "planetd stopped" in log, log[-3000:]
    assert_clean(log)
    if signals > 1:
        assert "planetd is already stopping; SIGTERM ignored" in log, log[-3000:]
