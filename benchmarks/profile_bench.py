"""The profile section: py-spy over a cold poll and over the daemon under wrk.

Owns where the time goes when a target is missed: a sampled profile of every
process of a cold N=200 ``planetd poll``, one feed's parse step by step
(``parse_cost.py``), and the daemon's main process while wrk asks for ``/``,
idle and during a cold poll.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import farm as farms
import harness
from context import Context, setup_farm
from harness import BENCH, PY, Daemon
from peers import poll_command


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
