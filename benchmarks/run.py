"""One command for every planetd benchmark: ``python benchmarks/run.py``.

Runs, on one machine and in one go (so every ratio compares runs that shared
the same conditions):

* **poll** at N=200 and N=1000, each scenario (cold, warm with conditional GET,
  warm without validators) for planetd's command line, planetd's daemon and
  the naive ``requests`` + ``feedparser`` loop, repetitions interleaved;
* **web**: wrk on ``/`` and ``/api/entries`` of an idle daemon, of a daemon in
  the middle of a cold N=1000 poll, and of a minimal twisted.web resource
  serving the same bytes;
* **scale**: one daemon scheduling 10,000 small feeds for a full cycle;
* **profile**: py-spy over a cold poll and over the daemon under wrk, when a
  target is missed;

then writes ``benchmarks/RESULTS.md`` (see :mod:`report`).

``--smoke`` runs everything at toy size (N=10, 1 s of wrk, 100 scheduled
feeds) in well under a minute and exits non-zero if anything broke: CI runs it
so the benchmarks never rot (it writes ``benchmarks/work/smoke/RESULTS.md``,
never the committed file). ``--quick`` runs the real sizes once instead of
three times. ``--only web,scale`` re-runs some sections on top of the last run
in the same work folder (the re-run is dated in the results); ``--render``
rewrites the results file from ``results.json`` (after editing ``notes.md``).
Farms, databases and logs live in ``benchmarks/work/`` (git-ignored).

Nothing leaves 127.0.0.1; every server started here is stopped here; every
wait is bounded. Exit status: 0 when every run did what it should (every feed
polled and stored, the expected number of bodies parsed, every wrk request
answered), 1 otherwise; a missed target is reported, not an error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import farm as farms
import harness
from harness import BENCH, PY, Daemon
from static import StaticServer

SCENARIOS = ("cold", "warm_conditional", "warm_no_validators")


@dataclass
class Mode:
    """How big and how often."""

    name: str
    sizes: tuple[int, ...]
    reps: int
    wrk_seconds: float
    web_size: int
    scale_feeds: int
    scale_interval: float
    scale_min_interval: float
    scale_sample_every: float
    scale_deadline: float
    profile: bool


MODES = {
    "full": Mode("full", (200, 1000), 3, 10, 1000, 10_000, 120, 60, 10, 480, True),
    "quick": Mode("quick", (200, 1000), 1, 5, 1000, 10_000, 120, 60, 10, 480, True),
    "smoke": Mode("smoke", (10,), 1, 1, 10, 100, 6, 5, 1, 40, False),
}


@dataclass
class Context:
    mode: Mode
    work: Path
    server: StaticServer
    poller: str  # "cli" or "driver"
    results: dict[str, Any] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)
    section: str = "setup"
    log: Any = None
    previous: dict[str, Any] = field(default_factory=dict)

    def say(self, message: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        line = f"[{stamp}] {message}"
        print(line, flush=True)
        if self.log is not None:
            self.log.write(line + "\n")
            self.log.flush()

    def problem(self, message: str) -> None:
        self.problems.setdefault(self.section, []).append(message)
        self.say(f"PROBLEM: {message}")


# -- configs --------------------------------------------------------------------------------------


def write_planet(
    path: Path, urls: list[str], *, title: str, poll_interval: str = "1d", min_interval: str = "5m"
) -> Path:
    """A Planet INI for a farm; every feed is on 127.0.0.1, so the per-host cap is raised."""
    lines = [
        "[Planet]",
        f"name = {title}",
        "link = http://127.0.0.1/",
        "owner_email = bench@example.invalid",
        "# Every farm feed is on one host (127.0.0.1): the default per-host cap of 2",
        "# would serialize them, so both caps are raised for the benchmark.",
        "concurrency = 32",
        "per_host_concurrency = 32",
        f"poll_interval = {poll_interval}",
        f"min_interval = {min_interval}",
        "feed_timeout = 120s",
        "",
    ]
    for i, url in enumerate(urls):
        lines += [f"[{url}]", f"name = Farm feed {i}", ""]
    path.write_text("\n".join(lines))
    return path


@dataclass
class FarmSetup:
    farm: farms.Farm
    n: int
    configs: dict[bool, Path]  # validators -> planet.ini
    url_lists: dict[bool, Path]
    mutated: int


def setup_farm(ctx: Context, n: int, *, small: bool = False) -> FarmSetup:
    name = f"farm-{'small-' if small else ''}{n}"
    folder = ctx.work / name
    started = time.perf_counter()
    farm = farms.generate(folder, n, seed=7, small=small)
    farms.mutate(farm)
    farms.serve(farm, "base")
    ctx.say(
        f"farm {name}: {n} feeds, {farm.total_bytes() / 1e6:.1f} MB,"
        f" {len(farm.mutated)} mutated ({time.perf_counter() - started:.1f}s)"
    )
    configs: dict[bool, Path] = {}
    lists: dict[bool, Path] = {}
    for validators in (True, False):
        urls = [
            ctx.server.url(f"{name}/current/{feed}", validators=validators) for feed in farm.names()
        ]
        tag = "etag" if validators else "plain"
        configs[validators] = write_planet(
            ctx.work / f"{name}-{tag}.ini",
            urls,
            title=f"Farm of {n} ({'validators' if validators else 'no validators'})",
        )
        lists[validators] = ctx.work / f"{name}-{tag}.urls"
        lists[validators].write_text("\n".join(urls) + "\n")
    return FarmSetup(farm, n, configs, lists, len(farm.mutated))


# -- one run of each contender --------------------------------------------------------------------


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


# -- poll scenarios -------------------------------------------------------------------------------


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
                    f" {_fmt(r.get('wall'))}s parsed={r.get('parsed')}"
                    f" rss={_fmt(r.get('peak_rss_mb'), 0)}MB cpu={_fmt(r.get('cpu_s'))}s"
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


def _fmt(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


# -- web ------------------------------------------------------------------------------------------


def web_benchmarks(ctx: Context) -> None:
    n = ctx.mode.web_size
    setup = setup_farm(ctx, n)
    known = ctx.results.get("seeds", {}).get(str(n))
    if known:
        seed = Path(known["True"])
    else:
        # The poll section did not run: make the polled database the idle daemon serves.
        seed = ctx.work / "db" / f"web-seed-{n}.sqlite"
        harness.remove_database(seed)
        ctx.say(f"web: polling the N={n} farm once for the idle daemon's database")
        run_cli(ctx, setup, True, seed, n, f"{n}-web-seed")
    seconds = ctx.mode.wrk_seconds
    rows: dict[str, list[dict[str, Any]]] = {}

    def record(key: str, result: dict[str, Any]) -> None:
        result.pop("raw", None)
        rows.setdefault(key, []).append(result)
        ok = result["rc"] == 0 and result["requests"] > 0
        if not ok or result["non2xx"] or result["socket_errors"]:
            ctx.problem(f"wrk {key}: {json.dumps(result)[:400]}")
        ctx.say(
            f"web {key:<34} {_fmt(result['rps'], 0)} req/s"
            f" p50={_fmt(result['p50'])}ms p99={_fmt(result['p99'])}ms"
            + (f" (poll {result['polled']}/{n} done)" if "polled" in result else "")
        )

    ctx.results["web_seed"] = str(seed)
    idle_db = ctx.work / "db" / "web-idle.sqlite"
    harness.copy_database(seed, idle_db)
    idle = Daemon(setup.configs[True], idle_db, ctx.work / "logs" / "web-idle.log")
    minimal: subprocess.Popen[bytes] | None = None
    try:
        idle.start(sample=False)
        idle.wait_ready(120)
        sizes = {p: len(harness.http_get(idle.url(p))[1]) for p in ("/", "/api/entries")}
        ctx.say(
            f"web: idle daemon serves / ({sizes['/']} B), /api/entries ({sizes['/api/entries']} B)"
        )
        minimal_port = harness.free_port()
        minimal = subprocess.Popen(
            [PY, str(BENCH / "minimal_web.py"), idle.url(""), str(minimal_port)],
            stdout=subprocess.PIPE,
            env=harness.subprocess_env(),
        )
        assert minimal.stdout is not None
        line = minimal.stdout.readline().decode()
        if not line.startswith("PORT "):
            raise RuntimeError(f"minimal_web did not start: {line!r}")
        minimal_url = f"http://127.0.0.1:{minimal_port}"
        for p in ("/", "/api/entries"):
            same = harness.http_get(minimal_url + p)[1] == harness.http_get(idle.url(p))[1]
            if not same:
                ctx.problem(f"minimal_web serves different bytes for {p}")
        ctx.results["web_bytes"] = sizes
        for _ in range(ctx.mode.reps):
            for path in ("/", "/api/entries"):
                record(f"planetd {path} idle", harness.wrk(idle.url(path), seconds=seconds))
                record(f"minimal {path} idle", harness.wrk(minimal_url + path, seconds=seconds))
        # During a cold poll of N feeds in the same daemon: a fresh database each time.
        for rep in range(ctx.mode.reps):
            for target in ("/", "/api/entries", "minimal /"):
                db = ctx.work / "db" / f"web-poll-{rep}.sqlite"
                harness.remove_database(db)
                slug = target.replace("/", "-").replace(" ", "").strip("-") or "root"
                log = ctx.work / "logs" / f"web-poll-{rep}-{slug}.log"
                with Daemon(setup.configs[True], db, log) as busy:
                    busy.start(sample=False)
                    busy.wait_ready(120)
                    url = minimal_url + "/" if target == "minimal /" else busy.url(target)
                    result = harness.wrk(url, seconds=seconds)
                    result["polled"] = busy.polled()
                    if result["polled"] >= n:
                        ctx.say(f"note: web during poll ({target}): the poll ended before wrk")
                    key = (
                        "minimal / while planetd polls"
                        if target == "minimal /"
                        else f"planetd {target} during cold poll"
                    )
                    record(key, result)
                harness.remove_database(db)
    except Exception as e:
        ctx.problem(f"web: {e}\n{traceback.format_exc()}\n{idle.tail()}")
    finally:
        if minimal is not None:
            minimal.terminate()
            try:
                minimal.wait(10)
            except subprocess.TimeoutExpired:
                minimal.kill()
                minimal.wait(10)
        idle.stop()
    ctx.results["web"] = {"feeds": n, "seconds": seconds, "rows": rows}


# -- scale ----------------------------------------------------------------------------------------


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
        f" {_fmt(result.get('first_round_s'))}s, peak rss {_fmt(result.get('peak_rss_mb'), 0)}MB,"
        f" late median {_fmt(result['late_median'])}s max {_fmt(result['late_max'])}s"
    )
    return result


# -- profiles -------------------------------------------------------------------------------------


def _spy() -> str | None:
    spy = shutil.which("py-spy") or str(Path(PY).parent / "py-spy")
    return spy if os.path.exists(spy) else None


def _spy_daemon(ctx: Context, spy: str, daemon: Daemon, raw: Path) -> None:
    """py-spy on the daemon's main process while wrk asks for ``/``."""
    assert daemon.process is not None
    seconds = max(2, round(ctx.mode.wrk_seconds))
    command = [spy, "record", "--pid", str(daemon.process.pid), "--rate", "100"]
    command += ["--format", "raw", "--duration", str(seconds), "--output", str(raw)]
    spying = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    harness.wrk(daemon.url("/"), seconds=seconds)
    try:
        spying.wait(seconds + 60)
    except subprocess.TimeoutExpired:
        spying.kill()
        spying.wait(10)


def profile_runs(ctx: Context) -> None:
    """py-spy: a cold N=200 ``planetd poll`` (every process), and the daemon under wrk,
    idle and during a cold poll (its main process)."""
    import profiles

    spy = _spy()
    if spy is None:
        ctx.say("profile: py-spy not installed; skipped")
        return
    out: dict[str, Any] = {}
    n = min(200, max(ctx.mode.sizes))
    setup = setup_farm(ctx, n)
    farms.serve(setup.farm, "base")
    db = ctx.work / "db" / "profile-cold.sqlite"
    harness.remove_database(db)
    raw = ctx.work / "logs" / "profile-cold.txt"
    command = [spy, "record", "--subprocesses", "--rate", "100", "--format", "raw"]
    command += ["--output", str(raw), "--", *poll_command(ctx, setup.configs[True], db)]
    subprocess.run(
        command, env=harness.subprocess_env(), capture_output=True, timeout=1800, check=False
    )
    if raw.exists():
        out["cold"] = profiles.summarize(raw)
    harness.remove_database(db)
    # One feed's parse, step by step, in one process (CPU time, no pool, no network).
    cost = subprocess.run(
        [PY, str(BENCH / "parse_cost.py"), str(setup.farm.path / "base"), "--feeds", "40"],
        env=harness.subprocess_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out["parse_cost"] = harness.last_json_line(cost.stdout)

    web_setup = setup_farm(ctx, ctx.mode.web_size)
    idle_seed = ctx.results.get("web_seed") or ctx.previous.get("web_seed")
    if idle_seed and Path(idle_seed).exists():
        db = ctx.work / "db" / "profile-idle.sqlite"
        harness.copy_database(Path(idle_seed), db)
        raw = ctx.work / "logs" / "profile-idle.txt"
        with Daemon(web_setup.configs[True], db, ctx.work / "logs" / "profile-idle.log") as d:
            d.start(sample=False)
            d.wait_ready(120)
            harness.http_get(d.url("/"))
            _spy_daemon(ctx, spy, d, raw)
        harness.remove_database(db)
        if raw.exists():
            out["idle"] = profiles.summarize(raw)
    db = ctx.work / "db" / "profile-web.sqlite"
    harness.remove_database(db)
    raw = ctx.work / "logs" / "profile-web.txt"
    with Daemon(web_setup.configs[True], db, ctx.work / "logs" / "profile-web.log") as d:
        d.start(sample=False)
        d.wait_ready(120)
        _spy_daemon(ctx, spy, d, raw)
    harness.remove_database(db)
    if raw.exists():
        out["web"] = profiles.summarize(raw)
    ctx.results["profile"] = out


# -- main -----------------------------------------------------------------------------------------


def remembered_ports(work: Path) -> tuple[int, int] | None:
    """The static server's ports of the last run in ``work``.

    Feed URLs name the port, and a database polled in an earlier run (the seeds
    a partial re-run reuses) only matches a config with the same URLs.
    """
    try:
        ports = json.loads((work / "server-ports.json").read_text())
        return int(ports[0]), int(ports[1])
    except (OSError, ValueError, IndexError, TypeError):
        return None


def choose_poller(requested: str) -> str:
    if requested != "auto":
        return requested
    probe = subprocess.run(
        [PY, "-c", "from planetd.cli import main; main()", "poll", "--help"],
        capture_output=True,
        env=harness.subprocess_env(),
        timeout=60,
    )
    return "cli" if probe.returncode == 0 else "driver"


def ensure_tools(install: bool) -> None:
    """Install Debian's nginx-light and wrk if they are missing (the issue allows it)."""
    missing = [
        t for t in ("wrk", "nginx") if not (shutil.which(t) or os.path.exists(f"/usr/sbin/{t}"))
    ]
    if missing and install and shutil.which("apt-get"):
        packages = ["wrk" if t == "wrk" else "nginx-light" for t in missing]
        print(f"installing {', '.join(packages)} with apt-get", flush=True)
        subprocess.run(["apt-get", "install", "-y", *packages], check=False, timeout=600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--smoke", action="store_true", help="toy sizes, seconds; for CI")
    group.add_argument("--quick", action="store_true", help="real sizes, one repetition")
    parser.add_argument("--only", default="poll,web,scale,profile", help="sections to run")
    parser.add_argument("--sizes", help="poll sizes, e.g. 200,1000")
    parser.add_argument("--reps", type=int, help="repetitions (default 3, quick/smoke 1)")
    parser.add_argument("--work", type=Path, help="work folder (default benchmarks/work)")
    parser.add_argument("--output", type=Path, help="results file")
    parser.add_argument("--poller", choices=("auto", "cli", "driver"), default="auto")
    parser.add_argument("--server", choices=("auto", "nginx", "twisted"), default="auto")
    parser.add_argument("--no-install", action="store_true", help="never apt-get nginx/wrk")
    parser.add_argument(
        "--render", action="store_true", help="only rewrite the results file from results.json"
    )
    args = parser.parse_args(argv)

    mode = MODES["smoke" if args.smoke else "quick" if args.quick else "full"]
    if args.sizes:
        mode.sizes = tuple(int(s) for s in args.sizes.split(","))
        mode.web_size = max(mode.sizes)
    if args.reps:
        mode.reps = args.reps
    work = args.work or (BENCH / "work" / ("smoke" if args.smoke else "full"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "logs").mkdir(exist_ok=True)
    (work / "db").mkdir(exist_ok=True)
    output = args.output or (work / "RESULTS.md" if args.smoke else BENCH / "RESULTS.md")
    if args.render:
        import report

        results = json.loads((work / "results.json").read_text())
        output.write_text(report.render(results, notes=BENCH / "notes.md"))
        print(f"wrote {output}")
        return 0
    sections = set(args.only.split(","))
    unknown = sections - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {SECTIONS}")
    previous: dict[str, Any] = {}
    if sections != set(SECTIONS) and (work / "results.json").exists():
        previous = json.loads((work / "results.json").read_text())
    ensure_tools(install=not args.no_install and not args.smoke)
    import report

    started = time.perf_counter()
    with (
        StaticServer(work, kind=args.server, ports=remembered_ports(work)) as server,
        open(work / "logs" / "run.log", "a") as log,
    ):
        ctx = Context(mode=mode, work=work, server=server, poller=choose_poller(args.poller))
        ctx.previous = previous
        (work / "server-ports.json").write_text(json.dumps([server.validating, server.plain]))
        ctx.log = log
        ctx.results["machine"] = harness.machine()
        ctx.results["mode"] = {
            "name": mode.name,
            "reps": mode.reps,
            "sizes": list(mode.sizes),
            "poller": ctx.poller,
            "server": f"{server.kind} ({server.version()})",
            "wrk_seconds": mode.wrk_seconds,
        }
        ctx.say(
            f"mode {mode.name}: sizes {mode.sizes}, {mode.reps} rep(s), poller {ctx.poller},"
            f" static server {server.kind}, load {os.getloadavg()[0]:.2f}"
        )
        if shutil.which("wrk") is None and "web" in sections:
            ctx.problem("wrk is not installed: web section skipped")
            sections.discard("web")
        for section, run in (
            ("poll", lambda: [poll_benchmarks(ctx, n) for n in mode.sizes]),
            ("web", lambda: web_benchmarks(ctx)),
            ("scale", lambda: scale_benchmark(ctx)),
            ("profile", lambda: profile_runs(ctx)),
        ):
            if section not in sections:
                continue
            if section == "profile" and not (
                mode.profile and report.missed_targets({**previous, **ctx.results})
            ):
                continue
            ctx.section = section
            try:
                run()
            except Exception as e:
                ctx.problem(f"{section} crashed: {e}\n{traceback.format_exc()}")
        ctx.results["machine"]["loadavg_end"] = os.getloadavg()
        ctx.results["elapsed"] = time.perf_counter() - started
        ctx.results["problems"] = ctx.problems
        results = merge(previous, ctx.results, sections)
        (work / "results.json").write_text(json.dumps(results, indent=1, default=str))
        output.write_text(report.render(results, notes=BENCH / "notes.md"))
        ctx.say(f"wrote {output} ({ctx.results['elapsed']:.0f}s)")
        count = sum(len(v) for v in ctx.problems.values())
        if count:
            ctx.say(f"{count} problem(s); see above")
    return 1 if ctx.problems else 0


SECTIONS = ("poll", "web", "scale", "profile")


def by_section(problems: Any) -> dict[str, list[str]]:
    """Problems keyed by section (an older results.json kept one list: sort it by prefix)."""
    if isinstance(problems, dict):
        return {k: list(v) for k, v in problems.items()}
    keyed: dict[str, list[str]] = {}
    for p in problems or []:
        section = next((s for s in ("web", "scale", "profile") if p.startswith(s)), "poll")
        keyed.setdefault(section, []).append(p)
    return keyed


_PRODUCES = {
    "poll": ("poll", "seeds"),
    "web": ("web", "web_bytes", "web_seed"),
    "scale": ("scale",),
    "profile": ("profile",),
}


def merge(previous: dict[str, Any], current: dict[str, Any], sections: set[str]) -> dict[str, Any]:
    """A run of some sections on top of an earlier full run: its sections replaced, dated."""
    if not previous:
        return current
    merged = dict(previous)
    for section in sections:
        for key in _PRODUCES.get(section, ()):
            if key in current:
                merged[key] = current[key]
    problems = by_section(previous.get("problems"))
    for section in sections:
        problems.pop(section, None)
    problems.update(current.get("problems") or {})
    merged["problems"] = problems
    machine = current["machine"]
    merged.setdefault("reruns", []).append(
        {
            "sections": sorted(sections),
            "date": machine["date"],
            "commit": machine["commit"],
            "loadavg": [machine["loadavg"][0], machine["loadavg_end"][0]],
            "minutes": current.get("elapsed", 0) / 60,
        }
    )
    return merged


if __name__ == "__main__":
    sys.exit(main())
