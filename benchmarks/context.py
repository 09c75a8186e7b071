"""What every benchmark section shares: the sizes of a run, its context, the farms' configs.

Owns the run's :class:`Mode` (how big, how often), the :class:`Context` a section
reports through (results, problems, the log), and turning a generated farm into
the Planet configs and URL lists the contenders poll. It imports no section.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import farm as farms
from static import StaticServer

#: cold: a fresh database; warm_*: 5% of the feeds changed, served with validators (the
#: others answer 304) and without (every body re-sent); unchanged: nothing changed (all 304).
SCENARIOS = ("cold", "warm_conditional", "warm_no_validators", "unchanged")
#: Which contenders run each scenario: the naive loop has no validators (a re-poll of an
#: unchanged farm is its cold poll again); the peers are compared where planetd's targets are.
CONTENDERS: dict[str, tuple[str, ...]] = {
    "cold": ("naive", "cli", "daemon", "reader", "newsboat"),
    "warm_conditional": ("naive", "cli", "daemon", "reader", "newsboat"),
    "warm_no_validators": ("naive", "cli", "daemon"),
    "unchanged": ("cli", "daemon", "reader", "newsboat"),
}
#: The peers that are other programs, installed apart from planetd (see ``run.ensure_peers``).
PEERS = ("reader", "newsboat")


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
    corpus_docs: int | None  # documents of the real-world corpus polled (None: all)


MODES = {
    "full": Mode("full", (200, 1000), 3, 10, 1000, 10_000, 120, 60, 10, 480, True, None),
    "quick": Mode("quick", (200, 1000), 1, 5, 1000, 10_000, 120, 60, 10, 480, True, None),
    "smoke": Mode("smoke", (10,), 1, 1, 10, 100, 6, 5, 1, 40, False, 20),
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
    #: Each peer's version, or None when it is not installed (then it is left out).
    peers: dict[str, str | None] = field(default_factory=dict)

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


def fmt(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
