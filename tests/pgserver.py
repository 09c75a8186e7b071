"""A private PostgreSQL server for the tests: ``initdb`` and ``pg_ctl`` in a temporary folder.

The server listens on a free port of 127.0.0.1 only (and on no Unix socket
outside its own folder), with trust authentication for the local superuser;
it is stopped and its folder removed afterwards. ``initdb`` refuses to run as
root, so as root (in CI) the server runs as the ``postgres`` system user
(Debian's package creates it) through ``runuser``.

Without PostgreSQL's binaries the tests that need it are skipped with one
line; with ``PLANETD_REQUIRE_POSTGRES=1`` (CI) that is an error instead.
Every wait here is bounded.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest

#: Where Debian installs the server's programs (one folder per major version).
BIN_GLOB = "/usr/lib/postgresql/*/bin"


def binaries() -> str | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (the newest version), or None."""
    found = sorted(
        (d for d in glob.glob(BIN_GLOB) if os.path.exists(os.path.join(d, "initdb"))),
        key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0,
    )
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def require_binaries() -> str:
    """The binaries' folder, or skip (an error when ``PLANETD_REQUIRE_POSTGRES=1``)."""
    folder = binaries()
    if folder is None:
        message = "PostgreSQL's initdb/pg_ctl not found (apt-get install postgresql)"
        if os.environ.get("PLANETD_REQUIRE_POSTGRES") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One PostgreSQL cluster in a temporary folder; :meth:`url` names a database on it."""

    def __init__(self, folder: str) -> None:
        self.bin = folder
        self.port = _free_port()
        self.root = tempfile.mkdtemp(prefix="planetd-pg-")
        self.data = os.path.join(self.root, "data")
        self.user = "postgres"
        self._as: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._count = 0

    def _run(self, *args: str, timeout: float = 60.0) -> None:
        subprocess.run(
            [*self._as, *args],
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.root,
        )

    def start(self) -> None:
        """Create the cluster (first time only) and start the server; waits until it answers."""
        if not os.path.exists(self.data):
            self._run(
                os.path.join(self.bin, "initdb"),
                "-D",
                self.data,
                "-U",
                self.user,
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            )
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
            " -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            os.path.join(self.bin, "pg_ctl"),
            "-D",
            self.data,
            "-o",
            options,
            "-l",
            os.path.join(self.root, "server.log"),
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate``: as a crash would)."""
        self._run(
            os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", mode, "-w", "stop", timeout=60
        )

    def restart(self) -> None:
        """Stop the server as a crash would and start it again on the same port."""
        self.stop("immediate")
        self.start()

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URL of ``database`` on this server."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new, empty database; answers its URL."""
        import psycopg

        self._count += 1
        name = f"planet_{os.getpid()}_{self._count}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        """Stop the server (if running) and remove its folder."""
        with suppress(subprocess.SubprocessError, OSError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def running_server() -> Iterator[PostgresServer]:
    """A started server, stopped and removed afterwards (skips without PostgreSQL)."""
    server = PostgresServer(require_binaries())
    try:
        server.start()
        yield server
    finally:
        server.destroy()


def wait_for(check: object, timeout: float, what: str) -> None:
    """Wait until ``check()`` is true, for at most ``timeout`` seconds."""
    assert callable(check)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
