"""The obvious alternative: ``requests.get`` + ``feedparser.parse``, one feed after another.

What a Python user writes first, and what planetd is measured against: no
validators (every body is downloaded and parsed on every run), no
concurrency, feedparser with its defaults (its own sanitizer and relative-URI
pass on). It prints one JSON line::

    {"feeds": N, "parsed": N, "entries": E, "errors": 0, "bytes": B, "elapsed": S}

Usage: ``python benchmarks/naive.py URLS.txt`` (one URL a line) or
``python benchmarks/naive.py PLANET.INI`` (the feed sections of a planet).
"""

from __future__ import annotations

import configparser
import json
import sys
import time

import feedparser
import requests


def feed_urls(path: str) -> list[str]:
    """The URLs in a list file, or the ``http(s):`` sections of a Planet INI file."""
    if path.endswith(".ini"):
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read(path, encoding="utf-8")
        return [s for s in parser.sections() if s.startswith(("http:", "https:"))]
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def poll(urls: list[str], timeout: float = 30.0) -> dict[str, float | int]:
    """Fetch and parse every URL in turn; count what was parsed."""
    started = time.perf_counter()
    parsed = entries = errors = size = 0
    for url in urls:
        try:
            response = requests.get(url, timeout=timeout)
            response.raise_for_status()
        except requests.RequestException:
            errors += 1
            continue
        size += len(response.content)
        result = feedparser.parse(response.content)
        parsed += 1
        entries += len(result.entries)
    return {
        "feeds": len(urls),
        "parsed": parsed,
        "entries": entries,
        "errors": errors,
        "bytes": size,
        "elapsed": time.perf_counter() - started,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: naive.py URLS.txt|PLANET.INI\n")
        return 2
    report = poll(feed_urls(argv[1]))
    print(json.dumps(report))
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
