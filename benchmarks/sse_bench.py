"""The live river under load: 1,000 idle ``/events`` clients, and store-to-event latency.

Starts a real ``twistd -n planetd`` on 127.0.0.1 over one local ``file:`` feed
(60 entries, polled every second), then measures:

1. the daemon's main-process RSS and ``/`` latency (wrk, 50 connections,
   p50/p99) with no stream open;
2. the same with ``--clients`` (default 1,000) idle SSE clients holding
   ``/events`` open: the extra RSS, per stream too, and ``/`` p99 while they
   are connected (the heartbeat to every stream, default 15 s, falls inside
   the wrk run), and the daemon's CPU per ``/`` request. Runs without and
   with streams alternate ``--reps`` times (default 3) and their medians are
   compared: the machine's other load moves a single run's p99 by more than
   the streams do;
3. store-change-to-event latency, over ``--changes`` (default 40) new
   entries with every client still connected: the feed file gains an entry,
   the daemon polls and stores it, and the time from the moment the entry is
   visible in SQLite (read by this process from the WAL database every
   millisecond or so) to the moment one more client reads the event off its
   socket. Median and p99, in milliseconds.

The open-file limit of this process (and so of the daemon it starts) is raised
to the hard limit (at most 8,192) so that both ends of 1,000 sockets fit.
Prints a JSON document and a Markdown summary. Usage::

    python benchmarks/sse_bench.py [--clients N] [--changes N] [--seconds S] [--reps N]
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import sqlite3
import statistics
import tempfile
import time
from html import escape
from pathlib import Path
from typing import Any

import harness
import psutil
from harness import Daemon


def feed_text(count: int) -> str:
    """An Atom feed of ``count`` entries of a few paragraphs each, newest last."""
    entries = []
    for n in range(count):
        day, minute = divmod(n, 1440)
        stamp = f"2026-07-{1 + day:02d}T{minute // 60:02d}:{minute % 60:02d}:00Z"
        body = "".join(f"<p>Paragraph {p} of entry {n}, with some words.</p>" for p in range(4))
        entries.append(
            f"<entry><id>tag:bench,2026:{n}</id><title>Entry {n}</title>"
            f'<link rel="alternate" href="https://bench.example/{n}"/>'
            f"<published>{stamp}</published><updated>{stamp}</updated>"
            f'<content type="html">{escape(body)}</content></entry>'
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>Bench</title>'
        '<link rel="alternate" href="https://bench.example/"/><id>urn:bench</id>'
        f"<updated>2026-07-01T00:00:00Z</updated>{''.join(entries)}</feed>\n"
    )


def raise_open_files() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def open_streams(port: int, count: int, timeout: float = 10.0) -> list[socket.socket]:
    """``count`` clients holding ``GET /events``, each past its stream's opening.

    One at a time, as readers arrive: a burst of connects would overflow the
    listen backlog and measure the kernel's SYN retries, not the daemon.
    """
    request = b"GET /events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n"
    clients: list[socket.socket] = []
    try:
        for _ in range(count):
            client = socket.create_connection(("127.0.0.1", port), timeout=timeout)
            clients.append(client)
            client.sendall(request)
            received = b""
            while b"retry: " not in received:
                data = client.recv(65536)
                if not data:
                    raise RuntimeError(f"a stream closed at once: {received[:80]!r}")
                received += data
            if not received.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"a stream was refused: {received[:80]!r}")
    except BaseException:
        for client in clients:
            client.close()
        raise
    return clients


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def store_to_event(
    daemon: Daemon, feed: Path, database: Path, base: int, changes: int
) -> list[float]:
    """Milliseconds from each new entry's being visible in SQLite to its event on a socket."""
    [watcher] = open_streams(daemon.port, 1)
    watcher.setblocking(False)
    reader = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
    latencies: list[float] = []
    try:
        seen = reader.execute("SELECT count(*) FROM entries").fetchone()[0]
        for n in range(changes):
            feed.write_text(feed_text(base + n + 1))
            visible_at = event_at = None
            buffer = b""
            deadline = time.monotonic() + 30
            while (visible_at is None or event_at is None) and time.monotonic() < deadline:
                # The database first: an event read in the same turn counts from a row
                # seen before it, never after (the commit always precedes the event).
                if visible_at is None:
                    count = reader.execute("SELECT count(*) FROM entries").fetchone()[0]
                    if count > seen:
                        visible_at = time.perf_counter()
                        seen = count
                try:
                    data = watcher.recv(65536)
                except BlockingIOError:
                    data = b""
                if data:
                    buffer += data
                    if event_at is None and b"event: entries" in buffer:
                        event_at = time.perf_counter()
                time.sleep(0.0005)
            if visible_at is None or event_at is None:
                raise RuntimeError(f"change {n}: stored={visible_at} event={event_at}")
            latencies.append((event_at - visible_at) * 1000)
    finally:
        reader.close()
        watcher.close()
    return latencies


def wrk_root(daemon: Daemon, seconds: float) -> dict[str, Any]:
    """One wrk run on ``/``, with the daemon's CPU per request (steadier than latency
    on a machine shared with other work)."""
    assert daemon.process is not None
    process = psutil.Process(daemon.process.pid)
    before = process.cpu_times()
    result = harness.wrk(daemon.url("/"), seconds=seconds)
    after = process.cpu_times()
    result.pop("raw")
    cpu = (after.user + after.system) - (before.user + before.system)
    result["cpu_ms_per_request"] = 1000 * cpu / max(1, result["requests"])
    if result["rc"] != 0 or result["non2xx"] or result["socket_errors"]:
        raise RuntimeError(f"wrk: {result}")
    return result


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(run[key] for run in runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=15.0, help="each wrk run")
    parser.add_argument("--reps", type=int, default=3, help="wrk runs without and with, alternated")
    args = parser.parse_args()
    limit = raise_open_files()
    results: dict[str, Any] = {"clients": args.clients, "open_files_limit": limit}
    without: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="planetd-sse-bench-") as folder:
        work = Path(folder)
        feed = work / "bench.atom"
        base = 60
        feed.write_text(feed_text(base))
        config = work / "planet.ini"
        config.write_text(
            "[Planet]\nname = SSE bench\nmin_interval = 1s\npoll_interval = 1s\n"
            f"max_event_streams = {args.clients + 10}\n\n[file:{feed.name}]\nname = Bench\n"
        )
        database = work / "planet.sqlite"
        with Daemon(config, database, work / "daemon.log") as daemon:
            daemon.start(sample=False)
            daemon.wait_ready(120)
            assert daemon.process is not None
            pid = daemon.process.pid
            harness.wait_for(
                lambda: (
                    len(json.loads(harness.http_get(daemon.url("/api/entries"))[1])["entries"])
                    >= 50
                ),
                60,
                "the first poll",
            )
            for _ in range(200):  # warm the page cache and the allocator
                harness.http_get(daemon.url("/"))
            for rep in range(args.reps):
                without.append(wrk_root(daemon, args.seconds))
                if rep == 0:
                    results["rss_mb_without"] = rss_mb(pid)
                started = time.perf_counter()
                clients = open_streams(daemon.port, args.clients)
                try:
                    if rep == 0:
                        results["seconds_to_open"] = time.perf_counter() - started
                        time.sleep(2)
                        results["rss_mb_with"] = rss_mb(pid)
                    held.append(wrk_root(daemon, args.seconds))
                    if rep == args.reps - 1:
                        latencies = store_to_event(daemon, feed, database, base, args.changes)
                finally:
                    for client in clients:
                        client.close()
                time.sleep(1)
    results["root_without"] = without
    results["root_with"] = held
    results["store_to_event_ms"] = latency = {
        "median": statistics.median(latencies),
        "p99": percentile(latencies, 99),
        "max": max(latencies),
        "n": len(latencies),
    }
    extra = results["rss_mb_with"] - results["rss_mb_without"]
    results["extra_rss_mb"] = extra
    results["extra_rss_kb_per_stream"] = extra * 1024 / args.clients
    print(json.dumps(results))
    rows = [
        (label, f"{median_of(without, key):{spec}}{unit}", f"{median_of(held, key):{spec}}{unit}")
        for label, key, spec, unit in (
            ("`/` p50", "p50", ".1f", " ms"),
            ("`/` p99", "p99", ".1f", " ms"),
            ("`/` requests/s", "rps", ".0f", ""),
            ("daemon CPU per `/`", "cpu_ms_per_request", ".3f", " ms"),
        )
    ]
    print(
        f"\n| figure (median of {args.reps} wrk runs, 50 connections) | without streams"
        f" | with {args.clients} idle streams |\n|---|---|---|\n"
        f"| daemon RSS | {results['rss_mb_without']:.1f} MB | {results['rss_mb_with']:.1f} MB"
        f" (+{extra:.1f} MB, {results['extra_rss_kb_per_stream']:.1f} kB a stream) |\n"
        + "".join(f"| {label} | {a} | {b} |\n" for label, a, b in rows)
        + f"\nstore change to event on a client socket ({latency['n']} changes, every stream"
        f" open): median {latency['median']:.1f} ms, p99 {latency['p99']:.1f} ms,"
        f" max {latency['max']:.1f} ms; {args.clients} streams opened in"
        f" {results['seconds_to_open']:.2f} s"
    )


if __name__ == "__main__":
    main()
