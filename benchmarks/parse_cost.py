"""What one feed costs to parse, step by step, in one process: planetd against the naive loop.

Times, over the same farm files and in the same process:

* ``feedparser.parse(body)`` with its defaults (what the naive loop pays);
* ``feedparser.parse`` as planetd calls it (its sanitizer and relative-URI
  pass off, the URL and content type given);
* planetd's own passes over every entry's chosen content, called directly:
  :func:`planetd.sanitize.sanitize_html` and :func:`planetd.sanitize.html_to_text`;
* :func:`planetd.parse.parse_feed`, the whole thing, with nothing known
  (a cold poll: every entry is new and sanitized).

Prints one JSON line of milliseconds per feed. Usage:
``python benchmarks/parse_cost.py FARM_DIR/base [--feeds 40]``.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

import feedparser

from planetd.parse import _choose_content, parse_feed
from planetd.sanitize import html_to_text, sanitize_html

_TYPES = {".atom": "application/atom+xml", ".rss": "application/rss+xml"}


def measure(files: list[Path]) -> dict[str, Any]:
    bodies = [(f.read_bytes(), f"http://127.0.0.1/{f.name}", _TYPES.get(f.suffix)) for f in files]
    n = len(bodies)
    out: dict[str, Any] = {"feeds": n, "megabytes": sum(len(b) for b, _, _ in bodies) / 1e6}

    def per_feed(seconds: float) -> float:
        return round(1000 * seconds / n, 2)

    started = time.process_time()
    for body, _, _ in bodies:
        feedparser.parse(body)
    out["feedparser_defaults_ms"] = per_feed(time.process_time() - started)

    parsed = []
    started = time.process_time()
    for body, url, ctype in bodies:
        headers = {"content-location": url, "content-type": ctype or ""}
        parsed.append(
            feedparser.parse(
                io.BytesIO(body),
                response_headers=headers,
                resolve_relative_uris=False,
                sanitize_html=False,
            )
        )
    out["feedparser_as_planetd_ms"] = per_feed(time.process_time() - started)

    contents = []
    for result, (_, url, _) in zip(parsed, bodies, strict=True):
        for raw in result.entries:
            value, ctype, base = _choose_content(raw)
            if ctype in ("text/html", "application/xhtml+xml"):
                contents.append((value, base or raw.get("link") or url))
    out["entries"] = len(contents)
    started = time.process_time()
    clean = [sanitize_html(value, base) for value, base in contents]
    out["sanitize_html_ms"] = per_feed(time.process_time() - started)
    started = time.process_time()
    for html in clean:
        html_to_text(html)
    out["html_to_text_ms"] = per_feed(time.process_time() - started)

    started = time.process_time()
    for body, url, ctype in bodies:
        parse_feed(body, url, ctype, {})
    out["parse_feed_ms"] = per_feed(time.process_time() - started)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--feeds", type=int, default=40)
    args = parser.parse_args(argv)
    files = sorted(p for p in args.folder.iterdir() if p.suffix in _TYPES)[: args.feeds]
    if not files:
        sys.stderr.write(f"no .atom/.rss files in {args.folder}\n")
        return 1
    print(json.dumps(measure(files)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
