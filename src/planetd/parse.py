"""Turning a fetched body into a :class:`ParsedFeed`: feedparser, then planetd's rules.

Owns: what an entry's identity is, which of feedparser's fields planetd keeps,
how content is chosen (content, else summary, else nothing) and that it is
sanitized by :mod:`planetd.sanitize` with the right base URL. It runs in a
worker process (see :mod:`planetd.workers`): the function takes and returns
plain picklable values and never touches the store, the network or a clock.

feedparser's own sanitizer and relative-URI pass are turned off: planetd's
allowlist sanitizer does both jobs better, and they cost more than half of
feedparser's time on typical feeds. Only entries whose raw hash differs from
the stored one are sanitized at all.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import io
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urljoin, urlsplit

import attrs
import feedparser

from planetd.boundaries import EntryKey, ParsedEntry, ParsedFeed
from planetd.hints import parse_sy_period, parse_ttl_minutes
from planetd.sanitize import html_to_text, plain_text, sanitize_html, xml_safe

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_SAFE_LINK_SCHEMES = ("http", "https")


def parse_feed(
    body: bytes,
    url: str,
    content_type: str | None = None,
    known: Mapping[EntryKey, str] | None = None,
) -> ParsedFeed:
    """Parse ``body`` fetched from ``url``; sanitize only entries not in ``known``.

    ``known`` maps the keys of stored entries to their raw hashes: an entry
    whose hash is unchanged comes back with ``changed=False`` and no content.
    """
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
        reason = _describe(bozo) if bozo else "no RSS, Atom or JSON feed found"
        return ParsedFeed(error=f"not a feed: {reason}")

    feed_base = url
    site = _safe_link(feed.get("link"), feed_base)
    known = known or {}
    entries: list[ParsedEntry] = []
    where: dict[EntryKey, int] = {}
    feed_author = plain_text(feed.get("author", "") or "") or None
    for raw in raw_entries:
        entry = _parse_entry(raw, feed_base, known, feed_author)
        index = where.get(entry.key)
        if index is None:
            where[entry.key] = len(entries)
            entries.append(entry)
        elif _later(entry, entries[index]):
            # Some feeds repeat an id; as in Venus, the latest version wins, in its place.
            entries[index] = entry
    ttl = parse_ttl_minutes(feed.get("ttl"))
    sy = parse_sy_period(feed.get("sy_updateperiod"), feed.get("sy_updatefrequency"))
    hints = [h for h in (ttl, sy) if h is not None]
    return ParsedFeed(
        title=plain_text(feed.get("title", "") or ""),
        link=site,
        entries=tuple(entries),
        ttl=max(hints) if hints else None,
        warning=_describe(bozo) if bozo else None,
    )


def _later(entry: ParsedEntry, than: ParsedEntry) -> bool:
    """Whether ``entry`` is a later version than ``than`` (by updated, else published)."""
    mine = entry.updated or entry.published
    theirs = than.updated or than.published
    return mine is not None and (theirs is None or mine > theirs)


def _describe(exc: object) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}"[:300] if first else type(exc).__name__


def _parse_entry(
    raw: Any, feed_base: str, known: Mapping[EntryKey, str], feed_author: str | None = None
) -> ParsedEntry:
    """One entry; an entry without an author inherits the feed's (as Atom specifies)."""
    content_value, content_type, content_base = _choose_content(raw)
    # feedparser always reports a base (the feed URL when nothing else says so):
    # only an explicit xml:base outranks the entry's own link.
    explicit = content_base if content_base != feed_base else None
    base = explicit or _safe_link(raw.get("link"), feed_base) or feed_base
    link = _safe_link(raw.get("link"), base)
    title_detail = raw.get("title_detail") or {}
    title_raw = raw.get("title", "") or ""
    title = (
        plain_text(title_raw)
        if title_detail.get("type", "text/plain") in _HTML_TYPES
        else " ".join(xml_safe(title_raw).split())
    )
    raw_id = (raw.get("id") or "").strip()
    published_raw = raw.get("published", "") or ""
    # dict.get, not raw.get: feedparser 6 answers "updated" with "published" when the
    # entry has no update date (a deprecated fallback it will drop).
    updated_raw = dict.get(raw, "updated", "") or ""
    author_raw = raw.get("author", "") or ""
    fingerprint = "\0".join(
        (
            raw_id,
            title_raw,
            link or "",
            author_raw,
            published_raw,
            updated_raw,
            content_type,
            content_value,
        )
    )
    raw_hash = hashlib.blake2b(fingerprint.encode("utf-8", "surrogatepass"), digest_size=16)
    key = _entry_key(raw_id, link, title_raw, content_value)
    digest = raw_hash.hexdigest()
    published = _to_datetime(raw.get("published_parsed"))
    updated = _to_datetime(dict.get(raw, "updated_parsed"))
    author = plain_text(raw.get("author", "") or "") or feed_author
    unchanged = ParsedEntry(
        key=key,
        raw_hash=digest,
        title=title,
        link=link,
        author=author,
        published=published,
        updated=updated,
        changed=False,
    )
    if known.get(key) == digest:
        return unchanged
    content_html = _content_html(content_value, content_type, base)
    return attrs.evolve(
        unchanged,
        content_html=content_html,
        text=f"{title}\n{html_to_text(content_html)}",
        changed=True,
    )


def _content_html(value: str, content_type: str, base: str) -> str:
    """Sanitized HTML for HTML content; plain text becomes escaped paragraphs."""
    if content_type in _HTML_TYPES:
        return sanitize_html(value, base)
    paragraphs = [p for p in xml_safe(value).split("\n\n") if p.strip()]
    return "".join(
        "<p>" + html.escape(p.strip()).replace("\n", "<br>") + "</p>" for p in paragraphs
    )


def _choose_content(raw: Any) -> tuple[str, str, str | None]:
    """Full content if the entry has it (HTML preferred), else the summary, else nothing."""
    contents: list[Any] = raw.get("content") or []
    best = None
    for detail in contents:
        if detail.get("value", "").strip():
            if detail.get("type") in _HTML_TYPES:
                best = detail
                break
            best = best or detail
    if best is None:
        best = raw.get("summary_detail")
        if best is None or not (best.get("value") or "").strip():
            return "", "text/plain", None
    return (
        best.get("value", "") or "",
        best.get("type", "text/html") or "text/html",
        best.get("base") or None,
    )


def _entry_key(raw_id: str, link: str | None, title: str, content: str) -> EntryKey:
    if raw_id:
        return EntryKey(raw_id)
    if link:
        return EntryKey(link)
    digest = hashlib.blake2b(f"{title}\0{content}".encode("utf-8", "surrogatepass"))
    return EntryKey("hash:" + digest.hexdigest()[:32])


def _safe_link(value: object, base: str) -> str | None:
    """An absolute http(s) URL, resolved against ``base``, or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        absolute = urljoin(base, value.strip())
        scheme = urlsplit(absolute).scheme.lower()
    except ValueError:
        return None
    return absolute if scheme in _SAFE_LINK_SCHEMES else None


def _to_datetime(parsed: object) -> datetime | None:
    """A UTC datetime from feedparser's ``time.struct_time``, None when absent or absurd."""
    if not isinstance(parsed, time.struct_time):
        return None
    try:
        moment = datetime.fromtimestamp(calendar.timegm(parsed), tz=timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None
    return moment if 1970 <= moment.year <= 9999 else None
