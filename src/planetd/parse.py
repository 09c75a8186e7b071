"""Turning a fetched body into a :class:`ParsedFeed`: a reader, then planetd's rules.

Owns which reader reads a document — :mod:`planetd.fastparse` when it accepts
it, feedparser otherwise, the reference for everything the fast path declines —
which of feedparser's fields planetd keeps, and how a read document becomes a
:class:`ParsedFeed` (the entry rules themselves live in
:mod:`planetd.entryrules`, shared by both readers). It runs in a worker process
(see :mod:`planetd.workers`): the functions take and return plain picklable
values and never touch the store, the network or a clock.

feedparser's own sanitizer and relative-URI pass are turned off: planetd's
allowlist sanitizer does both jobs better, and they cost more than half of
feedparser's time on typical feeds. Only entries whose raw hash differs from
the stored one are sanitized at all.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import feedparser

from planetd.boundaries import EntryKey, ParsedFeed
from planetd.discovery import looks_like_html, not_a_feed
from planetd.entryrules import Detail, RawEntry, RawFeed, build_entries, safe_link
from planetd.fastparse import FAST_PARSER, read_fast
from planetd.hints import parse_sy_period, parse_ttl_minutes
from planetd.sanitize import plain_text
from planetd.websublinks import web_url

#: The name ``ParsedFeed.parser`` gives feedparser.
FEEDPARSER = "feedparser"


def parse_feed(
    body: bytes,
    url: str,
    content_type: str | None = None,
    known: Mapping[EntryKey, str] | None = None,
    *,
    strip_trackers: bool = True,
) -> ParsedFeed:
    """Parse ``body`` fetched from ``url``; sanitize only entries not in ``known``.

    The fast path reads the document if it can prove it reads it as feedparser
    would; feedparser reads everything else. ``known`` maps the keys of stored
    entries to their raw hashes: an entry whose hash is unchanged comes back
    with ``changed=False`` and no content. ``strip_trackers``: see
    :mod:`planetd.trackers`.
    """
    fast = read_fast(body, url, content_type)
    if fast is not None:
        return finish(fast, url, known, parser=FAST_PARSER, strip_trackers=strip_trackers)
    return parse_with_feedparser(body, url, content_type, known, strip_trackers=strip_trackers)


def parse_keeping_trackers(
    body: bytes,
    url: str,
    content_type: str | None = None,
    known: Mapping[EntryKey, str] | None = None,
) -> ParsedFeed:
    """:func:`parse_feed` with ``strip_trackers`` off (``strip_trackers = no``): a worker's job."""
    return parse_feed(body, url, content_type, known, strip_trackers=False)


def parse_with_feedparser(
    body: bytes,
    url: str,
    content_type: str | None = None,
    known: Mapping[EntryKey, str] | None = None,
    *,
    strip_trackers: bool = True,
) -> ParsedFeed:
    """Parse ``body`` with feedparser, whatever the fast path would say."""
    if not body.strip():
        return ParsedFeed(error="empty document")
    # file: feeds have no content type; saying XML spares every parse a warning.
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    # A stream, never bytes or str: feedparser treats those as a URL or a file name.
    result = feedparser.parse(
        io.BytesIO(body),
        response_headers=headers,
        resolve_relative_uris=False,
        sanitize_html=False,
    )
    feed: Any = result.get("feed", {})
    raw_entries: list[Any] = result.get("entries", [])
    bozo = result.get("bozo_exception")
    if not raw_entries and not result.get("version"):
        if looks_like_html(body, content_type):
            # Most often a blog's home page subscribed instead of its feed: say so,
            # and name the feeds the page links to, so the config can be fixed.
            return ParsedFeed(error=f"not a feed: {not_a_feed(body, url)}")
        reason = _describe(bozo) if bozo else "no RSS, Atom or JSON feed found"
        return ParsedFeed(error=f"not a feed: {reason}")
    raw = RawFeed(
        title=feed.get("title", "") or "",
        link=feed.get("link"),
        author=feed.get("author", "") or "",
        ttl=feed.get("ttl"),
        sy_period=feed.get("sy_updateperiod"),
        sy_frequency=feed.get("sy_updatefrequency"),
        entries=tuple(_raw_entry(entry) for entry in raw_entries),
        hub=_rel(feed, "hub"),
        self_url=_rel(feed, "self"),
    )
    return finish(
        raw, url, known, warning=_describe(bozo) if bozo else None, strip_trackers=strip_trackers
    )


def finish(
    raw: RawFeed,
    url: str,
    known: Mapping[EntryKey, str] | None,
    *,
    parser: str = FEEDPARSER,
    warning: str | None = None,
    strip_trackers: bool = True,
) -> ParsedFeed:
    """A read document as planetd keeps it: the one place both readers end."""
    ttl = parse_ttl_minutes(raw.ttl)
    sy = parse_sy_period(raw.sy_period, raw.sy_frequency)
    hints = [h for h in (ttl, sy) if h is not None]
    return ParsedFeed(
        title=plain_text(raw.title),
        link=safe_link(raw.link, url),
        entries=build_entries(
            raw.entries, url, known or {}, raw.author, strip_trackers=strip_trackers
        ),
        ttl=max(hints) if hints else None,
        warning=warning,
        parser=parser,
        hub=web_url(raw.hub, url),
        self_url=web_url(raw.self_url, url),
    )


def _rel(feed: Any, rel: str) -> str | None:
    """The first of feedparser's feed-level links with relation ``rel`` (WebSub discovery)."""
    for link in feed.get("links") or []:
        if (link.get("rel") or "").lower() == rel and link.get("href"):
            return str(link["href"])
    return None


def _describe(exc: object) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}"[:300] if first else type(exc).__name__


def _raw_entry(raw: Any) -> RawEntry:
    """feedparser's entry in :class:`RawEntry` terms (what planetd reads of it)."""
    title_detail = raw.get("title_detail") or {}
    summary = raw.get("summary_detail")
    return RawEntry(
        id=raw.get("id") or "",
        title=raw.get("title", "") or "",
        title_type=title_detail.get("type", "text/plain"),
        link=raw.get("link"),
        author=raw.get("author", "") or "",
        published=raw.get("published", "") or "",
        # dict.get, not raw.get: feedparser 6 answers "updated" with "published" when the
        # entry has no update date (a deprecated fallback it will drop).
        updated=dict.get(raw, "updated", "") or "",
        published_parsed=raw.get("published_parsed"),
        updated_parsed=dict.get(raw, "updated_parsed"),
        contents=tuple(_detail(d) for d in raw.get("content") or []),
        summary=_detail(summary) if summary is not None else None,
    )


def _detail(detail: Any) -> Detail:
    return Detail(
        value=detail.get("value", "") or "",
        type=detail.get("type", "text/html") or "text/html",
        base=detail.get("base") or None,
    )
