"""Push to visible: from a WebSub hub's POST to the entry in ``/api/entries``.

A real ``twistd -n planetd`` polls one ``file:`` feed that names a hub (the
test hub, ``tests/websubhub.py``, as a subprocess), subscribes, and is then
pushed ``--pushes`` new versions of the feed, each with one more entry. For
every push the clock starts when the hub starts its POST to the callback
(the hub reports that moment) and stops when a client polling
``--path`` (default ``/api/entries``, every ``--every`` seconds) first sees
the new entry; the
hub's own round trip (the callback answers once the entry is stored) is
reported beside it. Pushes are ``--gap`` seconds apart (after the previous
one is visible), as a blog's posts are; a gap under a second measures the
pages' rebuild limit (one rebuild a second) instead. Prints a JSON line with
the median and p99 of both.

    python benchmarks/push_bench.py [--pushes 60] [--every 0.005] [--path /api/entries] [--gap 1.5]

Only 127.0.0.1 is used; every process started here is stopped here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import REPO, Daemon, http_get, subprocess_env, wait_for

sys.path.insert(0, str(REPO / "tests"))
from websubhub import HubProcess  # the tests' hub, found through the path above

TOPIC = "https://bench.example/feed.atom"


def feed(count: int, hub: str) -> bytes:
    entries = "".join(
        f"<entry><id>tag:bench,2026:{i}</id><title>Post {i}</title>"
        f'<link href="https://bench.example/{i}"/>'
        f"<updated>2026-07-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z</updated>"
        f'<content type="html">&lt;p&gt;entry {i}&lt;/p&gt;</content></entry>'
        for i in range(count)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>Bench</title>'
        f'<id>{TOPIC}</id><link rel="hub" href="{hub}"/><link rel="self" href="{TOPIC}"/>'
        f"<updated>2026-07-01T00:00:00Z</updated>{entries}</feed>"
    ).encode()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def shows(daemon: Daemon, path: str, title: str) -> bool:
    status, body = http_get(daemon.url(path), timeout=10)
    return status == 200 and title in {e["title"] for e in json.loads(body)["entries"]}


def run(pushes: int, every: float, path: str, gap: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="planetd-push-") as folder:
        base = Path(folder)
        hub = HubProcess(subprocess_env())
        daemon: Daemon | None = None
        try:
            hub_url = hub.url + "/hub"
            (base / "feed.atom").write_bytes(feed(1, hub_url))
            config = base / "planet.ini"
            daemon = Daemon(config, base / "planet.sqlite", base / "daemon.log")
            config.write_text(
                "[Planet]\nname = Push bench\nmin_interval = 1s\npoll_interval = 1h\n"
                f"public_url = http://127.0.0.1:{daemon.port}/\n\n"
                f"[file:{base / 'feed.atom'}]\nname = Bench\n"
            )
            daemon.start(sample=False)
            daemon.wait_ready()
            wait_for(lambda: TOPIC in hub.state()["verified"], 30, "the subscription")
            visible: list[float] = []
            round_trips: list[float] = []
            for n in range(2, pushes + 2):
                time.sleep(gap)
                title = f"Post {n - 1}"
                answer = hub.publish(TOPIC, feed(n, hub_url))
                if answer["statuses"] != [200]:
                    raise RuntimeError(f"push {n} answered {answer['statuses']}")
                started = answer["started"][0]
                round_trips.append(answer["ended"][0] - started)
                deadline = time.time() + 10
                while not shows(daemon, path, title):
                    if time.time() > deadline:
                        raise RuntimeError(f"push {n} never became visible")
                    time.sleep(every)
                visible.append(time.time() - started)
            return {
                "pushes": pushes,
                "poll_every_s": every,
                "path": path,
                "gap_s": gap,
                "push_to_visible_ms": {
                    "median": round(statistics.median(visible) * 1000, 1),
                    "p99": round(percentile(visible, 0.99) * 1000, 1),
                    "max": round(max(visible) * 1000, 1),
                },
                "hub_post_round_trip_ms": {
                    "median": round(statistics.median(round_trips) * 1000, 1),
                    "p99": round(percentile(round_trips, 0.99) * 1000, 1),
                },
            }
        finally:
            if daemon is not None:
                daemon.stop()
            hub.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=60)
    parser.add_argument("--every", type=float, default=0.005)
    parser.add_argument("--path", default="/api/entries", help="what the client polls")
    parser.add_argument("--gap", type=float, default=1.5, help="seconds between pushes")
    args = parser.parse_args()
    print(json.dumps(run(args.pushes, args.every, args.path, args.gap)))


if __name__ == "__main__":
    main()
