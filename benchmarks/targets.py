"""The performance issue's targets, each judged met or missed from one run's figures.

Owns the targets (what each asks, the figure that answers it, the verdict) so
that the report lays them out and the runner asks which were missed (to decide
on profiles) from one place. Every figure is a median over the run's
repetitions; every ratio pairs two contenders' medians from the same run:

* cold N=200 and N=1000: ``planetd poll --all`` ≤ 0.15 times the naive loop, and
  faster than newsboat;
* re-poll with 5% changed (the rest answer 304) and with nothing changed:
  ≤ 0.5 times reader;
* CPU per parsed feed (process-tree CPU / bodies parsed) ≤ 15 ms, on the farm
  and on the real-world corpus;
* peak PSS of the process tree ≤ 90 MB at N=200 cold; RSS ≤ 150 MB with
  10,000 feeds scheduled;
* ``/`` and ``/api/entries`` p99 ≤ 50 ms during a cold N=1000 poll;
  ``/api/feeds`` with 10,000 feeds ≤ 50 ms median; ``/`` idle ≥ 0.9 times the
  minimal twisted.web resource;
* the fidelity guard: the differences the differential test lists (a count).

A target whose figure this run did not take is a row that says so (verdict —).
"""

from __future__ import annotations

from typing import Any

from harness import summary

NOT_RUN = "not measured in this run"


def med(runs: list[dict[str, Any]], key: str) -> float | None:
    """The median of ``key`` over the runs that have it."""
    s = summary(r.get(key) for r in runs)
    return s["median"] if s else None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _runs(block: dict[str, Any], scenario: str, who: str) -> list[dict[str, Any]]:
    return list(block["scenarios"].get(scenario, {}).get(who, []))


def _missing_peer(results: dict[str, Any], peer: str) -> str:
    state = results.get("peers", {}).get(peer)
    return f"{peer} not installed" if state == "not installed" else f"no {peer} run"


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target: what it asks, the figure measured, met (True/False) or None."""
    rows: list[dict[str, Any]] = []

    def add(target: str, figure: str, met: bool | None) -> None:
        rows.append({"target": target, "figure": figure, "met": met})

    # Both sizes the issue names always get their rows (a --sizes run measures fewer).
    poll = {"200": None, "1000": None, **(results.get("poll") or {})}
    for n, block in sorted(poll.items(), key=lambda kv: int(kv[0])):
        _poll_targets(results, n, block, add)
    _corpus_target(results.get("corpus"), add)
    _scale_targets(results.get("scale"), add)
    _web_targets(results.get("web"), add)
    fid = results.get("fidelity") or {}
    listed = fid.get("listed")
    test = fid.get("test", "tests/test_differential.py")
    add(
        "fidelity guard: differences the differential test lists",
        f"{listed} listed in `{test}`" if listed is not None else f"no list in `{test}` yet",
        None,
    )
    return rows


def _poll_targets(results: dict[str, Any], n: str, block: dict[str, Any] | None, add: Any) -> None:
    if block is None:
        for target in (
            f"cold N={n}: planetd poll --all ≤ 0.15× the naive loop",
            f"cold N={n}: planetd poll --all faster than newsboat",
        ):
            add(target, NOT_RUN, None)
        return
    cold_cli = _runs(block, "cold", "cli")
    cli = med(cold_cli, "wall")
    naive = med(_runs(block, "cold", "naive"), "wall")
    r = ratio(cli, naive)
    add(
        f"cold N={n}: planetd poll --all ≤ 0.15× the naive loop",
        "-" if r is None else f"{r:.3f}× ({cli:.2f} s vs {naive:.2f} s)",
        None if r is None else r <= 0.15,
    )
    newsboat = med(_runs(block, "cold", "newsboat"), "wall")
    r = ratio(cli, newsboat)
    add(
        f"cold N={n}: planetd poll --all faster than newsboat",
        _missing_peer(results, "newsboat")
        if r is None
        else f"{cli:.2f} s vs {newsboat:.2f} s ({r:.2f}×)",
        None if r is None else r < 1,
    )
    for scenario, label in (
        ("warm_conditional", "re-poll, 5% changed (304s)"),
        ("unchanged", "re-poll, nothing changed"),
    ):
        mine = med(_runs(block, scenario, "cli"), "wall")
        reader = med(_runs(block, scenario, "reader"), "wall")
        r = ratio(mine, reader)
        add(
            f"{label} N={n}: planetd poll --all ≤ 0.5× reader",
            _missing_peer(results, "reader")
            if r is None
            else f"{r:.2f}× ({mine:.2f} s vs {reader:.2f} s)",
            None if r is None else r <= 0.5,
        )
    cpu, parsed = med(cold_cli, "cpu_s"), med(cold_cli, "parsed")
    per = ratio(cpu, parsed)
    add(
        f"CPU per parsed feed, farm N={n} cold ≤ 15 ms",
        "-" if per is None else f"{1000 * per:.1f} ms ({cpu:.1f} s CPU / {parsed:.0f} bodies)",
        None if per is None else 1000 * per <= 15,
    )
    if n == "200":
        pss, rss = med(cold_cli, "peak_pss_mb"), med(cold_cli, "peak_rss_mb")
        add(
            "peak PSS of the process tree, N=200 cold ≤ 90 MB",
            "-" if pss is None else f"{pss:.0f} MB (RSS summed {rss:.0f} MB)",
            None if pss is None else pss <= 90,
        )


def _corpus_target(corpus: dict[str, Any] | None, add: Any) -> None:
    target = "CPU per parsed feed, real-world corpus ≤ 15 ms"
    if not corpus:
        add(target, NOT_RUN, None)
    elif "missing" in corpus:
        add(target, "corpus not found", None)
    else:
        runs = corpus["runs"]
        ms, cpu = med(runs, "cpu_ms_per_feed"), med(runs, "cpu_s")
        add(
            target,
            "-"
            if ms is None
            else f"{ms:.1f} ms ({cpu:.1f} s CPU / {med(runs, 'parsed'):.0f} bodies)",
            None if ms is None else ms <= 15,
        )


def _scale_targets(scale: dict[str, Any] | None, add: Any) -> None:
    if not scale:
        add("RSS with 10,000 feeds scheduled ≤ 150 MB", NOT_RUN, None)
        add("`/api/feeds` with 10,000 feeds ≤ 50 ms median", NOT_RUN, None)
        return
    runs = scale_runs(scale)
    feeds = f"{scale['feeds']:,}"
    rss, main = med(runs, "peak_rss_mb"), med(runs, "peak_rss_main_mb")
    add(
        f"RSS with {feeds} feeds scheduled ≤ 150 MB",
        "-"
        if rss is None
        else f"{rss:.0f} MB (tree)" + ("" if main is None else f"; main process {main:.0f} MB"),
        None if rss is None else rss <= 150,
    )
    after, during = med(runs, "api_feeds_after_s"), med(runs, "api_feeds_s")
    while_polling = "" if during is None else f"; {1000 * during:.0f} ms while polling"
    add(
        f"`/api/feeds` with {feeds} feeds ≤ 50 ms median",
        "-" if after is None else f"{1000 * after:.0f} ms after the cycle{while_polling}",
        None if after is None else after <= 0.05,
    )


def scale_runs(s: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs of the scale section (an older results.json held a single run inline)."""
    return list(s["runs"]) if "runs" in s else [s]


def _web_targets(web: dict[str, Any] | None, add: Any) -> None:
    if not web:
        for target in (
            "`/` p99 ≤ 50 ms during a cold N=1000 poll",
            "`/api/entries` p99 ≤ 50 ms during a cold N=1000 poll",
            "`/` idle ≥ 0.9× the minimal twisted.web resource",
        ):
            add(target, NOT_RUN, None)
        return
    rows = web.get("rows", {})
    for path in ("/", "/api/entries"):
        p99 = med(rows.get(f"planetd {path} during cold poll", []), "p99")
        add(
            f"`{path}` p99 ≤ 50 ms during a cold N={web['feeds']} poll",
            "-" if p99 is None else f"{p99:.1f} ms",
            None if p99 is None else p99 <= 50,
        )
    mine = med(rows.get("planetd / idle", []), "rps")
    floor = med(rows.get("minimal / idle", []), "rps")
    r = ratio(mine, floor)
    add(
        "`/` idle ≥ 0.9× the minimal twisted.web resource",
        "-" if r is None else f"{r:.2f}× ({mine:.0f} vs {floor:.0f} req/s)",
        None if r is None else r >= 0.9,
    )


def missed_targets(results: dict[str, Any]) -> list[str]:
    return [r["target"] for r in targets(results) if r["met"] is False]
