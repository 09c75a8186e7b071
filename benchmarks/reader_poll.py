"""A peer: `reader <https://pypi.org/project/reader/>`_, the Python feed-reader library.

What a Python user who picks a library gets: reader keeps its feeds in SQLite,
sends ETag/Last-Modified back (a ``304`` costs no parse), and parses with its
own copy of feedparser, one feed after another (``update_feeds`` with its
defaults). This script makes (or reuses) a reader database, adds the URLs,
updates every feed once whatever its schedule, and prints one JSON line in
the shape :mod:`naive` prints::

    {"feeds": N, "parsed": P, "not_modified": M, "entries": E, "errors": 0,
     "bytes": null, "elapsed": S, "version": "3.26"}

``parsed`` counts the feeds whose body reader read and parsed, ``not_modified``
the ``304`` answers, ``entries`` the new entries stored.

Usage: ``python benchmarks/reader_poll.py DATABASE URLS.txt``
"""

from __future__ import annotations

import json
import sys
import time
from importlib.metadata import version

from reader import make_reader


def poll(database: str, urls: list[str]) -> dict[str, object]:
    """Add every URL (a no-op for those the database knows), update each feed once."""
    started = time.perf_counter()
    reader = make_reader(database)
    try:
        for url in urls:
            reader.add_feed(url, exist_ok=True)
        parsed = not_modified = entries = errors = 0
        # scheduled=False: every feed now, as the other contenders do, not only the due ones.
        for result in reader.update_feeds_iter(scheduled=False):
            value = result.value
            if value is None:
                not_modified += 1
            elif isinstance(value, Exception):
                errors += 1
            else:
                parsed += 1
                entries += value.new
    finally:
        reader.close()
    return {
        "feeds": len(urls),
        "parsed": parsed,
        "not_modified": not_modified,
        "entries": entries,
        "errors": errors,
        "bytes": None,
        "elapsed": time.perf_counter() - started,
        "version": version("reader"),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        sys.stderr.write("usage: reader_poll.py DATABASE URLS.txt\n")
        return 2
    with open(argv[2], encoding="utf-8") as f:
        urls = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    report = poll(argv[1], urls)
    print(json.dumps(report))
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
