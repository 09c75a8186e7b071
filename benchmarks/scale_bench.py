"""The scale section: one daemon scheduling many small feeds for a full cycle.

Owns the figures of a big schedule: the first round's length, peak memory, how
late each feed's second poll begins, and how long ``/api/feeds`` takes (while
the daemon polls, and a few requests once the cycle is over).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import farm as farms
import harness
from context import Context, FarmSetup, fmt, setup_farm, write_planet
from harness import Daemon

#: ``/api/feeds`` requests timed once the cycle is over (their median is the figure).
API_FEEDS_AFTER = 5


def scale_benchmark(ctx: Context) -> None:
    """One daemon scheduling many small feeds for a full cycle, ``reps`` times."""
    mode = ctx.mode
    n = mode.scale_feeds
    setup = setup_farm(ctx, n, small=True)
    config = write_planet(
        ctx.work / f"farm-small-{n}-schedule.ini",
        [ctx.server.url(f"farm-small-{n}/current/{f}") for f in setup.farm.names()],
        title=f"{n} small feeds on a schedule",
        poll_interval=f"{mode.scale_interval:g}s",
        min_interval=f"{mode.scale_min_interval:g}s",
    )
    runs = [scale_once(ctx, setup, config, rep) for rep in range(mode.reps)]
    ctx.results["scale"] = {"feeds": n, "interval": mode.scale_interval, "runs": runs}


def scale_once(ctx: Context, setup: FarmSetup, config: Path, rep: int) -> dict[str, Any]:
    mode = ctx.mode
    n = setup.n
    db = ctx.work / "db" / f"scale-{n}.sqlite"
    harness.remove_database(db)
    farms.serve(setup.farm, "base")
    seen_next: dict[str, float] = {}  # url -> next_poll_at seen after its first poll
    first_poll: dict[str, float] = {}
    lateness: dict[str, float] = {}
    api_times: list[float] = []
    result: dict[str, Any] = {}
    with Daemon(config, db, ctx.work / "logs" / f"scale-{rep}.log") as daemon:
        try:
            daemon.start()
            result["ready"] = daemon.wait_ready(180)
            ready_wall = time.time()
            deadline = time.perf_counter() + mode.scale_deadline
            mutated = False
            while time.perf_counter() < deadline and len(lateness) < n:
                started = time.perf_counter()
                feeds = daemon.api_feeds(timeout=120)
                api_times.append(time.perf_counter() - started)
                for f in feeds:
                    url = f["url"]
                    polled = harness.rfc3339_seconds(f["last_polled_at"])
                    nxt = harness.rfc3339_seconds(f["next_poll_at"])
                    if polled is None:
                        continue
                    if url not in first_poll:
                        first_poll[url] = polled
                        if nxt is not None:
                            seen_next[url] = nxt
                    elif polled > first_poll[url] and url not in lateness and url in seen_next:
                        lateness[url] = polled - seen_next[url]
                if not mutated and len(first_poll) == n:
                    # The first round is done: from now on 5% of the feeds have news.
                    farms.serve(setup.farm, "mutated")
                    mutated = True
                    result["first_round_s"] = max(first_poll.values()) - ready_wall
                time.sleep(max(0.0, mode.scale_sample_every - (time.perf_counter() - started)))
            assert daemon.sampler is not None
            daemon.sampler.stop()
            result.update(daemon.sampler.figures())
            # The cycle is over: a few more requests, one at a time, for the median.
            after: list[float] = []
            for _ in range(API_FEEDS_AFTER):
                started = time.perf_counter()
                daemon.api_feeds(timeout=120)
                after.append(time.perf_counter() - started)
            result["api_feeds_after_s"] = statistics.median(after)
        except Exception as e:
            ctx.problem(f"scale: {e}\n{daemon.tail()}")
    farms.serve(setup.farm, "base")
    late = sorted(lateness.values())
    result.update(
        first_polled=len(first_poll),
        second_polled=len(late),
        late_median=late[len(late) // 2] if late else None,
        late_p99=late[min(len(late) - 1, int(len(late) * 0.99))] if late else None,
        late_max=late[-1] if late else None,
        late_over_60s=sum(1 for v in late if v > 60),
        api_feeds_s=harness.summary(api_times)["median"] if api_times else None,
        api_feeds_max_s=max(api_times) if api_times else None,
    )
    if len(late) < n:
        ctx.problem(f"scale: only {len(late)} of {n} feeds were polled a second time in time")
    harness.remove_database(db)
    ctx.say(
        f"scale rep {rep + 1}/{mode.reps}: {n} feeds, first round"
        f" {fmt(result.get('first_round_s'))}s, peak rss {fmt(result.get('peak_rss_mb'), 0)}MB,"
        f" late median {fmt(result['late_median'])}s max {fmt(result['late_max'])}s,"
        f" /api/feeds median {fmt(result['api_feeds_s'], 3)}s while polling,"
        f" {fmt(result.get('api_feeds_after_s'), 3)}s after"
    )
    return result
