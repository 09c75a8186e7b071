"""The corpus section: CPU per parsed feed on real-world feeds, served from 127.0.0.1.

Owns the second half of the CPU target: the farm is generated, so the same
figure is taken on ``shared/corpus/realworld/docs`` (182 feeds as real sites
publish them, a few malformed), served by the static server and polled once,
cold, by ``planetd poll --all``. CPU per parsed feed is the process tree's CPU
over the bodies parsed; in a cold poll every body sent is parsed, so the static
server's count of bodies sent is that number (the store's count of feeds with a
body hash is shown beside it: a body that does not parse stores none).

The corpus sits beside the repository (``../shared/corpus``, or
``$PLANETD_CORPUS``); without it the section records that and is no problem.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import harness
from context import Context, fmt, write_planet
from harness import REPO
from peers import measured, poll_command


def corpus_docs() -> Path:
    """Where the real-world feed documents are (present or not)."""
    root = os.environ.get("PLANETD_CORPUS") or str(REPO.parent / "shared" / "corpus")
    return Path(root) / "realworld" / "docs"


def corpus_benchmark(ctx: Context) -> None:
    docs = corpus_docs()
    if not docs.is_dir():
        ctx.say(f"corpus: {docs} not found; CPU per feed on real-world feeds not measured")
        ctx.results["corpus"] = {"missing": str(docs)}
        return
    link = ctx.work / "realworld"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(docs.resolve(), target_is_directory=True)
    names = sorted(p.name for p in docs.glob("*.xml"))[: ctx.mode.corpus_docs]
    urls = [ctx.server.url(f"realworld/{name}") for name in names]
    config = write_planet(ctx.work / "realworld.ini", urls, title="Real-world feeds")
    megabytes = sum((docs / name).stat().st_size for name in names) / 1e6
    runs: list[dict[str, Any]] = []
    for rep in range(ctx.mode.reps):
        db = ctx.work / "db" / f"corpus-{rep}.sqlite"
        harness.remove_database(db)
        result = measured(ctx, poll_command(ctx, config, db), f"corpus-{rep}.log")
        stored = sum(1 for h in harness.body_hashes(db).values() if h)
        result.update(parsed=result["sent"], stored=stored, statuses=harness.feed_statuses(db))
        if result["rc"] != 0 or result["sent"] != len(names):
            ctx.problem(
                f"corpus rep {rep}: rc={result['rc']}, {result['sent']} of {len(names)}"
                f" documents sent: {result['output'][-300:]}"
            )
        if result["parsed"]:
            result["cpu_ms_per_feed"] = 1000 * result["cpu_s"] / result["parsed"]
        result.pop("output", None)
        runs.append(result)
        ctx.say(
            f"corpus rep {rep + 1}/{ctx.mode.reps}: {len(names)} documents"
            f" ({megabytes:.1f} MB) in {fmt(result['wall'])}s, cpu {fmt(result['cpu_s'])}s,"
            f" {fmt(result.get('cpu_ms_per_feed'), 1)} ms per parsed feed,"
            f" {stored} stored a body hash, statuses {result['statuses']}"
        )
        if ctx.mode.name != "smoke":
            harness.remove_database(db)
    ctx.results["corpus"] = {"documents": len(names), "megabytes": megabytes, "runs": runs}
