"""Shared fixtures: a local feed server and a real ``twistd -n planetd`` daemon.

Both are subprocesses on 127.0.0.1 with bounded waits; each fixture stops what
it started. The daemon runs the same ``planetd`` this test process imports
(the installed package in CI, the source tree during development).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import corpus
import planetd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def pytest_report_header() -> str:
    """Say up front whether the third-party corpora will be read or skipped."""
    if corpus.available():
        return f"corpus: {corpus.CORPUS}"
    return f"corpus: absent; {corpus.MISSING}"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under ``PLANETD_REQUIRE_CORPUS=1`` (CI) a missing corpus stops the run at once."""
    if corpus.REQUIRED and not corpus.available():
        raise pytest.UsageError(
            f"PLANETD_REQUIRE_CORPUS is set but no corpus is at {corpus.CORPUS}"
        )


def subprocess_env() -> dict[str, str]:
    """An environment whose Python finds the same planetd (and plugin) as this process."""
    env = dict(os.environ)
    package_root = Path(planetd.__file__).resolve().parents[1]
    if package_root == REPO / "src":
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO)])
    else:
        env.pop("PYTHONPATH", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def twistd() -> list[str]:
    """The ``twistd`` of this interpreter."""
    return [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]


def planetd_cli() -> list[str]:
    """The ``planetd`` command line of this interpreter."""
    return [sys.executable, "-c", "from planetd.cli import main; main()"]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FeedServer:
    """A subprocess serving a folder of feeds; ``url(name)`` gives a file's URL."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.access_log = folder.parent / f"{folder.name}-access.log"
        env = subprocess_env()
        env["FEEDSERVER_LOG"] = str(self.access_log)
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "feedserver.py"), str(folder)],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"feed server did not start: {line!r}")
        self.port = int(line.split()[1])

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def accesses(self) -> list[tuple[int, str]]:
        """Every (status, path) served so far."""
        if not self.access_log.exists():
            return []
        lines = self.access_log.read_text().split()
        return [(int(s), p) for s, p in zip(lines[::2], lines[1::2], strict=True)]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture
def feed_server(tmp_path: Path) -> Iterator[FeedServer]:
    folder = tmp_path / "served"
    folder.mkdir()
    server = FeedServer(folder)
    yield server
    server.stop()


class Daemon:
    """A real ``twistd -n planetd`` subprocess and a small HTTP client for it."""

    def __init__(self, config: Path, database: Path, log: Path) -> None:
        self.config = config
        self.database = database
        self.log_path = log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        #: More options for twistd planetd (several planets: more ``--config`` files).
        self.extra: list[str] = []

    def start(self, wait: float = 30.0) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    *twistd(),
                    "-n",
                    "--pidfile=",
                    "planetd",
                    "--config",
                    str(self.config),
                    "--database",
                    str(self.database),
                    "--listen",
                    f"tcp:{self.port}:interface=127.0.0.1",
                    *self.extra,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(self.config.parent),
                env=subprocess_env(),
            )
        self.wait_until(lambda: self.status("/healthz") == 200, wait, "daemon ready")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def status(self, path: str) -> int | None:
        try:
            with urllib.request.urlopen(self.url(path), timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None

    def get(
        self, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(self.url(path), headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status), dict(response.headers), response.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, path: str) -> Any:
        status, _, body = self.get(path)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)

    def wait_until(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"daemon exited ({self.process.returncode}):\n{self.log()}")
            if check():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        code = self.process.returncode
        self.process = None
        return code


@pytest.fixture
def make_daemon(tmp_path: Path) -> Iterator[Callable[[Path], Daemon]]:
    started: list[Daemon] = []

    def make(config: Path) -> Daemon:
        daemon = Daemon(config, tmp_path / "planet.sqlite", tmp_path / f"daemon{len(started)}.log")
        started.append(daemon)
        return daemon

    yield make
    for daemon in started:
        daemon.stop(signal.SIGKILL)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A private PostgreSQL server for the whole run (skipped without PostgreSQL)."""
    import pgserver

    with pgserver.running_server() as server:
        yield server


@pytest.fixture
def pg_url(pg_server: Any) -> str:
    """A new, empty PostgreSQL database on the run's private server."""
    return str(pg_server.create_database())
