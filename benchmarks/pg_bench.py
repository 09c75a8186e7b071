"""The PostgreSQL store's figures: polling throughput with 1, 2, 3 nodes, the cost of a
claim, and a 10,000-feed schedule on PostgreSQL and on SQLite.

Owns these measurements, apart from ``run.py``'s sections (it needs a PostgreSQL
server, which it starts privately as the tests do: ``initdb`` + ``pg_ctl`` on a
free loopback port, see ``tests/pgserver.py``).

* **store**: with ``--schedule`` feeds (10,000) subscribed, the time to sync them,
  to read every feed's state (what a daemon does at start), and per poll the
  time to store a 304-like poll (state only), and on PostgreSQL to claim it first
  (the claim's overhead is the difference).
* **throughput**: ``--feeds`` small feeds of the benchmark farm on a static
  server, ``poll_interval`` so short that the nodes are the bottleneck; polls
  finished per second over ``--seconds``, counted in the nodes' logs, with 1, 2
  and 3 ``twistd -n planetd`` nodes on one PostgreSQL database, and one node on
  SQLite for comparison.

Usage::

    python benchmarks/pg_bench.py [--schedule 10000] [--feeds 1000] [--seconds 20]
    python benchmarks/pg_bench.py --smoke
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "src"))

import farm as farms  # noqa: E402
import harness  # noqa: E402
from static import StaticServer  # noqa: E402

from pgserver import PostgresServer, binaries  # noqa: E402
from planetd.boundaries import FeedConfig, FeedState, FeedStatus, FeedURL, PollOutcome  # noqa: E402
from planetd.pgstore import PgDatabase  # noqa: E402
from planetd.store import Database, open_database  # noqa: E402

NOW = datetime(2026, 7, 4, 12, tzinfo=timezone.utc)


def _feeds(n: int) -> list[FeedConfig]:
    return [
        FeedConfig(
            url=FeedURL(f"https://h{i % 500}.example/f{i}"),
            name=f"F {i}",
            poll_interval=3600.0,
            feed_timeout=30.0,
            max_feed_bytes=1 << 20,
        )
        for i in range(n)
    ]


def _time(work: Any) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def store_figures(db: Database, n: int, polls: int) -> dict[str, float]:
    """Seconds to sync and read ``n`` feeds; milliseconds per stored (and claimed) poll."""
    feeds = _feeds(n)
    figures = {
        "sync_s": _time(lambda: db.sync_feeds(feeds, NOW)),
        "feed_states_s": _time(db.feed_states),
    }

    def state(feed: FeedConfig, k: int) -> FeedState:
        at = NOW + timedelta(seconds=k)
        return FeedState(
            url=feed.url,
            name=feed.name,
            status=FeedStatus.OK,
            http_status=304,
            last_polled_at=at,
            last_success_at=at,
            next_poll_at=at + timedelta(hours=1),
        )

    sample = feeds[:polls]
    elapsed = _time(
        lambda: [db.record_poll(f, PollOutcome(state=state(f, 1)), NOW) for f in sample]
    )
    figures["record_ms"] = 1000 * elapsed / len(sample)
    if isinstance(db, PgDatabase):
        later = NOW + timedelta(hours=2)

        def claimed() -> None:
            for f in sample:
                db.claim(f.url, "bench", later.timestamp(), 120.0, f.url.split("/")[2], 2)
                db.record_claimed_poll(f, PollOutcome(state=state(f, 7300)), later, "bench")

        figures["claim_and_record_ms"] = 1000 * _time(claimed) / len(sample)
        figures["claim_overhead_ms"] = figures["claim_and_record_ms"] - figures["record_ms"]
    return figures


def _planet(path: Path, urls: list[str]) -> Path:
    sections = "\n".join(f"[{u}]\nname = {u.rsplit('/', 1)[-1]}\n" for u in urls)
    path.write_text(
        "[Planet]\nname = Bench\nlink = http://bench.example/\npoll_interval = 2s\n"
        "min_interval = 1s\nconcurrency = 50\nper_host_concurrency = 50\n"
        f"lease_timeout = 30s\n\n{sections}"
    )
    return path


def _never_polled(database: str) -> int:
    """How many feeds of ``database`` were never polled (-1 before it has any)."""
    query = "SELECT count(*), sum(CASE WHEN last_polled_at IS NULL THEN 1 ELSE 0 END) FROM feeds"
    try:
        if database.startswith("postgresql://"):
            import psycopg

            with psycopg.connect(database) as conn:
                row = conn.execute(query).fetchone()
        else:
            import sqlite3

            conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
            try:
                row = conn.execute(query).fetchone()
            finally:
                conn.close()
    except Exception:
        return -1
    return -1 if not row or not row[0] else int(row[1] or 0)


def throughput(config: Path, database: str, nodes: int, seconds: float, work: Path) -> float:
    """Polls finished per second by ``nodes`` daemons on ``database`` over ``seconds``."""
    logs = [work / f"node-{nodes}-{i}-{int(time.time() * 1000)}.log" for i in range(nodes)]
    processes = []
    try:
        for log in logs:
            port = harness.free_port()
            with open(log, "wb") as out:
                processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-c",
                            "from twisted.scripts.twistd import run; run()",
                            "-n",
                            "--pidfile=",
                            "planetd",
                            "--config",
                            str(config),
                            "--database",
                            database,
                            "--listen",
                            f"tcp:{port}:interface=127.0.0.1",
                        ],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env=harness.subprocess_env(),
                    )
                )
        # Every node polling and the first round (every feed parsed once) over, then a
        # few seconds more: the window measures the steady state (mostly 304s).
        harness.wait_for(
            lambda: all("] polled " in log.read_text(errors="replace") for log in logs),
            120,
            "every node polling",
        )
        harness.wait_for(lambda: _never_polled(database) == 0, 300, "the first round", step=0.5)
        time.sleep(3.0)
        before = sum(log.read_text(errors="replace").count("] polled ") for log in logs)
        time.sleep(seconds)
        after = sum(log.read_text(errors="replace").count("] polled ") for log in logs)
        return (after - before) / seconds
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--schedule", type=int, default=10_000)
    parser.add_argument("--polls", type=int, default=1000)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--smoke", action="store_true", help="toy sizes, seconds")
    args = parser.parse_args(argv)
    if args.smoke:
        args.schedule, args.polls, args.feeds, args.seconds = 200, 50, 20, 3.0
    folder = binaries()
    if folder is None:
        print("pg_bench: PostgreSQL's initdb/pg_ctl not found; skipped")
        return 0
    results: dict[str, Any] = {"machine": harness.machine()}
    server = PostgresServer(folder)
    with tempfile.TemporaryDirectory(prefix="planetd-pg-bench-") as tmp:
        work = Path(tmp)
        try:
            server.start()
            sqlite = open_database(str(work / "schedule.sqlite"))
            pg = open_database(server.create_database())
            results["store"] = {
                "feeds": args.schedule,
                "sqlite": store_figures(sqlite, args.schedule, args.polls),
                "postgresql": store_figures(pg, args.schedule, args.polls),
            }
            sqlite.close()
            pg.close()
            print(json.dumps(results["store"], indent=1), flush=True)
            farm = farms.generate(work / "farm", args.feeds, small=True)
            farms.serve(farm, "base")
            with StaticServer(work / "farm").start() as static:
                urls = [static.url(f"current/{name}") for name in farm.names()]
                config = _planet(work / "planet.ini", urls)
                rates: dict[str, float] = {
                    "sqlite-1": throughput(config, str(work / "t.sqlite"), 1, args.seconds, work)
                }
                for nodes in (1, 2, 3):
                    url = server.create_database()
                    rates[f"postgresql-{nodes}"] = throughput(
                        config, url, nodes, args.seconds, work
                    )
                    print(
                        f"{nodes} node(s): {rates[f'postgresql-{nodes}']:.1f} polls/s", flush=True
                    )
                results["throughput"] = {"feeds": args.feeds, "polls_per_second": rates}
        finally:
            server.destroy()
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
