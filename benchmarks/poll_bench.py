"""The poll section: every scenario at each size, every contender, repetitions interleaved.

Owns the scenarios (:data:`context.SCENARIOS`: a cold poll; re-polls after 5% of
the feeds changed, with and without validators; a re-poll when nothing changed),
which contender runs which (:data:`context.CONTENDERS`), the seed databases the
re-polls start from (each contender's own, from its first cold poll), and the
order of the runs (reversed every other repetition so drift hits every contender
alike).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import farm as farms
import harness
import peers
from context import CONTENDERS, SCENARIOS, Context, FarmSetup, fmt, setup_farm
from peers import run_cli, run_daemon_cycle, run_naive

#: What the farm serves in each scenario.
SERVED = {
    "cold": "base",
    "warm_conditional": "mutated",
    "warm_no_validators": "mutated",
    "unchanged": "base",
}


def contenders(ctx: Context) -> tuple[str, ...]:
    """Every contender in a fixed order, less the peers that are not installed."""
    order = ("naive", "cli", "daemon", "reader", "newsboat")
    return tuple(who for who in order if ctx.peers.get(who, "planetd") is not None)


def expected_parsed(setup: FarmSetup, scenario: str) -> int:
    """Bodies a contender with validators must parse (the naive loop parses every one)."""
    return {"cold": setup.n, "unchanged": 0}.get(scenario, setup.mutated)


def expected_items(setup: FarmSetup, scenario: str) -> int:
    """Entries a reader that keeps every entry holds after the scenario's poll."""
    feeds = setup.farm.feeds
    if SERVED[scenario] == "mutated":
        return sum(f.mutated_entries for f in feeds)
    return sum(f.entries for f in feeds)


class Seeds:
    """The databases the re-polls start from: planetd's (with and without validators),
    reader's and newsboat's, each made by a cold poll of the base farm."""

    def __init__(self, ctx: Context, n: int) -> None:
        dbs = ctx.work / "db"
        self.planetd = {
            True: dbs / f"seed-{n}-etag.sqlite",
            False: dbs / f"seed-{n}-plain.sqlite",
        }
        self.reader = dbs / f"seed-{n}-reader.sqlite"
        self.newsboat = dbs / f"seed-{n}-newsboat.db"


def run_one(
    ctx: Context, setup: FarmSetup, seeds: Seeds, who: str, scenario: str, rep: int
) -> dict[str, Any]:
    """One run of one contender in one scenario, from a fresh copy of its seed."""
    n = setup.n
    tag = f"{n}-{scenario}-{rep}"
    validators = scenario != "warm_no_validators"
    expected = expected_parsed(setup, scenario)
    cold = scenario == "cold"
    first_cold = cold and rep == 0
    db = ctx.work / "db" / f"{who}-{tag}.{'db' if who == 'newsboat' else 'sqlite'}"
    if who == "naive":
        return run_naive(ctx, setup, validators, tag)
    if who == "reader":
        peers.remove_reader(db)
        if not cold:
            peers.copy_reader(seeds.reader, db)
        result = peers.run_reader(ctx, setup, db, expected, tag)
        if first_cold:
            peers.copy_reader(db, seeds.reader)
        _tidy(ctx, db, peers.remove_reader)
        return result
    if who == "newsboat":
        peers.remove_newsboat(db)
        if not cold:
            peers.copy_newsboat(seeds.newsboat, db)
        items = expected_items(setup, scenario)
        result = peers.run_newsboat(ctx, setup, db, expected, items, tag)
        if first_cold:
            peers.copy_newsboat(db, seeds.newsboat)
            peers.newsboat_second_fetch(ctx, setup, seeds.newsboat)
        _tidy(ctx, db, peers.remove_newsboat)
        return result
    harness.remove_database(db)
    if not cold:
        harness.copy_database(seeds.planetd[validators], db, make_due=who == "daemon")
    if who == "cli":
        result = run_cli(ctx, setup, validators, db, expected, tag)
        if first_cold:
            harness.copy_database(db, seeds.planetd[True])
    else:
        result = run_daemon_cycle(ctx, setup, validators, db, expected, tag)
    _tidy(ctx, db, harness.remove_database)
    return result


def _tidy(ctx: Context, db: Path, remove: Any) -> None:
    """A run's database goes once measured (a smoke run keeps it to look at)."""
    if ctx.mode.name != "smoke":
        remove(db)


def poll_benchmarks(ctx: Context, n: int) -> None:
    setup = setup_farm(ctx, n)
    seeds = Seeds(ctx, n)
    harness.remove_database(seeds.planetd[False])
    ctx.say(f"N={n}: seeding the no-validator database (a cold poll, not reported)")
    run_cli(ctx, setup, False, seeds.planetd[False], n, f"{n}-seed-plain")
    everyone = contenders(ctx)
    results: dict[str, dict[str, list[dict[str, Any]]]] = {
        s: {who: [] for who in CONTENDERS[s] if who in everyone} for s in SCENARIOS
    }
    for rep in range(ctx.mode.reps):
        order = everyone if rep % 2 == 0 else everyone[::-1]
        for scenario in SCENARIOS:
            farms.serve(setup.farm, SERVED[scenario])
            for who in order:
                if who not in results[scenario]:
                    continue
                r = run_one(ctx, setup, seeds, who, scenario, rep)
                r.pop("output", None)
                results[scenario][who].append(r)
                ctx.say(
                    f"N={n} {scenario:<19} rep {rep + 1}/{ctx.mode.reps} {who:<8}"
                    f" {fmt(r.get('wall'))}s parsed={r.get('parsed')}"
                    f" sent={r.get('sent')} 304={r.get('not_modified')}"
                    f" rss={fmt(r.get('peak_rss_mb'), 0)}MB pss={fmt(r.get('peak_pss_mb'), 0)}MB"
                    f" cpu={fmt(r.get('cpu_s'))}s"
                )
        farms.serve(setup.farm, "base")
    ctx.results.setdefault("poll", {})[str(n)] = {
        "feeds": n,
        "megabytes": setup.farm.total_bytes() / 1e6,
        "mutated": setup.mutated,
        "scenarios": results,
    }
    ctx.results.setdefault("seeds", {})[str(n)] = {str(k): str(v) for k, v in seeds.planetd.items()}
