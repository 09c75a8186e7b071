"""One command for every planetd benchmark: ``python benchmarks/run.py``.

Runs, on one machine and in one go (so every ratio compares runs that shared
the same conditions):

* **poll** (:mod:`poll_bench`) at N=200 and N=1000, each scenario (cold; re-poll
  with 5% of the feeds changed, with validators and without; re-poll with
  nothing changed) for planetd's command line, planetd's daemon and its peers
  (:mod:`peers`: the naive ``requests`` + ``feedparser`` loop, reader, newsboat),
  repetitions interleaved;
* **corpus** (:mod:`corpus_bench`): CPU per parsed feed on the real-world corpus;
* **web** (:mod:`web_bench`): wrk on ``/`` and ``/api/entries`` of an idle daemon,
  of a daemon in the middle of a cold N=1000 poll, and of a minimal twisted.web
  resource serving the same bytes;
* **scale** (:mod:`scale_bench`): one daemon scheduling 10,000 small feeds for a
  full cycle;
* **profile** (:mod:`profile_bench`): py-spy over a cold poll and over the daemon
  under wrk, when a target is missed;

then writes ``benchmarks/RESULTS.md`` (see :mod:`report`).

``--smoke`` runs everything at toy size (N=10, 1 s of wrk, 100 scheduled
feeds, 20 real-world documents) in about a minute and exits non-zero if
anything broke: CI runs it so the benchmarks never rot (it writes
``benchmarks/work/smoke/RESULTS.md``, never the committed file). ``--quick``
runs the real sizes once instead of three times; ``--sizes 200`` limits the
poll sizes. Missing peers are installed first (newsboat with apt-get, reader
with pip; ``--no-install`` installs nothing); a peer still missing is a
problem, except in a smoke run, where it is only left out. ``--only web,scale``
re-runs some sections on top of the last run in the same work folder (the
re-run is dated in the results); ``--render`` rewrites the results file from
``results.json`` (after editing ``notes.md``).
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
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus_bench
import fidelity
import harness
import peers
import poll_bench
import profile_bench
import scale_bench
import web_bench
from context import MODES, Context
from harness import BENCH, PY
from static import StaticServer


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


def ensure_peers(install: bool) -> dict[str, str | None]:
    """Each peer's version, installing a missing one first when ``install``.

    newsboat is Debian's package (apt-get, with an ``apt-get update`` if the first
    try fails); reader comes with ``benchmarks/requirements.txt`` (pip, into the
    interpreter running this). None for a peer that is still missing.
    """
    if install and peers.newsboat_version() is None and shutil.which("apt-get"):
        print("installing newsboat with apt-get", flush=True)
        for step in ([], ["update"]):
            if step:
                subprocess.run(["apt-get", *step, "-qq"], check=False, timeout=600)
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            command = ["apt-get", "install", "-y", "-qq", "newsboat"]
            if subprocess.run(command, check=False, timeout=600, env=env).returncode == 0:
                break
    if install and peers.reader_version() is None:
        print("installing benchmarks/requirements.txt (reader) with pip", flush=True)
        command = [PY, "-m", "pip", "install", "-q", "-r", str(BENCH / "requirements.txt")]
        subprocess.run(command, check=False, timeout=600)
    return {"reader": peers.reader_version(), "newsboat": peers.newsboat_version()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--smoke", action="store_true", help="toy sizes, seconds; for CI")
    group.add_argument("--quick", action="store_true", help="real sizes, one repetition")
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections to run")
    parser.add_argument("--sizes", help="poll sizes, e.g. 200,1000")
    parser.add_argument("--reps", type=int, help="repetitions (default 3, quick/smoke 1)")
    parser.add_argument("--work", type=Path, help="work folder (default benchmarks/work)")
    parser.add_argument("--output", type=Path, help="results file")
    parser.add_argument("--poller", choices=("auto", "cli", "driver"), default="auto")
    parser.add_argument("--server", choices=("auto", "nginx", "twisted"), default="auto")
    parser.add_argument(
        "--no-install", action="store_true", help="install nothing (nginx, wrk, newsboat, reader)"
    )
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
    # Absolute: the daemon runs in its config's folder, and configs name files in ``work``.
    work = (args.work or (BENCH / "work" / ("smoke" if args.smoke else "full"))).resolve()
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
    found = ensure_peers(install=not args.no_install)
    import report

    started = time.perf_counter()
    with (
        StaticServer(work, kind=args.server, ports=remembered_ports(work)) as server,
        open(work / "logs" / "run.log", "a") as log,
    ):
        ctx = Context(mode=mode, work=work, server=server, poller=choose_poller(args.poller))
        ctx.previous = previous
        ctx.peers = found
        ctx.results["peers"] = {k: v or "not installed" for k, v in found.items()}
        ctx.results["fidelity"] = fidelity.listed_differences()
        for name, version in found.items():
            if version is not None:
                ctx.say(f"peer {name}: {version}")
            elif args.smoke:
                # CI installs the peers; a smoke run elsewhere may not be able to.
                ctx.say(f"peer {name}: not installed (installing failed or --no-install)")
            else:
                ctx.problem(f"peer {name} is not installed: its runs and targets are missing")
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
            ("poll", lambda: [poll_bench.poll_benchmarks(ctx, n) for n in mode.sizes]),
            ("corpus", lambda: corpus_bench.corpus_benchmark(ctx)),
            ("web", lambda: web_bench.web_benchmarks(ctx)),
            ("scale", lambda: scale_bench.scale_benchmark(ctx)),
            ("profile", lambda: profile_bench.profile_runs(ctx)),
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


SECTIONS = ("poll", "corpus", "web", "scale", "profile")


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
    "poll": ("poll", "seeds", "peers"),
    "corpus": ("corpus",),
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
    if "fidelity" in current:  # read from the tree at every run: the newest count holds
        merged["fidelity"] = current["fidelity"]
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
