"""``planetd poll PLANET.INI --all`` driven in-process: the same path, with a count of parses.

The benchmark's stand-in for the command line while ``planetd.cli`` is not
usable, and its check on what was parsed: it wires the store, fetcher, parse
pool and poller exactly as the daemon does (:class:`planetd.aggregation.Aggregation`,
else the same parts by hand), polls every feed once with
:meth:`Poller.poll_once`, counts :attr:`PollReport.parsed`, and prints one
JSON line::

    {"polled": N, "parsed": P, "not_modified": M, "failed": F, "new_entries": E,
     "elapsed": S, "workers": W}

Usage: ``python benchmarks/poll_once.py PLANET.INI --database PATH``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


async def _run(reactor: Any, config_path: str, database: str) -> dict[str, Any]:
    from planetd.config import load_config
    from planetd.poller import PollReport

    config = load_config(config_path)
    reports: list[PollReport] = []
    try:
        from planetd.aggregation import Aggregation
    except ImportError:  # an older tree: build the same parts by hand
        Aggregation = None  # noqa: N806

    started = time.perf_counter()
    if Aggregation is not None:
        agg = Aggregation(config, database, reactor)
        await agg.open()
        poller, closer = agg.poller, agg.close
    else:
        from planetd.dbthreads import Store
        from planetd.fetch import Fetcher
        from planetd.poller import Poller
        from planetd.service import user_agent
        from planetd.workers import ParsePool

        store = Store(reactor, database)
        parser = ParsePool(reactor)
        fetcher = Fetcher(reactor, user_agent=user_agent(config))
        poller = Poller(config, store, fetcher, parser, reactor)
        await store.start()
        parser.start()
        await poller.load()

        async def closer() -> None:
            parser.stop()
            await fetcher.close()
            await store.stop()

    try:
        reports = await poller.poll_once([f.url for f in config.feeds])
    finally:
        await closer()
    elapsed = time.perf_counter() - started
    return {
        "polled": len(reports),
        "parsed": sum(r.parsed for r in reports),
        "not_modified": sum(r.not_modified for r in reports),
        "failed": sum(r.error is not None for r in reports),
        "new_entries": sum(r.new_entries for r in reports),
        "elapsed": elapsed,
        "workers": poller.parser.workers if hasattr(poller.parser, "workers") else None,
        "errors": sorted({r.error for r in reports if r.error})[:5],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="poll every feed of a planet once")
    parser.add_argument("config")
    parser.add_argument("--database", required=True)
    args = parser.parse_args(argv)

    from twisted.internet import defer, task

    result: dict[str, Any] = {}

    def go(reactor: Any) -> defer.Deferred[None]:
        async def inner() -> None:
            result.update(await _run(reactor, args.config, args.database))

        return defer.Deferred.fromCoroutine(inner())

    try:
        task.react(go)
    except SystemExit as e:
        if e.code:
            return int(e.code)
    print(json.dumps(result))
    return 1 if result.get("failed") else 0


if __name__ == "__main__":
    sys.exit(main())
