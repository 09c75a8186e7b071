"""The benchmark's tools: measured subprocesses, the daemon, wrk, the database, the machine.

Owns how a figure is taken, so that every scenario measures the same way:

* a **measured run** is a subprocess timed from spawn to exit (interpreter
  start and imports included, for planetd and the naive loop alike), with its
  whole process tree (parse workers, forkserver) sampled for RSS and CPU;
* a **daemon** is a real ``twistd -n planetd`` subprocess on 127.0.0.1 whose
  log is counted and whose ``/api/feeds`` is read;
* **bodies parsed** by planetd are read from its own store: a poll that parsed
  a body stores that body's hash, a 304 or a byte-identical body (the only
  cases :func:`planetd.decide.needs_parse` skips) leaves it as it was, so the
  feeds whose ``body_hash`` changed are exactly the bodies parsed.

Every wait here is bounded, every process started here is stopped here, and
nothing talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
PY = sys.executable


def subprocess_env() -> dict[str, str]:
    """The source tree's planetd (and its twistd plugin) first, unbuffered output."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO)])
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- numbers --------------------------------------------------------------------------------------


def summary(values: Iterable[float | None]) -> dict[str, float] | None:
    """Median, min and max of the values that exist (None when none do)."""
    xs = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


# -- process trees --------------------------------------------------------------------------------


class TreeSampler:
    """Samples a process and all its descendants: summed RSS (and PSS), summed CPU time.

    RSS summed over the tree counts pages shared between the forkserver and the
    workers once per process (what ``ps`` shows added up); PSS divides shared
    pages between the processes that share them, so its sum is the memory the
    tree really occupies. Both are reported.
    """

    def __init__(self, pid: int, interval: float = 0.05, pss_every: int = 10) -> None:
        self.pid = pid
        self.interval = interval
        self.pss_every = pss_every
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_processes = 0
        self.peak_rss_main = 0
        self._cpu: dict[tuple[int, float], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._samples = 0

    def start(self) -> TreeSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    @property
    def cpu_seconds(self) -> float:
        return sum(self._cpu.values())

    def _run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop.is_set():
            self.sample(root)
            self._stop.wait(self.interval)

    def sample(self, root: psutil.Process) -> None:
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        self._samples += 1
        with_pss = self._samples % self.pss_every == 1
        rss = pss = 0
        alive = 0
        for p in procs:
            try:
                with p.oneshot():
                    times = p.cpu_times()
                    own = p.memory_info().rss
                    rss += own
                    if p.pid == self.pid:
                        self.peak_rss_main = max(self.peak_rss_main, own)
                    if with_pss:
                        pss += p.memory_full_info().pss
                    self._cpu[(p.pid, p.create_time())] = times.user + times.system
                alive += 1
            except psutil.Error:
                continue
        self.peak_rss = max(self.peak_rss, rss)
        if with_pss:
            self.peak_pss = max(self.peak_pss, pss)
        self.peak_processes = max(self.peak_processes, alive)

    def figures(self) -> dict[str, float]:
        return {
            "peak_rss_mb": self.peak_rss / 2**20,
            "peak_pss_mb": self.peak_pss / 2**20,
            "cpu_s": self.cpu_seconds,
            "processes": self.peak_processes,
            "peak_rss_main_mb": self.peak_rss_main / 2**20,
            "cpu_main_s": sum(t for (pid, _), t in self._cpu.items() if pid == self.pid),
        }


def run_measured(
    command: Sequence[str],
    *,
    timeout: float,
    output: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``command`` to completion; wall time from spawn to exit, tree RSS and CPU.

    Output (stdout and stderr) goes to ``output``. A run past ``timeout`` is
    killed and reported with ``timed_out``. ``env`` is added to
    :func:`subprocess_env`'s environment.
    """
    with open(output, "wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env={**subprocess_env(), **(env or {})},
        )
        # PSS (a read of every mapping) every 0.5 s, so a run of a second or two has some.
        sampler = TreeSampler(process.pid, interval=0.1, pss_every=5).start()
        deadline = started + timeout
        timed_out = False
        rusage = None
        status = 0
        while True:
            pid, status, rusage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                timed_out = True
                _kill_tree(process.pid)
                _, status, rusage = os.wait4(process.pid, 0)
                break
            time.sleep(0.005)
        wall = time.perf_counter() - started
        sampler.stop()
    process.returncode = os.waitstatus_to_exitcode(status)
    figures = sampler.figures()
    if rusage is not None:
        # wait4 adds the CPU of the descendants the child reaped; sampling misses the last tick.
        figures["cpu_s"] = max(figures["cpu_s"], rusage.ru_utime + rusage.ru_stime)
        # And the kernel's own peak (the largest single process, in KiB): a floor for the
        # tree's peak that a run shorter than the sampling interval (newsboat's) cannot miss.
        figures["peak_rss_mb"] = max(figures["peak_rss_mb"], rusage.ru_maxrss / 1024)
        if figures["processes"] <= 1:
            figures["peak_rss_main_mb"] = figures["peak_rss_mb"]
    return {
        "wall": wall,
        "rc": process.returncode,
        "timed_out": timed_out,
        "output": output.read_text(errors="replace"),
        **figures,
    }


def _kill_tree(pid: int) -> None:
    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.Error:
        return
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.kill()


def last_json_line(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return dict(json.loads(line))
            except ValueError:
                continue
    return {}


# -- HTTP on 127.0.0.1 ----------------------------------------------------------------------------


def http_get(url: str, timeout: float = 30.0) -> tuple[int, bytes]:
    assert url.startswith("http://127.0.0.1:"), url
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_for(check: Callable[[], bool], timeout: float, what: str, step: float = 0.05) -> float:
    """Poll ``check`` until true; return the time it took; RuntimeError after ``timeout``."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            if check():
                return time.perf_counter() - started
        except (OSError, urllib.error.URLError, ValueError):
            pass
        time.sleep(step)
    raise RuntimeError(f"timed out after {timeout:g}s waiting for {what}")


# -- the daemon -----------------------------------------------------------------------------------


_POLLED = re.compile(rb"#info\] polled ")
_READY = re.compile(rb"ready in ([0-9.]+)s")


class Daemon:
    """A ``twistd -n planetd`` subprocess serving on a free 127.0.0.1 port."""

    def __init__(self, config: Path, database: Path, log: Path) -> None:
        self.config = config
        self.database = database
        self.log = log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.sampler: TreeSampler | None = None
        self.spawned_at = 0.0  # perf_counter
        self.spawned_wall = 0.0  # time.time
        self._read = 0
        self._polled = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self, *, sample: bool = True) -> Daemon:
        self.spawned_wall = time.time()
        self.spawned_at = time.perf_counter()
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [
                    PY,
                    "-c",
                    "from twisted.scripts.twistd import run; run()",
                    "-n",
                    "--pidfile=",
                    "planetd",
                    "--config",
                    str(self.config),
                    "--database",
                    str(self.database),
                    "--listen",
                    f"tcp:{self.port}:interface=127.0.0.1",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(self.config.parent),
                env=subprocess_env(),
            )
        if sample:
            self.sampler = TreeSampler(self.process.pid, interval=0.1).start()
        return self

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Seconds from spawn until ``/healthz`` says ok."""

        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"twistd exited with {self.process.returncode}: {self.tail()}")
            return http_get(self.url("/healthz"), timeout=5)[0] == 200

        wait_for(ready, timeout, "the daemon to be ready")
        return time.perf_counter() - self.spawned_at

    def polled(self) -> int:
        """How many ``polled ...`` lines the daemon has logged so far."""
        with open(self.log, "rb") as f:
            f.seek(self._read)
            chunk = f.read()
        cut = chunk.rfind(b"\n") + 1
        self._polled += len(_POLLED.findall(chunk[:cut]))
        self._read += cut
        return self._polled

    def ready_seconds(self) -> float | None:
        match = _READY.search(self.log.read_bytes())
        return float(match.group(1)) if match else None

    def api_feeds(self, timeout: float = 60.0) -> list[dict[str, Any]]:
        status, body = http_get(self.url("/api/feeds"), timeout=timeout)
        if status != 200:
            raise RuntimeError(f"/api/feeds answered {status}")
        return list(json.loads(body)["feeds"])

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.sampler is not None:
            self.sampler.stop()
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                _kill_tree(self.process.pid)
                self.process.wait(10)
        self.process = None

    def __enter__(self) -> Daemon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def rfc3339_seconds(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


# -- the database ---------------------------------------------------------------------------------


def body_hashes(database: Path) -> dict[str, str | None]:
    """Each feed's stored body hash (read-only)."""
    if not database.exists():
        return {}
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return dict(db.execute("SELECT url, body_hash FROM feeds"))


def feed_statuses(database: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return dict(db.execute("SELECT status, count(*) FROM feeds GROUP BY status"))


def entry_count(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT count(*) FROM entries").fetchone()[0])


def parsed_between(before: dict[str, str | None], after: dict[str, str | None]) -> int:
    """Bodies parsed: feeds whose stored body hash changed (see the module docstring)."""
    return sum(1 for url, h in after.items() if h and h != before.get(url))


def copy_database(source: Path, target: Path, *, make_due: bool = False) -> None:
    """A consistent copy (SQLite's backup API); ``make_due`` sets every feed due now."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
        if make_due:
            dst.execute("UPDATE feeds SET next_poll_at = ?", (time.time() - 60,))
    dst.close()


def remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


# -- wrk ------------------------------------------------------------------------------------------


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text.strip())
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(url: str, *, seconds: float, connections: int = 50, threads: int = 2) -> dict[str, Any]:
    """One wrk run with ``--latency``; requests/s, p50/p99 in ms, errors.

    ``--timeout 30s``: wrk leaves requests slower than its timeout (2 s by
    default) out of the latency distribution, which would hide a stalled server.
    """
    assert url.startswith("http://127.0.0.1:"), url
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "--latency",
        url,
    ]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    text = out.stdout
    result: dict[str, Any] = {"raw": text, "rc": out.returncode}
    rps = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    result["rps"] = float(rps.group(1)) if rps else None
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", text, re.MULTILINE)
        result[f"p{pct}"] = _ms(m.group(1)) if m else None
    total = re.search(r"(\d+) requests in", text)
    result["requests"] = int(total.group(1)) if total else 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    result["non2xx"] = int(non2xx.group(1)) if non2xx else 0
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    result["socket_errors"] = sum(int(g) for g in errors.groups()) if errors else 0
    return result


# -- the machine ----------------------------------------------------------------------------------


def _version(module: str) -> str:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return "?"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
        wrk_text = (wrk_version.stdout or wrk_version.stderr).splitlines()[0].split(" [")[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        wrk_text = "not installed"
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "?", ""
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "memory_gb": psutil.virtual_memory().total / 2**30,
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "twisted": _version("twisted"),
        "feedparser": _version("feedparser"),
        "nh3": _version("nh3"),
        "klein": _version("klein"),
        "requests": _version("requests"),
        "wrk": wrk_text,
        "commit": commit + (" (src/ has uncommitted changes)" if dirty else ""),
        "loadavg": os.getloadavg(),
    }
