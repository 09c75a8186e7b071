"""What one feed costs to parse, step by step, in one process: planetd against the naive loop.

Times, over the same files and in the same process (CPU milliseconds per feed):

* ``feedparser.parse(body)`` with its defaults (what the naive loop pays);
* ``feedparser.parse`` as planetd calls it (its sanitizer and relative-URI
  pass off, the URL and content type given);
* :func:`planetd.fastparse.read_fast`, the lxml fast path's reading alone
  (``fast_accepted`` says how many documents it accepted);
* planetd's own passes over every entry's chosen content, called directly:
  :func:`planetd.sanitize.sanitize_html`, :func:`planetd.sanitize.html_to_text`
  (what filter text cost before) and :func:`planetd.sanitize.clean_text` (what
  it costs now);
* the whole parse with nothing known (a cold poll: every entry is new and
  sanitized): :func:`planetd.parse.parse_with_feedparser` (feedparser for
  every document) and :func:`planetd.parse.parse_feed` (the fast path first).

With ``--candidates``, also the other parsers considered for the fast path, if
installed: ``feedparser_rs.parse`` and ``fastfeedparser.parse``.

Prints one JSON line. Usage:
``python benchmarks/parse_cost.py FARM_DIR/base [--feeds 40] [--candidates]``; any folder
of feed documents works (files without an ``.atom``/``.rss`` suffix are read as XML).
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import feedparser

from planetd.entryrules import HTML_TYPES, choose_content
from planetd.fastparse import read_fast
from planetd.parse import _raw_entry, parse_feed, parse_with_feedparser
from planetd.sanitize import clean_text, html_to_text, sanitize_html

_TYPES = {".atom": "application/atom+xml", ".rss": "application/rss+xml"}


def measure(files: list[Path], candidates: bool = False) -> dict[str, Any]:
    bodies = [(f.read_bytes(), f"http://127.0.0.1/{f.name}", _TYPES.get(f.suffix)) for f in files]
    n = len(bodies)
    out: dict[str, Any] = {"feeds": n, "megabytes": sum(len(b) for b, _, _ in bodies) / 1e6}

    def timed(name: str, step: Callable[[bytes, str, str | None], object]) -> list[object]:
        results = []
        started = time.process_time()
        for body, url, ctype in bodies:
            results.append(step(body, url, ctype))
        out[name] = round(1000 * (time.process_time() - started) / n, 2)
        return results

    timed("feedparser_defaults_ms", lambda body, url, ctype: feedparser.parse(body))
    parsed = timed(
        "feedparser_as_planetd_ms",
        lambda body, url, ctype: feedparser.parse(
            io.BytesIO(body),
            response_headers={"content-location": url, "content-type": ctype or ""},
            resolve_relative_uris=False,
            sanitize_html=False,
        ),
    )
    fast = timed("fast_read_ms", lambda body, url, ctype: read_fast(body, url, ctype))
    out["fast_accepted"] = sum(r is not None for r in fast)
    if candidates:
        for module in ("feedparser_rs", "fastfeedparser"):
            try:
                parse: Any = importlib.import_module(module).parse
            except ImportError:
                continue
            timed(f"{module}_ms", lambda body, url, ctype, parse=parse: parse(body))

    contents = []
    for result, (_, url, _) in zip(parsed, bodies, strict=True):
        for raw in result.entries:  # type: ignore[attr-defined]
            detail = choose_content(_raw_entry(raw))
            if detail.type in HTML_TYPES:
                contents.append((detail.value, raw.get("link") or url))
    out["entries"] = len(contents)

    def per_feed(seconds: float) -> float:
        return round(1000 * seconds / n, 2)

    started = time.process_time()
    clean = [sanitize_html(value, base) for value, base in contents]
    out["sanitize_html_ms"] = per_feed(time.process_time() - started)
    started = time.process_time()
    for html in clean:
        html_to_text(html)
    out["html_to_text_ms"] = per_feed(time.process_time() - started)
    started = time.process_time()
    for html in clean:
        clean_text(html)
    out["clean_text_ms"] = per_feed(time.process_time() - started)

    timed(
        "parse_with_feedparser_ms",
        lambda body, url, ctype: parse_with_feedparser(body, url, ctype, {}),
    )
    timed("parse_feed_ms", lambda body, url, ctype: parse_feed(body, url, ctype, {}))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--feeds", type=int, default=40)
    parser.add_argument("--candidates", action="store_true")
    args = parser.parse_args(argv)
    files = sorted(p for p in args.folder.iterdir() if p.is_file())[: args.feeds]
    if not files:
        sys.stderr.write(f"no feed files in {args.folder}\n")
        return 1
    print(json.dumps(measure(files, args.candidates)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
