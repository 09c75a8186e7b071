"""The poll section: every scenario at each size, every contender, repetitions interleaved.

Owns the scenarios (a cold poll; re-polls after 5% of the feeds changed, with and
without validators), the seed databases the re-polls start from, and the order
of the runs (alternated between repetitions so drift hits every contender alike).
"""

from __future__ import annotations

from typing import Any

import farm as farms
import harness
from context import SCENARIOS, Context, fmt, setup_farm
from peers import run_cli, run_daemon_cycle, run_naive


def poll_benchmarks(ctx: Context, n: int) -> None:
    setup = setup_farm(ctx, n)
    dbs = ctx.work / "db"
    seeds = {True: dbs / f"seed-{n}-etag.sqlite", False: dbs / f"seed-{n}-plain.sqlite"}
    harness.remove_database(seeds[False])
    ctx.say(f"N={n}: seeding the no-validator database (a cold poll, not reported)")
    run_cli(ctx, setup, False, seeds[False], n, f"{n}-seed-plain")
    results: dict[str, dict[str, list[dict[str, Any]]]] = {
        s: {"naive": [], "cli": [], "daemon": []} for s in SCENARIOS
    }
    for rep in range(ctx.mode.reps):
        farms.serve(setup.farm, "base")
        order = ("naive", "cli", "daemon") if rep % 2 == 0 else ("daemon", "cli", "naive")
        for scenario in SCENARIOS:
            if scenario != "cold":
                farms.serve(setup.farm, "mutated")
            validators = scenario != "warm_no_validators"
            expected = n if scenario == "cold" else setup.mutated
            tag = f"{n}-{scenario}-{rep}"
            for who in order:
                db = dbs / f"{who}-{tag}.sqlite"
                harness.remove_database(db)
                if scenario != "cold":
                    harness.copy_database(seeds[validators], db, make_due=who == "daemon")
                if who == "naive":
                    r = run_naive(ctx, setup, validators, tag)
                elif who == "cli":
                    r = run_cli(ctx, setup, validators, db, expected, tag)
                    if scenario == "cold" and rep == 0:
                        harness.copy_database(db, seeds[True])
                else:
                    r = run_daemon_cycle(ctx, setup, validators, db, expected, tag)
                r.pop("output", None)
                results[scenario][who].append(r)
                ctx.say(
                    f"N={n} {scenario:<19} rep {rep + 1}/{ctx.mode.reps} {who:<6}"
                    f" {fmt(r.get('wall'))}s parsed={r.get('parsed')}"
                    f" rss={fmt(r.get('peak_rss_mb'), 0)}MB cpu={fmt(r.get('cpu_s'))}s"
                )
                if who != "naive" and ctx.mode.name != "smoke":
                    harness.remove_database(db)
        farms.serve(setup.farm, "base")
    ctx.results.setdefault("poll", {})[str(n)] = {
        "feeds": n,
        "megabytes": setup.farm.total_bytes() / 1e6,
        "mutated": setup.mutated,
        "scenarios": results,
    }
    ctx.results.setdefault("seeds", {})[str(n)] = {str(k): str(v) for k, v in seeds.items()}
