"""A long soak: does the daemon's memory stay flat while it runs for hours?

``python benchmarks/soak.py --minutes 60 --content steady`` (or ``growing``) runs one
``twistd -n planetd`` against a farm of local feeds for that long, as a busy planet
lives: every feed polled every 20 s, 5% of the feeds changing every 4 s, and a client
reading ``/`` and ``/api/entries`` four times a second. Every 30 s it samples the process
tree's PSS (the memory the tree really occupies), the main process's RSS and the entry
count; at the end it fits a line through the samples after the warm-up and prints the
growth in MB per hour, one JSON line, and writes every sample beside it.

* ``steady``: the changing feeds rewrite the content of their existing entries; the
  number of entries stays the same, so memory should be flat (target ≤ 2 MB/h).
* ``growing``: the changing feeds gain a new entry each time; the database grows, and
  memory may only grow as far as caches whose sizes are stated allow.

Nothing leaves 127.0.0.1; the daemon and the static server are stopped at the end (and
on Ctrl-C); every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import farm as farms
from context import write_planet
from harness import BENCH, Daemon, wait_for
from static import StaticServer

SAMPLE_EVERY = 30.0
CHANGE_EVERY = 4.0
READ_EVERY = 0.25


def tree_memory(pid: int) -> tuple[float, float, int]:
    """(tree PSS MB, main RSS MB, processes) of ``pid`` and its descendants."""
    root = psutil.Process(pid)
    pss = 0
    count = 0
    for p in [root, *root.children(recursive=True)]:
        try:
            pss += p.memory_full_info().pss
            count += 1
        except psutil.Error:
            continue
    return pss / 2**20, root.memory_info().rss / 2**20, count


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) points, in MB per hour."""
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return (
        0.0
        if den == 0
        else 3600 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den
    )


class Changer(threading.Thread):
    """Rewrites 5% of the live feeds every few seconds, in place (atomically)."""

    def __init__(self, farm: farms.Farm, live: Path, growing: bool, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.farm, self.live, self.growing, self.stop_event = farm, live, growing, stop
        self.rounds = 0
        self.extra = [0] * len(farm.feeds)
        self.rng = random.Random(11)

    def run(self) -> None:
        count = max(1, round(0.05 * len(self.farm.feeds)))
        while not self.stop_event.wait(CHANGE_EVERY):
            self.rounds += 1
            for i in self.rng.sample(range(len(self.farm.feeds)), count):
                name, text, _ = farms.build_feed(
                    self.farm.seed, i, extra=self._extra(i), small=self.farm.small
                )
                if not self.growing:
                    # Same entries, new words: every entry's content changes in place.
                    text = text.replace("</p>", f" (revision {self.rounds})</p>")
                tmp = self.live / f".{name}.tmp"
                tmp.write_text(text, encoding="utf-8")
                tmp.replace(self.live / name)

    def _extra(self, i: int) -> int:
        if self.growing:
            self.extra[i] += 1
        return self.extra[i]


class Reader(threading.Thread):
    """A steady reader of the river and the API; counts failures."""

    def __init__(self, daemon: Daemon, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.daemon_, self.stop_event = daemon, stop
        self.requests = self.failures = 0

    def run(self) -> None:
        paths = ("/", "/api/entries", "/feeds", "/api/feeds")
        while not self.stop_event.wait(READ_EVERY):
            path = paths[self.requests % len(paths)]
            self.requests += 1
            try:
                with urllib.request.urlopen(self.daemon_.url(path), timeout=30) as r:
                    r.read()
            except OSError:
                self.failures += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0, help="minutes left out of the fit")
    parser.add_argument("--content", choices=("steady", "growing"), default="steady")
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--work", type=Path, default=BENCH / "work" / "soak")
    args = parser.parse_args(argv)
    work: Path = args.work.resolve() / args.content
    work.mkdir(parents=True, exist_ok=True)
    farm = farms.generate(work.parent / f"farm-{args.feeds}", args.feeds, seed=7)
    live = work / "live"
    live.mkdir(exist_ok=True)
    for info in farm.feeds:
        (live / info.name).write_bytes((farm.path / "base" / info.name).read_bytes())
    stop = threading.Event()
    samples: list[dict[str, float]] = []
    with StaticServer(live) as server:
        urls = [server.url(info.name) for info in farm.feeds]
        config = write_planet(
            work / "planet.ini", urls, title="Soak", poll_interval="20s", min_interval="1s"
        )
        database = work / "soak.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        with Daemon(config, database, work / "daemon.log").start(sample=False) as daemon:
            daemon.wait_ready()
            wait_for(lambda: daemon.polled() >= len(urls), 300, "every feed polled once")
            changer, reader = (
                Changer(farm, live, args.content == "growing", stop),
                Reader(daemon, stop),
            )
            changer.start()
            reader.start()
            started = time.monotonic()
            deadline = started + args.minutes * 60
            assert daemon.process is not None
            try:
                while time.monotonic() < deadline:
                    pss, rss, procs = tree_memory(daemon.process.pid)
                    samples.append(
                        {
                            "t": time.monotonic() - started,
                            "tree_pss_mb": round(pss, 1),
                            "main_rss_mb": round(rss, 1),
                            "processes": procs,
                            "polls": daemon.polled(),
                        }
                    )
                    print(json.dumps(samples[-1]), flush=True)
                    time.sleep(min(SAMPLE_EVERY, max(0.0, deadline - time.monotonic())))
            finally:
                stop.set()
                changer.join(10)
                reader.join(10)
    warm = [s for s in samples if s["t"] >= args.warmup * 60]

    def per_hour(field: str) -> float:
        return round(slope_per_hour([(s["t"], s[field]) for s in warm]), 2)

    result = {
        "content": args.content,
        "minutes": args.minutes,
        "feeds": args.feeds,
        "samples": len(samples),
        "tree_pss_mb_after_warmup": [warm[0]["tree_pss_mb"], warm[-1]["tree_pss_mb"]]
        if warm
        else None,
        "tree_pss_mb_per_hour": per_hour("tree_pss_mb"),
        "main_rss_mb_per_hour": per_hour("main_rss_mb"),
        "change_rounds": changer.rounds,
        "requests": reader.requests,
        "failed_requests": reader.failures,
    }
    (work / "samples.json").write_text(json.dumps(samples))
    (work / "result.json").write_text(json.dumps(result))
    print(json.dumps(result), flush=True)
    return 0 if reader.failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
