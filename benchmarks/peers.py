"""One measured run of each contender: planetd's command line and daemon, the naive loop.

Owns how each contender is started on a farm, what it must have done (every
feed polled and stored, the expected number of bodies parsed), and the figures
taken from it (wall time, process-tree CPU and memory, bodies parsed). A
contender that did not do its job is a problem reported through the context.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import harness
from context import Context, FarmSetup
from harness import BENCH, PY, Daemon


def run_naive(ctx: Context, setup: FarmSetup, validators: bool, tag: str) -> dict[str, Any]:
    out = ctx.work / "logs" / f"naive-{tag}.log"
    result = harness.run_measured(
        [PY, str(BENCH / "naive.py"), str(setup.url_lists[validators])],
        timeout=1800,
        output=out,
    )
    report = harness.last_json_line(result["output"])
    result.update(parsed=report.get("parsed"), inner=report.get("elapsed"))
    if result["rc"] != 0 or report.get("parsed") != setup.n:
        ctx.problem(
            f"naive {tag}: rc={result['rc']} parsed={report.get('parsed')} (want {setup.n})"
        )
    return result


def poll_command(ctx: Context, config: Path, database: Path) -> list[str]:
    if ctx.poller == "cli":
        return [
            PY,
            "-c",
            "from planetd.cli import main; main()",
            "poll",
            str(config),
            "--all",
            "--database",
            str(database),
        ]
    return [PY, str(BENCH / "poll_once.py"), str(config), "--database", str(database)]


def check_planetd(
    ctx: Context, what: str, database: Path, parsed: int, expected: int, n: int
) -> None:
    statuses = harness.feed_statuses(database)
    if statuses.get("ok", 0) != n:
        ctx.problem(f"{what}: feed statuses {statuses} (want {n} ok)")
    if parsed != expected:
        ctx.problem(f"{what}: parsed {parsed} bodies, expected {expected}")


def run_cli(
    ctx: Context,
    setup: FarmSetup,
    validators: bool,
    database: Path,
    expected: int,
    tag: str,
) -> dict[str, Any]:
    before = harness.body_hashes(database)
    result = harness.run_measured(
        poll_command(ctx, setup.configs[validators], database),
        timeout=1800,
        output=ctx.work / "logs" / f"cli-{tag}.log",
    )
    after = harness.body_hashes(database)
    result["parsed"] = harness.parsed_between(before, after)
    if result["rc"] != 0:
        ctx.problem(f"planetd poll {tag}: exit {result['rc']}: {result['output'][-500:]}")
    check_planetd(ctx, f"planetd poll {tag}", database, result["parsed"], expected, setup.n)
    if ctx.poller == "driver":
        inner = harness.last_json_line(result["output"])
        if inner.get("parsed") != result["parsed"]:
            ctx.problem(
                f"poll_once {tag}: PollReport.parsed={inner.get('parsed')} but the store"
                f" says {result['parsed']}"
            )
    return result


def run_daemon_cycle(
    ctx: Context,
    setup: FarmSetup,
    validators: bool,
    database: Path,
    expected: int,
    tag: str,
) -> dict[str, Any]:
    """Start ``twistd -n planetd``; time until ``/api/feeds`` shows every feed polled."""
    before = harness.body_hashes(database)
    daemon = Daemon(setup.configs[validators], database, ctx.work / "logs" / f"daemon-{tag}.log")
    result: dict[str, Any] = {}
    try:
        daemon.start()
        result["ready"] = daemon.wait_ready(120)
        harness.wait_for(
            lambda: daemon.polled() >= setup.n, 1800, f"{setup.n} polls in {tag}", step=0.02
        )
        floor = int(daemon.spawned_wall)

        def all_polled() -> bool:
            feeds = daemon.api_feeds()
            return len(feeds) == setup.n and all(
                (harness.rfc3339_seconds(f["last_polled_at"]) or 0) >= floor for f in feeds
            )

        harness.wait_for(all_polled, 120, f"/api/feeds to show every feed polled ({tag})", 0.05)
        result["wall"] = time.perf_counter() - daemon.spawned_at
        assert daemon.sampler is not None
        daemon.sampler.stop()
        result.update(daemon.sampler.figures())
    except Exception as e:
        ctx.problem(f"daemon {tag}: {e}\n{daemon.tail()}")
        result["wall"] = None
    finally:
        daemon.stop()
    result["parsed"] = harness.parsed_between(before, harness.body_hashes(database))
    if result.get("wall") is not None:
        check_planetd(ctx, f"daemon {tag}", database, result["parsed"], expected, setup.n)
    return result
