"""One measured run of each contender: planetd's command line and daemon, and its peers.

Owns how each contender is started on a farm, what it must have done (every
feed polled and stored, the expected number of bodies parsed), and the figures
taken from it (wall time, process-tree CPU and memory, bodies parsed, and the
static server's count of bodies sent and ``304`` answers). A contender that
did not do its job is a problem reported through the context.

The contenders: planetd's ``poll --all`` (``cli``) and one cycle of its daemon;
the naive ``requests`` + ``feedparser`` loop (:mod:`naive`); reader, the
Python library (:mod:`reader_poll`); newsboat, the C++ feed reader, run
headless (``newsboat -x reload``) with its own config, URL list, cache and
``HOME`` in the work folder, so it never reads or writes the real home.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import harness
from context import Context, FarmSetup
from harness import BENCH, PY, Daemon

#: newsboat's download threads (``reload-threads``): 8, as in the issue's measurement.
NEWSBOAT_THREADS = 8


def measured(ctx: Context, command: list[str], log: str, **kw: Any) -> dict[str, Any]:
    """:func:`harness.run_measured`, plus what the static server sent during the run."""
    mark = ctx.server.mark()
    result = harness.run_measured(command, timeout=1800, output=ctx.work / "logs" / log, **kw)
    served(ctx, mark, result)
    return result


def served(ctx: Context, mark: int, result: dict[str, Any]) -> None:
    """Bodies sent (``200``) and ``304 Not Modified`` answers since ``mark``, into ``result``."""
    statuses = ctx.server.statuses(mark)
    result["sent"] = statuses.get(200, 0)
    result["not_modified"] = statuses.get(304, 0)


# -- the naive loop -------------------------------------------------------------------------------


def run_naive(ctx: Context, setup: FarmSetup, validators: bool, tag: str) -> dict[str, Any]:
    command = [PY, str(BENCH / "naive.py"), str(setup.url_lists[validators])]
    result = measured(ctx, command, f"naive-{tag}.log")
    report = harness.last_json_line(result["output"])
    result.update(parsed=report.get("parsed"), inner=report.get("elapsed"))
    if result["rc"] != 0 or report.get("parsed") != setup.n:
        ctx.problem(
            f"naive {tag}: rc={result['rc']} parsed={report.get('parsed')} (want {setup.n})"
        )
    return result


# -- reader ---------------------------------------------------------------------------------------


def reader_version() -> str | None:
    """reader's version as the benchmark's interpreter imports it, or None."""
    probe = subprocess.run(
        [PY, "-c", "import sgmllib, reader; print(reader.__version__)"],
        capture_output=True,
        text=True,
        env=harness.subprocess_env(),
        timeout=120,
        check=False,
    )
    if probe.returncode != 0:
        return None
    return probe.stdout.strip() or None


def reader_files(database: Path) -> list[Path]:
    """A reader database and the search database it keeps beside it."""
    return [database, Path(f"{database}.search")]


def remove_reader(database: Path) -> None:
    for path in reader_files(database):
        harness.remove_database(path)


def copy_reader(source: Path, target: Path) -> None:
    for src, dst in zip(reader_files(source), reader_files(target), strict=True):
        if src.exists():
            harness.copy_database(src, dst)


def run_reader(
    ctx: Context, setup: FarmSetup, database: Path, expected: int, tag: str
) -> dict[str, Any]:
    """``update_feeds`` over the farm (with validators) in reader's database."""
    command = [PY, str(BENCH / "reader_poll.py"), str(database), str(setup.url_lists[True])]
    result = measured(ctx, command, f"reader-{tag}.log")
    report = harness.last_json_line(result["output"])
    result.update(parsed=report.get("parsed"), inner=report.get("elapsed"))
    if result["rc"] != 0 or report.get("parsed") != expected or report.get("errors"):
        ctx.problem(
            f"reader {tag}: rc={result['rc']} parsed={report.get('parsed')} (want {expected})"
            f" errors={report.get('errors')}: {result['output'][-300:]}"
        )
    return result


# -- newsboat -------------------------------------------------------------------------------------


def newsboat_version() -> str | None:
    """``newsboat --version``'s first line, or None when it is not installed."""
    binary = shutil.which("newsboat")
    if binary is None:
        return None
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    first = (out.stdout or out.stderr).strip().splitlines()
    return first[0].split(" - ")[0] if first else None


def _newsboat_home(ctx: Context) -> tuple[Path, dict[str, str]]:
    """newsboat's private config file and an environment whose home is in the work folder."""
    home = ctx.work / "newsboat-home"
    for sub in ("config", "data", "cache"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    config = home / "config" / "config"
    config.write_text(f"reload-threads {NEWSBOAT_THREADS}\n")
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
    }
    return config, env


def newsboat_command(config: Path, urls: Path, cache: Path) -> list[str]:
    return ["newsboat", "-C", str(config), "-u", str(urls), "-c", str(cache), "-x", "reload"]


def newsboat_counts(cache: Path) -> tuple[int, int, int]:
    """Feeds, items, and feeds with a validator stored, in a newsboat cache."""
    if not cache.exists():
        return 0, 0, 0
    with sqlite3.connect(f"file:{cache}?mode=ro", uri=True) as db:
        feeds = db.execute("SELECT count(*) FROM rss_feed").fetchone()[0]
        items = db.execute("SELECT count(*) FROM rss_item").fetchone()[0]
        validated = db.execute(
            "SELECT count(*) FROM rss_feed WHERE lastmodified > 0 OR etag != ''"
        ).fetchone()[0]
    return int(feeds), int(items), int(validated)


def remove_newsboat(cache: Path) -> None:
    for path in (cache, Path(f"{cache}.lock")):
        path.unlink(missing_ok=True)


def copy_newsboat(source: Path, target: Path) -> None:
    remove_newsboat(target)
    shutil.copyfile(source, target)


def run_newsboat(
    ctx: Context, setup: FarmSetup, cache: Path, expected: int, items: int, tag: str
) -> dict[str, Any]:
    """``newsboat -x reload`` over the farm (with validators) into ``cache``.

    newsboat counts nothing it prints, so ``parsed`` is the bodies the static
    server sent it (newsboat parses every body it receives); the cache must then
    hold every feed and ``items`` entries.
    """
    config, env = _newsboat_home(ctx)
    command = newsboat_command(config, setup.url_lists[True], cache)
    result = measured(ctx, command, f"newsboat-{tag}.log", env=env)
    result["parsed"] = result["sent"]
    feeds, stored, _ = newsboat_counts(cache)
    result["entries"] = stored
    if result["rc"] != 0 or feeds != setup.n or stored != items or result["parsed"] != expected:
        ctx.problem(
            f"newsboat {tag}: rc={result['rc']} feeds={feeds} (want {setup.n})"
            f" items={stored} (want {items}) parsed={result['parsed']} (want {expected}):"
            f" {result['output'][-300:]}"
        )
    return result


def newsboat_second_fetch(ctx: Context, setup: FarmSetup, cache: Path) -> None:
    """Fetch every feed once more, unmeasured, so newsboat stores its validators.

    newsboat 2.21 stores a feed's ETag and Last-Modified only when it fetches a
    feed it already has: after one cold reload its cache holds none, and its
    next reload downloads everything again. A reader that has run a while holds
    them, so the re-poll scenarios start from a cache fetched twice.
    """
    config, env = _newsboat_home(ctx)
    command = newsboat_command(config, setup.url_lists[True], cache)
    out = subprocess.run(
        command,
        capture_output=True,
        env={**harness.subprocess_env(), **env},
        timeout=1800,
        check=False,
    )
    feeds, _, validated = newsboat_counts(cache)
    if out.returncode != 0 or validated != feeds:
        ctx.problem(
            f"newsboat second fetch: rc={out.returncode}, {validated} of {feeds} feeds"
            " with a validator stored"
        )


# -- planetd --------------------------------------------------------------------------------------


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
    command = poll_command(ctx, setup.configs[validators], database)
    result = measured(ctx, command, f"cli-{tag}.log")
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
    mark = ctx.server.mark()
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
    served(ctx, mark, result)
    result["parsed"] = harness.parsed_between(before, harness.body_hashes(database))
    if result.get("wall") is not None:
        check_planetd(ctx, f"daemon {tag}", database, result["parsed"], expected, setup.n)
    return result
