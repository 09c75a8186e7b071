"""Fetch counts of several planets in one daemon, against one daemon per planet.

Serves a farm of small feeds (:mod:`farm`) from a local HTTP server that
COUNTS every request (and answers ``If-None-Match`` with 304, as a static
server does), then runs real ``twistd -n planetd`` daemons on 127.0.0.1 for a
fixed window and counts what reached the server:

* ``one``: one planet of ``--feeds`` feeds;
* ``three``: three planets of ``--feeds`` feeds each, sharing half of them
  (every planet lists the same ``feeds/2`` shared feeds plus ``feeds/2`` of
  its own), in ONE daemon (``--config`` three times);
* ``separate``: the same three planets, one daemon each (what running three
  planet programs costs).

Every planet polls every feed each ``--interval`` seconds. Prints one JSON
line per scenario and a summary table::

    python benchmarks/planets_bench.py [--feeds 20] [--interval 5] [--window 30]

Everything runs on 127.0.0.1; every process started here is stopped here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from farm import generate
from harness import PY, free_port, http_get, subprocess_env, wait_for


class CountingServer:
    """Serves a folder on 127.0.0.1 and counts every GET by path (200s and 304s alike)."""

    def __init__(self, folder: Path) -> None:
        self.counts: Counter[str] = Counter()
        lock = threading.Lock()
        counts = self.counts

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    counts[self.path] += 1
                path = folder / self.path.lstrip("/")
                if not path.is_file():
                    self.send_error(404)
                    return
                body = path.read_bytes()
                etag = '"' + hashlib.sha1(body).hexdigest() + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def __enter__(self) -> CountingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def write_planet(path: Path, name: str, urls: list[str], interval: float) -> Path:
    sections = "".join(f"\n[{url}]\nname = {name} feed {i}\n" for i, url in enumerate(urls))
    path.write_text(
        f"[Planet]\nname = {name}\nmount = /{path.stem}/\nmin_interval = 1s\n"
        f"poll_interval = {interval:g}s\n{sections}"
    )
    return path


class Daemon:
    """``twistd -n planetd`` over one or several configs, on a free 127.0.0.1 port."""

    def __init__(self, configs: list[Path], database: Path) -> None:
        self.port = free_port()
        args = [a for c in configs for a in ("--config", str(c))]
        self.log = database.with_suffix(".log")
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [
                    PY,
                    "-c",
                    "from twisted.scripts.twistd import run; run()",
                    "-n",
                    "--pidfile=",
                    "planetd",
                    *args,
                    "--database",
                    str(database),
                    "--listen",
                    f"tcp:{self.port}:interface=127.0.0.1",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(database.parent),
                env=subprocess_env(),
            )

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(self.log.read_text(errors="replace")[-2000:])
            return http_get(f"http://127.0.0.1:{self.port}/healthz", timeout=5)[0] == 200

        wait_for(ready, 60, "the daemon to be ready")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def run(
    name: str, groups: list[list[Path]], server: CountingServer, window: float, folder: Path
) -> dict[str, Any]:
    """Start one daemon per group of configs, count the fetches over ``window`` seconds."""
    server.counts.clear()
    with ExitStack() as stack:
        daemons = []
        for i, configs in enumerate(groups):
            daemon = Daemon(configs, folder / f"{name}-{i}.sqlite")
            stack.callback(daemon.stop)
            daemons.append(daemon)
        for daemon in daemons:
            daemon.wait_ready()
        time.sleep(window)
        counts = dict(server.counts)
    listed = sum(len(c.read_text().split("\n[")) - 1 for g in groups for c in g)
    fetches = sum(counts.values())
    return {
        "scenario": name,
        "daemons": len(groups),
        "planets": sum(len(g) for g in groups),
        "feeds_listed": listed,
        "urls": len(counts),
        "fetches": fetches,
        "fetches_per_url": round(fetches / max(1, len(counts)), 2),
        "window_s": window,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=20, help="feeds per planet (even)")
    parser.add_argument("--interval", type=float, default=5.0, help="poll_interval, seconds")
    parser.add_argument("--window", type=float, default=30.0, help="seconds counted")
    args = parser.parse_args(argv)
    half = args.feeds // 2
    with tempfile.TemporaryDirectory(prefix="planets-bench-") as tmp:
        folder = Path(tmp)
        farm = generate(folder / "farm", half + 3 * half, small=True)
        names = [f.name for f in farm.feeds]
        with CountingServer(folder / "farm" / "base") as server:
            shared = [server.url(n) for n in names[:half]]
            own = [
                [server.url(n) for n in names[half + i * half : half + (i + 1) * half]]
                for i in range(3)
            ]
            one = write_planet(folder / "one.ini", "One", shared + own[0], args.interval)
            three = [
                write_planet(folder / f"p{i}.ini", f"P{i}", shared + own[i], args.interval)
                for i in range(3)
            ]
            results = [
                run("one", [[one]], server, args.window, folder),
                run("three", [three], server, args.window, folder),
                run("separate", [[c] for c in three], server, args.window, folder),
            ]
    for result in results:
        print(json.dumps(result))
    print(
        f"\n{'scenario':<10} {'daemons':>7} {'planets':>7} {'listed':>6} {'urls':>5} "
        f"{'fetches':>7} {'per url':>7}"
    )
    for r in results:
        print(
            f"{r['scenario']:<10} {r['daemons']:>7} {r['planets']:>7} {r['feeds_listed']:>6} "
            f"{r['urls']:>5} {r['fetches']:>7} {r['fetches_per_url']:>7}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
