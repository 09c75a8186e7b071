"""planetd's rules for an entry, written once and fed by both parsers.

Owns what an entry's identity is (id, else link, else a content hash), which
content is kept (HTML content, else any content, else the summary), how links
resolve and which are kept (absolute http(s) only), what the raw hash covers,
and how duplicate ids in one document collapse. Both readers —
:mod:`planetd.parse` (feedparser) and :mod:`planetd.fastparse` (lxml) —
reduce a document to the same :class:`RawFeed` of :class:`RawEntry` values,
in feedparser's vocabulary, and this module turns each into a
:class:`~planetd.boundaries.ParsedEntry`; so a rule cannot drift between the
two paths.

Pure: imports the standard library, attrs, :mod:`planetd.boundaries` and
:mod:`planetd.sanitize` only; never feedparser, lxml, Twisted or sqlite3.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import html
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

import attrs

from planetd.boundaries import EntryKey, ParsedEntry
from planetd.sanitize import clean_text, plain_text, sanitize_html, xml_safe
from planetd.trackers import strip_tracking_parameters

HTML_TYPES = ("text/html", "application/xhtml+xml")
_SAFE_LINK_SCHEMES = ("http", "https")


@attrs.frozen
class Detail:
    """A text construct as feedparser reports it: value, media type, and base URL."""

    value: str
    type: str = "text/html"
    base: str | None = None


@attrs.frozen
class RawEntry:
    """An entry as a parser read it, before any of planetd's rules."""

    id: str = ""
    title: str = ""
    title_type: str = "text/plain"
    link: str | None = None
    author: str = ""
    published: str = ""
    updated: str = ""
    published_parsed: time.struct_time | None = None
    updated_parsed: time.struct_time | None = None
    contents: tuple[Detail, ...] = ()
    summary: Detail | None = None


@attrs.frozen
class RawFeed:
    """A document as a parser read it: the feed's own fields and its entries."""

    title: str = ""
    link: str | None = None
    author: str = ""
    ttl: str | None = None
    sy_period: str | None = None
    sy_frequency: str | None = None
    entries: tuple[RawEntry, ...] = ()
    #: The first ``atom:link rel="hub"`` and ``rel="self"`` hrefs (WebSub discovery).
    hub: str | None = None
    self_url: str | None = None


def build_entries(
    raws: Iterable[RawEntry],
    feed_base: str,
    known: Mapping[EntryKey, str],
    feed_author: str,
    *,
    strip_trackers: bool = True,
) -> tuple[ParsedEntry, ...]:
    """Every entry in document order; a repeated id keeps its place and its latest version.

    With ``strip_trackers`` (:mod:`planetd.trackers`) links lose their tracking parameters
    and content its tracking images.
    """
    author = plain_text(feed_author) or None
    entries: list[ParsedEntry] = []
    where: dict[EntryKey, int] = {}
    for raw in raws:
        entry = build_entry(raw, feed_base, known, author, strip_trackers=strip_trackers)
        index = where.get(entry.key)
        if index is None:
            where[entry.key] = len(entries)
            entries.append(entry)
        elif _later(entry, entries[index]):
            # Some feeds repeat an id; as in Venus, the latest version wins, in its place.
            entries[index] = entry
    return tuple(entries)


def _later(entry: ParsedEntry, than: ParsedEntry) -> bool:
    """Whether ``entry`` is a later version than ``than`` (by updated, else published)."""
    mine = entry.updated or entry.published
    theirs = than.updated or than.published
    return mine is not None and (theirs is None or mine > theirs)


def build_entry(
    raw: RawEntry,
    feed_base: str,
    known: Mapping[EntryKey, str],
    feed_author: str | None = None,
    *,
    strip_trackers: bool = True,
) -> ParsedEntry:
    """One entry; an entry without an author inherits the feed's (as Atom specifies)."""
    content = choose_content(raw)
    # Parsers always report a base (the feed URL when nothing else says so):
    # only an explicit xml:base outranks the entry's own link.
    explicit = content.base if content.base != feed_base else None
    base = explicit or safe_link(raw.link, feed_base) or feed_base
    link = safe_link(raw.link, base)
    title = (
        plain_text(raw.title)
        if raw.title_type in HTML_TYPES
        else " ".join(xml_safe(raw.title).split())
    )
    raw_id = raw.id.strip()
    fingerprint = "\0".join(
        (
            raw_id,
            raw.title,
            link or "",
            raw.author,
            raw.published,
            raw.updated,
            content.type,
            content.value,
        )
    )
    raw_hash = hashlib.blake2b(fingerprint.encode("utf-8", "surrogatepass"), digest_size=16)
    key = entry_key(raw_id, link, raw.title, content.value)
    digest = raw_hash.hexdigest()
    unchanged = ParsedEntry(
        key=key,
        raw_hash=digest,
        title=title,
        # The key (above) keeps the link as given, so stored entries keep their identity.
        link=strip_tracking_parameters(link) if link and strip_trackers else link,
        author=plain_text(raw.author) or feed_author,
        published=to_datetime(raw.published_parsed),
        updated=to_datetime(raw.updated_parsed),
        changed=False,
    )
    if known.get(key) == digest:
        return unchanged
    content_html = _content_html(content.value, content.type, base, strip_trackers)
    return attrs.evolve(
        unchanged,
        content_html=content_html,
        text=f"{title}\n{clean_text(content_html)}",
        changed=True,
    )


def _content_html(value: str, content_type: str, base: str, strip_trackers: bool) -> str:
    """Sanitized HTML for HTML content; plain text becomes escaped paragraphs."""
    if content_type in HTML_TYPES:
        return sanitize_html(value, base, strip_trackers=strip_trackers)
    paragraphs = [p for p in xml_safe(value).split("\n\n") if p.strip()]
    return "".join(
        "<p>" + html.escape(p.strip()).replace("\n", "<br>") + "</p>" for p in paragraphs
    )


_NO_CONTENT = Detail("", "text/plain", None)


def choose_content(raw: RawEntry) -> Detail:
    """Full content if the entry has it (HTML preferred), else the summary, else nothing."""
    best = None
    for detail in raw.contents:
        if detail.value.strip():
            if detail.type in HTML_TYPES:
                best = detail
                break
            best = best or detail
    if best is None:
        best = raw.summary
        if best is None or not best.value.strip():
            return _NO_CONTENT
    return best


def entry_key(raw_id: str, link: str | None, title: str, content: str) -> EntryKey:
    """The entry's identity: its id, else its link, else a hash of title and content."""
    if raw_id:
        return EntryKey(raw_id)
    if link:
        return EntryKey(link)
    digest = hashlib.blake2b(f"{title}\0{content}".encode("utf-8", "surrogatepass"))
    return EntryKey("hash:" + digest.hexdigest()[:32])


def safe_link(value: object, base: str) -> str | None:
    """An absolute http(s) URL, resolved against ``base``, or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    return _resolve(base, value.strip())


@functools.lru_cache(maxsize=1024)
def _resolve(base: str, value: str) -> str | None:
    """``safe_link`` once its input is known to be text (an entry asks twice: link and base)."""
    try:
        absolute = urljoin(base, value)
        scheme = urlsplit(absolute).scheme.lower()
    except ValueError:
        return None
    return absolute if scheme in _SAFE_LINK_SCHEMES else None


#: The earliest date an entry may carry: an earlier one (Hugo's ``0001-01-01`` for a page
#: without a date, a zero Unix time) is no date, and the entry is dated when first seen.
EARLIEST = datetime(1990, 1, 1, tzinfo=timezone.utc)
#: Dates from this one on are no dates either. Nearer future dates follow the feed's
#: ``future_dates`` policy (:mod:`planetd.normalize`).
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)


def to_datetime(parsed: object) -> datetime | None:
    """A UTC datetime from a ``time.struct_time``; None when absent or impossible
    (before :data:`EARLIEST` or from :data:`LATEST` on)."""
    if not isinstance(parsed, time.struct_time):
        return None
    try:
        moment = datetime.fromtimestamp(calendar.timegm(parsed), tz=timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None
    return moment if EARLIEST <= moment < LATEST else None
