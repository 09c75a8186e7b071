"""Full-text search at scale: index build rate, size overhead, query latency, write cost.

Generates ``--entries`` entries (default 1,000,000) of realistic sizes (a
Zipf-distributed vocabulary, text of a few hundred to several thousand
characters, HTML a little larger) and writes them through planetd's own
store code (:meth:`planetd.store.Database.record_poll`, 100 entries a poll)
into a temporary SQLite file, then measures:

1. the write rate with the index paused, and the index build rate of the
   migration's fill (:func:`planetd.searchindex.fill`) over those rows;
2. the size of the index against the entries table (SQLite's ``dbstat``);
3. the latency of :meth:`planetd.store.Database.search` (the daemon's read,
   snippets and all) over 100 queries: common words, rare words, phrases,
   prefixes; p50 and p99 after one warm-up pass;
4. the CPU of writing the same polls with the index on and off (fresh
   databases, ``--write-entries`` entries each);
5. the CPU of ``planetd poll --all`` (fetch, parse, store: the whole poll
   path, parse workers included) over a farm of ``file:`` feeds, index on
   and off, alternating, ``--poll-runs`` times each.

Prints a JSON document and a Markdown summary. Usage::

    python benchmarks/search_bench.py [--entries N] [--keep PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")
sys.path.insert(0, SRC)

from harness import TreeSampler  # noqa: E402

from planetd import searchindex  # noqa: E402
from planetd.boundaries import (  # noqa: E402
    EntryKey,
    FeedStatus,
    FeedURL,
    ParsedEntry,
    PollOutcome,
    SearchTooSlowError,
)
from planetd.config import load_config  # noqa: E402
from planetd.search import parse_query  # noqa: E402
from planetd.store import Database, open_database  # noqa: E402

COMMON = (  # noqa: SIM905 - a word list reads better as text
    "the of and to in is that for it as with was on be by this are or from at have an "
    "but not which they can all has we more one will if about there their been would "
    "when what so other into some time new also python data code release version "
    "project use using work first like just people make how web open team support"
).split()
START = datetime(2020, 1, 1, tzinfo=timezone.utc)


class Corpus:
    """A deterministic generator of realistic entries: titles, authors, text, HTML."""

    def __init__(self, seed: int = 1) -> None:
        rng = random.Random(seed)
        self.rng = rng
        syllables = [a + b for a in "bcdfghjklmnprstvwz" for b in "aeiouy"] + list("aeio")
        made: set[str] = set(COMMON)
        words = list(COMMON)
        while len(words) < 120_000:
            word = "".join(rng.choice(syllables) for _ in range(rng.randint(1, 4)))
            if word not in made and len(word) > 1:
                made.add(word)
                words.append(word)
        self.words = words
        weights = [1.0 / (rank + 1) ** 1.05 for rank in range(len(words))]
        cumulative: list[float] = []
        total = 0.0
        for w in weights:
            total += w
            cumulative.append(total)
        self.sentences = [
            " ".join(rng.choices(words, cum_weights=cumulative, k=rng.randint(6, 24))).capitalize()
            + "."
            for _ in range(40_000)
        ]
        self.cumulative = cumulative
        self.authors = [
            f"{rng.choice(words).title()} {rng.choice(words).title()}" for _ in range(3000)
        ]

    def entry(self, n: int) -> tuple[str, str | None, str, str]:
        """Entry ``n``: title, author, HTML, text (title and content, as planetd keeps it)."""
        rng = self.rng
        count = max(1, min(120, int(rng.lognormvariate(math.log(9), 0.8))))
        paragraphs = []
        for _ in range(max(1, count // 3)):
            paragraphs.append(" ".join(rng.choice(self.sentences) for _ in range(3)))
        # A few words from the long tail make every entry findable by something rare.
        tail = " ".join(self.words[rng.randint(5_000, len(self.words) - 1)] for _ in range(3))
        paragraphs.append(tail.capitalize() + ".")
        title = rng.choice(self.sentences).rstrip(".")[:80]
        author = rng.choice(self.authors) if rng.random() < 0.8 else None
        html = "".join(f"<p>{p}</p>\n" for p in paragraphs)
        text = title + "\n" + "\n".join(paragraphs)
        return title, author, html, text

    def queries(self) -> list[str]:
        """100 queries: 30 common words, 30 rare words, 20 phrases, 20 prefixes."""
        rng = random.Random(7)
        common = [w for w in self.words[:300] if len(w) > 2]
        queries = [rng.choice(common) for _ in range(20)]
        queries += [f"{rng.choice(common)} {rng.choice(common)}" for _ in range(10)]
        queries += [rng.choice(self.words[20_000:]) for _ in range(30)]
        for _ in range(20):
            words = rng.choice(self.sentences).rstrip(".").lower().split()
            at = rng.randrange(max(1, len(words) - 1))
            queries.append('"' + " ".join(words[at : at + 2]) + '"')
        for _ in range(20):
            word = rng.choice([w for w in self.words[50:5000] if len(w) >= 5])
            queries.append(word[:4] + "*")
        return queries


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _feed(n: int) -> Any:
    from planetd.boundaries import FeedConfig

    return FeedConfig(
        url=FeedURL(f"https://blog{n}.example.org/feed"),
        name=f"Blog number {n}",
        poll_interval=3600.0,
        feed_timeout=30.0,
        max_feed_bytes=10 * 1024 * 1024,
    )


def write_entries(db: Database, corpus: Corpus, count: int, *, first_feed: int = 0) -> float:
    """Write ``count`` entries, 500 a feed, 100 a poll; returns the CPU seconds it took."""
    per_feed, per_poll = 500, 100
    feeds = [_feed(first_feed + i) for i in range(math.ceil(count / per_feed))]
    db.sync_feeds(feeds, START)
    cpu = _cpu()
    written = 0
    for index, feed in enumerate(feeds):
        state = db.feed_state(feed.url)
        assert state is not None
        for start in range(0, per_feed, per_poll):
            batch = []
            for k in range(start, start + min(per_poll, count - written)):
                n = (first_feed + index) * per_feed + k
                title, author, html, text = corpus.entry(n)
                published = START + timedelta(minutes=7 * n)
                batch.append(
                    ParsedEntry(
                        key=EntryKey(f"tag:{n}"),
                        raw_hash=f"h{n}",
                        title=title,
                        link=f"https://blog{first_feed + index}.example.org/{n}",
                        author=author,
                        published=published,
                        content_html=html,
                        text=text,
                    )
                )
            if not batch:
                break
            now = batch[-1].published or START
            ok = state.__class__(**{**_fields(state), "status": FeedStatus.OK})
            db.record_poll(feed, PollOutcome(state=ok, entries=tuple(batch)), now)
            written += len(batch)
        if written >= count:
            break
    return _cpu() - cpu


def _fields(state: Any) -> dict[str, Any]:
    import attrs

    return attrs.asdict(state, recurse=False)


def sizes(path: str) -> dict[str, int]:
    """Bytes per table and index, from SQLite's dbstat."""
    import sqlite3

    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
    conn.close()
    return dict(rows)


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


def query_latency(db: Database, queries: Sequence[str]) -> dict[str, Any]:
    """Latency of the daemon's search read over ``queries`` (warm-up pass, then timed)."""
    parsed = [parse_query(q) for q in queries]
    for query in parsed:
        with contextlib.suppress(SearchTooSlowError):
            db.search(query, limit=20)
    timings = []
    hits = []
    slow = []
    stopped = 0
    for text, query in zip(queries, parsed, strict=True):
        started = time.perf_counter()
        try:
            found = len(db.search(query, limit=20).hits)
        except SearchTooSlowError:
            found, stopped = 0, stopped + 1
        elapsed = time.perf_counter() - started
        timings.append(elapsed * 1000)
        hits.append(found)
        slow.append((elapsed * 1000, text))
    return {
        "p50_ms": round(statistics.median(timings), 2),
        "p99_ms": round(percentile(timings, 99), 2),
        "max_ms": round(max(timings), 2),
        "queries_with_hits": sum(1 for h in hits if h),
        "stopped_by_time_budget": stopped,
        "slowest": [f"{t:.1f} ms {q}" for t, q in sorted(slow, reverse=True)[:5]],
    }


def write_cost(corpus: Corpus, count: int, folder: str) -> dict[str, float]:
    """CPU of writing the same ``count`` entries with the index on and off (fresh files)."""
    result = {}
    for mode in ("off", "on", "off", "on"):
        path = os.path.join(folder, f"write-{mode}.sqlite")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.unlink(path + suffix)
        db = open_database(path)
        if mode == "off":
            searchindex.pause_index(db._conn)
        corpus.rng.seed(99)
        cpu = write_entries(db, corpus, count)
        db.close()
        result[mode] = min(result.get(mode, float("inf")), cpu)
    result["overhead_pct"] = round(100 * (result["on"] / result["off"] - 1), 1)
    return result


def _farm(corpus: Corpus, folder: str, feeds: int, per_feed: int) -> str:
    """``feeds`` RSS files of ``per_feed`` entries each and a config polling them."""
    from xml.sax.saxutils import escape

    os.makedirs(os.path.join(folder, "feeds"), exist_ok=True)
    lines = ["[Planet]", "name = Search benchmark", "min_interval = 1s", ""]
    corpus.rng.seed(5)
    for f in range(feeds):
        items = []
        for k in range(per_feed):
            title, _author, html, _ = corpus.entry(f * per_feed + k)
            day = (START + timedelta(hours=f * per_feed + k)).strftime(
                "%a, %d %b %Y %H:%M:%S +0000"
            )
            items.append(
                f"<item><title>{escape(title)}</title><guid>tag:{f}-{k}</guid>"
                f"<link>https://farm{f}.example.org/{k}</link><pubDate>{day}</pubDate>"
                f"<description>{escape(html)}</description></item>"
            )
        name = os.path.join(folder, "feeds", f"{f}.xml")
        with open(name, "w", encoding="utf-8") as out:
            out.write(
                '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>Farm {f}</title><link>https://farm{f}.example.org/</link>"
                + "".join(items)
                + "</channel></rss>"
            )
        lines += [f"[file:feeds/{f}.xml]", f"name = Farm feed {f}", ""]
    config = os.path.join(folder, "planet.ini")
    with open(config, "w", encoding="utf-8") as out:
        out.write("\n".join(lines))
    return config


_MAIN = "import sys; from planetd.cli import main; main(sys.argv[1:])"


def _poll(config: str, path: str, expect: int) -> float:
    """CPU seconds (process tree, sampled) of one ``planetd poll --all``."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen(
        [sys.executable, "-c", _MAIN, "poll", config, "--all", "--database", path],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    # The parse workers are the forkserver's children, not ours: sample the tree.
    sampler = TreeSampler(process.pid, interval=0.02, pss_every=10**9).start()
    out, _ = process.communicate()
    sampler.stop()
    if process.returncode != 0 or f"{expect} new" not in out:
        raise RuntimeError(f"the poll did not go as planned: {out}")
    return sampler.cpu_seconds


def _one_more_item(folder: str, feeds: int, run: int) -> None:
    """Add one new item at the top of every feed of the farm (a busy day's poll)."""
    for f in range(feeds):
        name = os.path.join(folder, "feeds", f"{f}.xml")
        with open(name, encoding="utf-8") as existing:
            text = existing.read()
        item = (
            f"<item><title>Fresh post {run}-{f}</title><guid>tag:fresh-{run}-{f}</guid>"
            f"<link>https://farm{f}.example.org/fresh{run}</link>"
            "<pubDate>Mon, 01 Jun 2026 10:00:00 +0000</pubDate>"
            "<description>&lt;p&gt;" + " ".join(["news of the day"] * 150) + "&lt;/p&gt;"
            "</description></item>"
        )
        with open(name, "w", encoding="utf-8") as out:
            out.write(text.replace("<item>", item + "<item>", 1))


def poll_cost(corpus: Corpus, folder: str, feeds: int, per_feed: int, runs: int) -> dict[str, Any]:
    """CPU of ``planetd poll --all`` over a farm of ``file:`` feeds, index on and off:
    a cold poll (every entry new: the worst case for the index), then a warm one where
    every feed has one new item (the feed parsed again, one entry indexed)."""
    cpu: dict[str, list[float]] = {"cold on": [], "cold off": [], "warm on": [], "warm off": []}
    for run in range(runs):
        for mode in ("off", "on"):
            config = _farm(corpus, folder, feeds, per_feed)  # afresh: the same documents
            load_config(config)
            path = os.path.join(folder, f"poll-{mode}-{run}.sqlite")
            db = open_database(path)
            if mode == "off":
                searchindex.pause_index(db._conn)
            db.close()
            cpu[f"cold {mode}"].append(_poll(config, path, feeds * per_feed))
            _one_more_item(folder, feeds, run * 2 + (mode == "on"))
            cpu[f"warm {mode}"].append(_poll(config, path, feeds))
    report: dict[str, Any] = {"feeds": feeds, "entries": feeds * per_feed}
    for phase in ("cold", "warm"):
        on, off = statistics.median(cpu[f"{phase} on"]), statistics.median(cpu[f"{phase} off"])
        report[phase] = {
            "cpu_on_s": [round(c, 2) for c in cpu[f"{phase} on"]],
            "cpu_off_s": [round(c, 2) for c in cpu[f"{phase} off"]],
            "median_overhead_pct": round(100 * (on / off - 1), 1),
        }
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--write-entries", type=int, default=20_000)
    parser.add_argument("--poll-feeds", type=int, default=100)
    parser.add_argument("--poll-runs", type=int, default=3)
    parser.add_argument("--keep", help="keep the big database at this path")
    parser.add_argument("--queries-only", help="only time the queries over this kept database")
    parser.add_argument("--poll-only", action="store_true", help="only measure polling CPU")
    args = parser.parse_args(argv)

    if args.queries_only:
        reader = open_database(args.queries_only, readonly=True)
        print(json.dumps(query_latency(reader, Corpus().queries()), indent=2))
        reader.close()
        return 0
    folder = tempfile.mkdtemp(prefix="planetd-search-bench-")
    if args.poll_only:
        farm = os.path.join(folder, "farm")
        cost = poll_cost(Corpus(), farm, args.poll_feeds, 50, args.poll_runs)
        shutil.rmtree(folder, ignore_errors=True)
        print(json.dumps(cost, indent=2))
        return 0
    report: dict[str, Any] = {"entries": args.entries}
    try:
        corpus = Corpus()
        path = args.keep or os.path.join(folder, "big.sqlite")
        db = open_database(path)
        searchindex.pause_index(db._conn)
        started = time.perf_counter()
        write_cpu = write_entries(db, corpus, args.entries)
        elapsed = time.perf_counter() - started
        report["write_unindexed"] = {
            "seconds": round(elapsed, 1),
            "entries_per_s": round(args.entries / elapsed),
            "cpu_s": round(write_cpu, 1),
        }
        conn = db._conn
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        indexed = searchindex.fill(conn)
        conn.execute("COMMIT")
        build = time.perf_counter() - started
        report["index_build"] = {
            "entries": indexed,
            "seconds": round(build, 1),
            "entries_per_s": round(indexed / build),
        }
        conn.execute("INSERT INTO entry_search(entry_search) VALUES ('optimize')")
        db.close()
        table_sizes = sizes(path)
        entries_bytes = table_sizes.get("entries", 0)
        index_bytes = sum(v for k, v in table_sizes.items() if k.startswith("entry_search"))
        report["size"] = {
            "entries_table_mb": round(entries_bytes / 2**20, 1),
            "entries_with_indexes_mb": round(
                sum(
                    v
                    for k, v in table_sizes.items()
                    if k.startswith(("entries", "sqlite_autoindex_entries"))
                )
                / 2**20,
                1,
            ),
            "search_index_mb": round(index_bytes / 2**20, 1),
            "overhead_pct_of_entries_table": round(100 * index_bytes / entries_bytes, 1),
            "file_mb": round(os.path.getsize(path) / 2**20, 1),
        }
        reader = open_database(path, readonly=True)
        report["queries"] = query_latency(reader, corpus.queries())
        reader.close()
        report["write_cost"] = write_cost(corpus, args.write_entries, folder)
        report["poll_cost"] = poll_cost(
            corpus, os.path.join(folder, "farm"), args.poll_feeds, 50, args.poll_runs
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
