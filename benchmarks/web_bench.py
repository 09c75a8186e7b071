"""The web section: wrk on an idle daemon, on a daemon in the middle of a cold poll, and
on a minimal twisted.web resource serving the same bytes.

Owns the daemon's web figures (requests/s, p50/p99) and the floor they are
compared with, all measured in one go on the same farm.
"""

from __future__ import annotations

import json
import subprocess
import traceback
from pathlib import Path
from typing import Any

import harness
from context import Context, fmt, setup_farm
from harness import BENCH, PY, Daemon
from peers import run_cli


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
            f"web {key:<34} {fmt(result['rps'], 0)} req/s"
            f" p50={fmt(result['p50'])}ms p99={fmt(result['p99'])}ms"
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
