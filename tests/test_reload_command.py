"""``planetd reload``'s pid file handling, in-process: which process gets SIGHUP, and when none."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from planetd import commands
from planetd.commands import CommandError

#: A stand-in daemon: its command line names planetd; it writes a file when it gets SIGHUP.
FAKE_DAEMON = """
import pathlib, signal, sys, time  # planetd
signal.signal(signal.SIGHUP, lambda *_: pathlib.Path(sys.argv[1]).write_text("hup"))
print("ready", flush=True)
time.sleep(30)
"""


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "planet.ini"
    path.write_text("[Planet]\nname = P\n")
    return str(path)


def test_reload_sends_sighup_to_the_pidfile_s_planetd(
    tmp_path: Path, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The process the pid file names gets SIGHUP, and the command says which it was."""
    marker = tmp_path / "got-hup"
    child = subprocess.Popen(
        [sys.executable, "-c", FAKE_DAEMON, str(marker)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        pidfile = tmp_path / "twistd.pid"
        pidfile.write_text(f"{child.pid}\n")
        assert commands.reload(config, str(pidfile)) == 0
        for _ in range(100):
            if marker.exists():
                break
            time.sleep(0.05)
        assert marker.read_text() == "hup"
        assert f"pid {child.pid}, pidfile {pidfile}" in capsys.readouterr().out
    finally:
        child.kill()
        child.wait()


def test_reload_refuses_a_pid_of_another_program(tmp_path: Path, config: str) -> None:
    """A pid file naming a live process that is not planetd (a reused pid) is not signalled."""
    child = subprocess.Popen(["sleep", "30"])
    try:
        pidfile = tmp_path / "twistd.pid"
        pidfile.write_text(f"{child.pid}\n")
        with pytest.raises(CommandError, match=r"\(process \d+ is another program\)"):
            commands.reload(config, str(pidfile))
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()


def test_reload_says_no_planetd_runs(tmp_path: Path, config: str) -> None:
    """A missing, stale or garbled pid file is one clear line, nothing is signalled."""
    missing = tmp_path / "none.pid"
    with pytest.raises(CommandError, match=f"^no planetd runs with pidfile {missing} \\(no such"):
        commands.reload(config, str(missing))
    ended = subprocess.Popen(["true"])
    ended.wait()
    stale = tmp_path / "stale.pid"
    stale.write_text(f"{ended.pid}\n")
    with pytest.raises(CommandError, match=r"has ended; the file is stale"):
        commands.reload(config, str(stale))
    garbled = tmp_path / "garbled.pid"
    garbled.write_text("planetd\n")
    with pytest.raises(CommandError, match=r"not a pid file"):
        commands.reload(config, str(garbled))
