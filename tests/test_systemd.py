"""Running under systemd: socket activation and the example units in ``examples/``.

Socket activation is tested the way systemd does it: the test opens a
listening socket, and the daemon is started with it as file descriptor 3 and
``LISTEN_FDS=1`` / ``LISTEN_PID`` (its own pid) in its environment, running
the example unit's own ``ExecStart`` command line. The unit files are checked
by ``systemd-analyze verify`` where it is installed.
"""

from __future__ import annotations

import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO, FeedServer, subprocess_env, twistd
from feeds import atom

SERVICE = REPO / "examples" / "planetd.service"
SOCKET = REPO / "examples" / "planetd.socket"

#: Runs in the child between fork and the daemon: what systemd does before exec.
#: ``preexec_fn`` cannot set the environment, and LISTEN_PID must be the daemon's
#: own pid, so this small program moves the socket to fd 3, sets the variables
#: (systemd 227 and later also name each socket; Twisted wants the names too)
#: and replaces itself (same pid) with twistd.
ACTIVATE = (
    "import os, sys\n"
    "os.dup2(int(sys.argv[1]), 3)\n"
    "os.close(int(sys.argv[1]))\n"
    "os.environ['LISTEN_FDS'] = '1'\n"
    "os.environ['LISTEN_PID'] = str(os.getpid())\n"
    "os.environ['LISTEN_FDNAMES'] = 'planetd.socket'\n"
    "os.execv(sys.executable, [sys.executable, '-c',"
    " 'from twisted.scripts.twistd import run; run()', *sys.argv[2:]])\n"
)


def unit(path: Path) -> dict[str, list[str]]:
    """A unit file's ``Key=value`` lines (comments skipped), every value of each key."""
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def exec_start_arguments(config: Path, database: Path) -> list[str]:
    """The example unit's ExecStart after ``twistd``, with this test's config and database."""
    words = shlex.split(unit(SERVICE)["ExecStart"][0])
    assert Path(words[0]).name == "twistd"
    arguments = words[1:]
    arguments[arguments.index("--config") + 1] = str(config)
    arguments[arguments.index("--database") + 1] = str(database)
    return arguments


def test_the_example_units_say_what_systemd_needs() -> None:
    """The service runs ``twistd -n`` without a pid file on the socket systemd passes,
    reloads with SIGHUP, and keeps the hardening that still lets it run; the socket unit
    listens and names the service."""
    service = unit(SERVICE)
    words = shlex.split(service["ExecStart"][0])
    assert words[1:3] == ["-n", "--pidfile="]
    assert words[3] == "planetd"
    assert "systemd:domain=INET:index=0" in words
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert service["Type"] == ["simple"]
    assert service["Requires"] == ["planetd.socket"]
    for key, value in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("StateDirectory", "planetd"),
    ]:
        assert service[key] == [value], key
    # The database lives in the state folder, the one place the service may write.
    database = words[words.index("--database") + 1]
    assert database.startswith("/var/lib/planetd/")
    # The parse workers' forkserver talks over AF_UNIX: it must stay allowed.
    assert "AF_UNIX" in service["RestrictAddressFamilies"][0].split()
    sock = unit(SOCKET)
    assert sock["ListenStream"] == ["127.0.0.1:8080"]
    assert sock["Service"] == ["planetd.service"]


def test_systemd_analyze_verifies_the_example_units(tmp_path: Path) -> None:
    """``systemd-analyze verify`` finds nothing wrong with the units (with ExecStart's
    twistd pointed at this interpreter's, since verify wants an executable there)."""
    analyze = shutil.which("systemd-analyze")
    twistd = Path(sys.executable).parent / "twistd"
    if analyze is None or not twistd.exists():
        pytest.skip("systemd-analyze or this interpreter's twistd is not installed")
    shutil.copy(SOCKET, tmp_path / "planetd.socket")
    text = SERVICE.read_text().replace("ExecStart=/usr/bin/twistd", f"ExecStart={twistd}")
    (tmp_path / "planetd.service").write_text(text)
    result = subprocess.run(
        [analyze, "verify", str(tmp_path / "planetd.socket"), str(tmp_path / "planetd.service")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "planetd" not in result.stderr, result.stderr


def _get(port: int, path: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return int(response.status), response.read()


@pytest.mark.e2e
def test_the_daemon_serves_on_the_socket_systemd_hands_it(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Started as systemd starts it (the listening socket as fd 3; ``LISTEN_FDS=1``,
    ``LISTEN_FDNAMES`` and ``LISTEN_PID``, its own pid) with the example unit's command
    line, the daemon adopts that socket: it serves the river there, binding no port."""
    (feed_server.folder / "a.atom").write_text(
        atom("A", "https://a.example/", [("tag:a,1", "Activated", "2026-07-04T00:00:00Z", "")])
    )
    config = tmp_path / "planet.ini"
    config.write_text(
        "[Planet]\nname = Planet Activated\nmin_interval = 1s\n\n"
        f"[{feed_server.url('a.atom')}]\nname = A\n"
    )
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    log = tmp_path / "daemon.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                ACTIVATE,
                str(listener.fileno()),
                *exec_start_arguments(config, tmp_path / "planet.sqlite"),
            ],
            pass_fds=(listener.fileno(),),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=str(tmp_path),
            env=subprocess_env(),
        )
    # Only the daemon holds the socket now: whatever answers on the port is the daemon.
    listener.close()
    try:
        deadline = time.monotonic() + 30
        titles = b""
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text(errors="replace")
            try:
                status, titles = _get(port, "/api/entries")
            except OSError:
                status = 0
            if status == 200 and b"Activated" in titles:
                break
            time.sleep(0.2)
        assert b"Activated" in titles, log.read_text(errors="replace")[-3000:]
        status, river = _get(port, "/")
        assert status == 200
        assert b"Planet Activated" in river
        assert f"serving on http://127.0.0.1:{port}/" in (log.read_text(errors="replace"))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait(10)
    assert code in (0, -signal.SIGTERM), log.read_text(errors="replace")[-3000:]
    assert "planetd stopped; database closed" in log.read_text(errors="replace")


def test_a_systemd_listener_without_its_socket_is_a_one_line_error(tmp_path: Path) -> None:
    """``--listen systemd:...`` run by hand (no socket passed) stops with one line saying
    so, not a traceback, and writes nothing."""
    config = tmp_path / "planet.ini"
    config.write_text("[Planet]\nname = P\n")
    env = subprocess_env()
    for name in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
        env.pop(name, None)
    listen = ["--listen", "systemd:domain=INET:index=0"]
    result = subprocess.run(
        [*twistd(), "-n", "--pidfile=", "planetd", "--config", str(config), *listen],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    said = (result.stderr + result.stdout).strip()
    assert "--listen 'systemd:domain=INET:index=0': systemd passed no socket" in said
    assert "Traceback" not in said
