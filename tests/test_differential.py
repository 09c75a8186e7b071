"""The fast path stores what feedparser would: a differential test over the shared corpora.

For every document of feedparser's well-formed set, feedvalidator's cases and the
real-world feeds that :func:`planetd.fastparse.read_fast` accepts, both readers parse it
and the two :class:`ParsedFeed` values are compared field by field (the feed's title, link,
ttl, warning and error; each entry's key, raw hash, link, title, author, dates, sanitized
content and filter text). A difference fails the test unless ``KNOWN`` lists that document
with its reason; a listed document that no longer differs fails too, so the list stays true.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from corpus import CORPUS, need
from planetd.boundaries import ParsedFeed
from planetd.fastparse import FAST_PARSER, read_fast
from planetd.parse import finish, parse_with_feedparser
from planetd.sanitize import sanitize_html

pytestmark = pytest.mark.corpus

#: The folders compared, relative to the corpus.
FOLDERS = ("feedparser/wellformed", "feedvalidator", "realworld/docs")

#: Documents whose two readings differ, with the reason the difference is accepted.
KNOWN: dict[str, str] = {}

_FEED_FIELDS = ("title", "link", "ttl", "warning", "error")
_ENTRY_FIELDS = (
    "key", "raw_hash", "link", "title", "author", "published", "updated", "content_html",
    "text", "changed",
)  # fmt: skip


def documents() -> Iterator[Path]:
    """Every document of the compared folders, in a stable order."""
    for folder in FOLDERS:
        root = need(CORPUS / folder)
        yield from sorted(
            p
            for p in root.rglob("*")
            if p.is_file() and p.suffix != ".md" and p.name != "MANIFEST.tsv"
        )


def differences(fast: ParsedFeed, reference: ParsedFeed) -> list[str]:
    """What differs between two readings of one document, one line per field."""
    found = [
        f"feed {name}: {getattr(fast, name)!r} != {getattr(reference, name)!r}"
        for name in _FEED_FIELDS
        if getattr(fast, name) != getattr(reference, name)
    ]
    if len(fast.entries) != len(reference.entries):
        found.append(f"entries: {len(fast.entries)} != {len(reference.entries)}")
        return found
    for index, (mine, theirs) in enumerate(zip(fast.entries, reference.entries, strict=True)):
        found.extend(
            f"entry {index} {name}: {getattr(mine, name)!r:.200} != {getattr(theirs, name)!r:.200}"
            for name in _ENTRY_FIELDS
            if getattr(mine, name) != getattr(theirs, name)
        )
    return found


def compare(path: Path) -> list[str] | None:
    """The differences for one document, or None when the fast path declines it."""
    body = path.read_bytes()
    url = "http://example.org/" + path.relative_to(CORPUS).as_posix()
    raw = read_fast(body, url, None)
    if raw is None:
        return None
    fast = finish(raw, url, None, parser=FAST_PARSER)
    return differences(fast, parse_with_feedparser(body, url, None, None))


@pytest.mark.corpus
def test_the_fast_path_reads_every_accepted_document_as_feedparser_does() -> None:
    """Every document the fast path accepts is stored as feedparser's reading would be,
    except the listed ones, each with its reason; and every listed one still differs."""
    total = accepted = 0
    unexplained: dict[str, list[str]] = {}
    listed = set()
    for path in documents():
        total += 1
        found = compare(path)
        if found is None:
            continue
        accepted += 1
        name = path.relative_to(CORPUS).as_posix()
        if found and name in KNOWN:
            listed.add(name)
        elif found:
            unexplained[name] = found[:5]
    print(
        f"differential: {total} documents, {accepted} read by the fast path, "
        f"{len(listed)} listed differences"
    )
    assert not unexplained, "\n".join(f"{k}: {v}" for k, v in unexplained.items())
    assert not set(KNOWN) - listed, f"listed but no longer different: {set(KNOWN) - listed}"
    assert accepted > total // 4, "the fast path declined most of the corpus"


def test_the_benchmark_farm_is_read_by_the_fast_path_as_feedparser_reads_it() -> None:
    """The generated benchmark feeds (RSS with and without content:encoded, Atom with
    escaped HTML and inline XHTML) are all read by the fast path, and identically."""
    import importlib.util
    import sys

    # The farm generator is a benchmark script, not part of the package: load it by path.
    spec = importlib.util.spec_from_file_location(
        "benchmark_farm", Path(__file__).resolve().parents[1] / "benchmarks" / "farm.py"
    )
    assert spec is not None and spec.loader is not None
    farm = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("benchmark_farm", farm)  # its dataclasses look themselves up
    spec.loader.exec_module(farm)
    build_feed = farm.build_feed

    for index in range(15):
        name, text, _ = build_feed(7, index)
        body, url = text.encode(), f"http://127.0.0.1/{name}"
        raw = read_fast(body, url, None)
        assert raw is not None, name
        fast = finish(raw, url, None, parser=FAST_PARSER)
        assert differences(fast, parse_with_feedparser(body, url, None, None)) == [], name


@pytest.mark.corpus
def test_real_world_content_sanitizes_as_the_two_pass_reference_did() -> None:
    """Every entry content of the real-world feeds comes out of the one-pass sanitizer
    exactly as it came out of the former two-pass one (which knew no trackers: the
    tracker pass, checked in test_trackers, is compared switched off)."""
    from planetd.entryrules import HTML_TYPES, choose_content
    from planetd.fastparse import read_fast as read
    from test_sanitize import _reference_sanitize

    checked = 0
    for path in sorted(need(CORPUS / "realworld" / "docs").iterdir()):
        raw = read(path.read_bytes(), "http://example.org/feed", None)
        for entry in raw.entries if raw is not None else ():
            detail = choose_content(entry)
            if detail.type in HTML_TYPES:
                base = entry.link or "http://example.org/feed"
                assert sanitize_html(
                    detail.value, base, strip_trackers=False
                ) == _reference_sanitize(detail.value, base), path.name
                checked += 1
    assert checked > 1000
