"""The fast path: read plain RSS 2.0 and Atom 1.0 with lxml, exactly as feedparser would.

Owns which documents the fast path accepts and how it reads them into a
:class:`~planetd.entryrules.RawFeed`, the value the feedparser path also
produces; :mod:`planetd.parse` applies planetd's rules to either. feedparser
stays the reference: :func:`read_fast` returns None (feedparser reads the
document) for anything it cannot prove it reads the same —

* not well-formed XML, a DOCTYPE, a charset other than UTF-8, a content type
  feedparser would warn about;
* anything but ``<rss version="2.0">`` with one channel, an Atom 1.0 feed, or
  RSS 1.0 (RDF) with one channel;
* attributes on an entry (CDF), content given by ``src`` or as base64;
* an element inside an entry or the feed that feedparser has a handler for and
  this module does not model (``media:title``, ``itunes:summary``,
  ``source``, ...), or two of a field that feedparser would merge by its own
  order rules (two titles, two authors, two dates of one kind);
* escaped content that holds elements, and XHTML content holding elements
  outside XHTML or named like a feedparser handler.

Every rule that turns text into a field repeats feedparser's (the same
whitespace stripping, URI joining, date parser, HTML guess for RSS titles,
Latin-1 repair and windows-1252 mapping), imported from feedparser where it is
a function. ``tests/test_differential.py`` holds the proof over the corpora.

Pure: imports lxml, feedparser's helper functions and :mod:`planetd.entryrules`;
never Twisted or sqlite3.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from feedparser.datetimes import _parse_date
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri
from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type stubs

from planetd import dates
from planetd.entryrules import Detail, RawEntry, RawFeed
from planetd.fastrules import (
    HANDLED,
    HARMLESS,
    OWN_CONTEXT,
    PREFIXES,
    READ_KEYS,
    REPEATABLE,
    SOURCE_PARTS,
    TEXT_TYPES,
    DeclinedError,
    field_of,
    fp_text,
    map_type,
    xhtml,
)

# The date forms feedparser misses, for this path and feedparser's alike (one process-wide
# list of handlers, read by ``_parse_date`` here and by ``feedparser.parse``).
dates.register()

#: The name ``ParsedFeed.parser`` gives a document the fast path read.
FAST_PARSER = "lxml"

_ATOM = "http://www.w3.org/2005/Atom"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_RDF_ABOUT = f"{{{_RDF}}}about"
_RSS10 = "http://purl.org/rss/1.0/"
_RSS090 = "http://my.netscape.com/rdf/simple/0.9/"
#: Namespaces from which feedparser may take an RSS version before it sees the root.
_RSS_VERSIONS = frozenset({_RSS10, _RSS090})
#: What an RSS 1.0 document may hold beside its channel and items.
_RSS10_BESIDE = frozenset({f"{{{_RSS10}}}item", f"{{{_RSS10}}}image", f"{{{_RSS10}}}textinput"})

_XML_TYPES = ("application/xml", "text/xml")
_DECLARED = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']""")
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    remove_comments=True,
    remove_pis=True,
    huge_tree=False,
)


def read_fast(body: bytes, url: str, content_type: str | None) -> RawFeed | None:
    """``body`` read as feedparser would read it, or None when that cannot be shown."""
    if not _plain_utf8(body, content_type):
        return None
    try:
        root = etree.fromstring(body, _PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        return None  # a DTD may declare entities and defaults feedparser reads its own way
    try:
        if root.tag == "rss" and root.get("version") == "2.0":
            channels = [c for c in root if c.tag == "channel"]
            if len(channels) != 1 or len(root) != 1:
                return None
            return _Reader(url, atom=False).feed(channels[0], "item")
        if root.tag == f"{{{_ATOM}}}feed":
            if {uri.lower() for uri in root.nsmap.values()} & _RSS_VERSIONS:
                return None  # feedparser may take the document's version from these
            return _Reader(url, atom=True).feed(root, f"{{{_ATOM}}}entry")
        if root.tag == f"{{{_RDF}}}RDF":
            return _read_rss10(root, url)
    except DeclinedError:
        return None
    return None


def _read_rss10(root: Any, url: str) -> RawFeed | None:
    """RSS 1.0: a channel, its items beside it, and optionally an image and a text input."""
    namespaces = {uri.lower() for uri in root.nsmap.values()}
    if _RSS10 not in namespaces or namespaces & {_ATOM.lower(), _RSS090}:
        return None  # feedparser takes the version from the first of these it meets
    channel = f"{{{_RSS10}}}channel"
    kinds = [child.tag for child in root]
    if kinds.count(channel) != 1 or not set(kinds) <= {channel, *_RSS10_BESIDE}:
        return None
    (head,) = (child for child in root if child.tag == channel)
    if set(head.attrib) - {_RDF_ABOUT, _XML_LANG} or head.find(f"{{{_RSS10}}}item") is not None:
        return None  # CDF attributes, or items inside the channel
    return _Reader(url, atom=False).feed(head, f"{{{_RSS10}}}item", entries_in=root)


def _plain_utf8(body: bytes, content_type: str | None) -> bool:
    """Whether ``body`` is UTF-8 by every account, under a type feedparser calls XML."""
    if content_type:
        mime, _, params = content_type.partition(";")
        mime = mime.strip().lower()
        charset = re.search(r"charset\s*=\s*\"?([^\";\s]+)", params, re.I)
        if charset is not None and charset.group(1).lower() not in ("utf-8", "utf8"):
            return False
        if mime.startswith("text/") and charset is None:
            return False  # RFC 3023: text/* without a charset is us-ascii
        if mime not in _XML_TYPES and not mime.endswith("+xml"):
            return False
    head = body.lstrip()
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if not head.startswith(b"<"):
        return False
    declared = _DECLARED.match(head[:200])
    return declared is None or declared.group(1).lower() in (b"utf-8", b"utf8")


class _Reader:
    """One document's reading; the feed URL is feedparser's base for every URI."""

    def __init__(self, url: str, *, atom: bool) -> None:
        self.url = url
        self.atom = atom
        self._names: dict[tuple[str, str | None], str] = {}

    def name(self, element: Any) -> str:
        """The name feedparser dispatches ``element`` on (``dc_creator``, ``title``, ...)."""
        key = (element.tag, element.prefix)
        name = self._names.get(key)
        if name is None:
            name = self._names[key] = self._name(element)
        return name

    def _name(self, element: Any) -> str:
        qname = etree.QName(element)
        namespace = (qname.namespace or "").lower()
        if "backend.userland.com/rss" in namespace:
            namespace = "http://backend.userland.com/rss"
        prefix = PREFIXES.get(namespace, element.prefix or "")
        local = qname.localname.lower()
        return f"{prefix}_{local}" if prefix else local

    def text(self, element: Any) -> str:
        """An element's text as feedparser pops it: children refused, stripped."""
        if len(element):
            raise DeclinedError("markup inside a text element")
        return (element.text or "").strip()

    def base(self, element: Any) -> str:
        """The base URI feedparser holds inside ``element``: the feed URL, then each xml:base."""
        given = []
        while element is not None:
            value = element.get(_XML_BASE) or element.get("base")
            if value:
                given.append(value)
            element = element.getparent()
        base = self.url
        for value in reversed(given):
            base = make_safe_absolute_uri(base, value) or base
        return str(base)

    def uri(self, value: str, element: Any) -> str:
        return str(_urljoin(self.base(element), value)) if value else value

    def feed(self, container: Any, entry_tag: str, entries_in: Any = None) -> RawFeed:
        fields = self.fields(c for c in container if c.tag != entry_tag)
        parent = container if entries_in is None else entries_in
        entries = tuple(self.entry(e) for e in parent if e.tag == entry_tag)
        return RawFeed(
            title=fields.title,
            link=fields.link,
            author=fields.author,
            ttl=fields.extra.get("ttl"),
            sy_period=fields.extra.get("sy_updateperiod"),
            sy_frequency=fields.extra.get("sy_updatefrequency"),
            entries=entries,
            hub=fields.hub,
            self_url=fields.self_url,
        )

    def entry(self, element: Any) -> RawEntry:
        if any(key not in (_XML_LANG, _RDF_ABOUT) for key in element.attrib):
            raise DeclinedError("attributes on an entry")
        fields = _Fields()
        # feedparser takes an RSS 1.0 item's rdf:about as its id, as it is.
        fields.id = element.get(_RDF_ABOUT, "")
        self.fields(iter(element), in_entry=True, out=fields)
        return RawEntry(
            id=fields.id,
            title=fields.title,
            title_type=fields.title_type,
            link=fields.link,
            author=fields.author,
            published=fields.published,
            updated=fields.updated,
            published_parsed=_parse_date(fields.published) if fields.published else None,
            updated_parsed=_parse_date(fields.updated) if fields.updated else None,
            contents=tuple(fields.contents),
            summary=fields.summary,
        )

    def fields(
        self, children: Iterator[Any], *, in_entry: bool = False, out: _Fields | None = None
    ) -> _Fields:
        """Read the fields of one feed or entry from its child elements, in order."""
        out = out or _Fields()
        seen: set[str] = set()
        for child in children:
            name = self.name(child)
            kind = field_of(name)
            once = name if kind == "extra" else kind
            if once in seen and kind not in REPEATABLE:
                raise DeclinedError(f"two {once} elements")
            seen.add(once)
            handler: Callable[[Any, _Fields, bool], None] = getattr(self, "_" + kind)
            handler(child, out, in_entry)
        return out

    def _title(self, element: Any, out: _Fields, in_entry: bool) -> None:
        kind = map_type(element.get("type", "text/plain"))
        if kind not in ("text/plain", "text/html"):
            raise DeclinedError("a title that is not text or HTML")
        out.title = fp_text(self.text(element))
        if not self.atom and kind == "text/plain" and _FeedParserMixin.looks_like_html(out.title):
            kind = "text/html"
        out.title_type = kind

    def _link(self, element: Any, out: _Fields, in_entry: bool) -> None:
        attrs = {k.lower(): v for k, v in element.attrib.items()}
        href = attrs.get("url", attrs.get("uri", attrs.get("href")))
        if href is None:
            value = self.uri(fp_text(self.text(element)), element)
            if in_entry:
                value = re.sub("&([A-Za-z0-9_]+);", r"&\g<1>", value.replace("&amp;", "&"))
            out.link = value
            return
        if len(element) or (element.text or "").strip():
            raise DeclinedError("a link with both href and text")
        rel = attrs.get("rel", "alternate").lower()
        if not in_entry and rel in ("hub", "self"):
            target = str(_urljoin(self.base(element), href))
            if rel == "hub" and out.hub is None:
                out.hub = target
            elif rel == "self" and out.self_url is None:
                out.self_url = target
        default = "application/atom+xml" if rel == "self" else "text/html"
        kind = map_type(attrs.get("type", default).lower())
        if rel == "alternate" and kind in ("text/html", "application/xhtml+xml"):
            out.link = str(_urljoin(self.base(element), href))

    def _id(self, element: Any, out: _Fields, in_entry: bool) -> None:
        is_link = {k.lower(): v for k, v in element.attrib.items()}.get("ispermalink", "true")
        value = fp_text(self.text(element))
        if is_link == "true":
            value = self.uri(value, element)
            if out.link is None:
                out.link = value
        out.id = value

    def _author(self, element: Any, out: _Fields, in_entry: bool) -> None:
        parts: dict[str, str] = {}
        for child in element:
            part = self.name(child)
            if part not in ("name", "email", "uri", "url") or part in parts:
                raise DeclinedError("an author with unexpected parts")
            parts[part] = self.text(child)
        own = (element.text or "") + "".join(c.tail or "" for c in element)
        if not parts:
            out.author = fp_text(own.strip())
        elif own.strip():
            raise DeclinedError("an author with both text and parts")
        else:
            name, email = parts.get("name"), parts.get("email")
            out.author = f"{name} ({email})" if name and email else name or email or ""

    def _published(self, element: Any, out: _Fields, in_entry: bool) -> None:
        out.published = fp_text(self.text(element))

    def _updated(self, element: Any, out: _Fields, in_entry: bool) -> None:
        out.updated = fp_text(self.text(element))

    def _summary(self, element: Any, out: _Fields, in_entry: bool) -> None:
        """feedparser's summary rule: a summary that follows another, with no content yet,
        is read as content (of type text/plain unless it says otherwise)."""
        name = self.name(element)
        as_content = out.has_summary and not out.has_content
        if not in_entry:
            # The feed's description is its subtitle, which planetd does not read; a second
            # feed summary would turn into content and leak feedparser's flag into an entry.
            if as_content:
                raise DeclinedError("a second summary in the feed")
            out.has_summary = out.has_summary or name != "description"
            return
        if as_content:
            self._content(element, out, in_entry, default="text/plain")
            return
        default = "text/html" if name == "description" else "text/plain"
        out.summary = self.detail(element, default)
        out.has_summary = True

    def _content(
        self, element: Any, out: _Fields, in_entry: bool, default: str | None = None
    ) -> None:
        if not in_entry:
            raise DeclinedError("content outside an entry")
        if element.get("src") is not None:
            raise DeclinedError("content by reference")
        if default is None:
            default = "text/plain" if self.name(element) == "content" else "text/html"
        out.contents.append(self.detail(element, default))
        # Every type the fast path accepts is one feedparser copies to the summary key.
        out.has_content = out.has_summary = True

    def detail(self, element: Any, default: str) -> Detail:
        if element.get("mode") is not None:
            raise DeclinedError("a content mode")
        kind = map_type(element.get("type", default))
        if kind not in TEXT_TYPES:
            raise DeclinedError("a content type feedparser may decode as base64")
        if kind == "application/xhtml+xml":
            value = xhtml(element)
        else:
            value = self.text(element)
            if not self.atom and kind == "text/plain" and _FeedParserMixin.looks_like_html(value):
                kind = "text/html"
        return Detail(fp_text(value), kind, self.base(element))

    def _extra(self, element: Any, out: _Fields, in_entry: bool) -> None:
        if in_entry:
            self._other(element, out, in_entry)
        else:
            out.extra[self.name(element)] = fp_text(self.text(element))

    def _other(self, element: Any, out: _Fields, in_entry: bool) -> None:
        """An element planetd does not read: refuse it if feedparser would read it into a field."""
        top = self.name(element)
        if top in OWN_CONTEXT and not in_entry:
            return  # feedparser reads their parts into their own dict, none into a field
        if top == "source" and in_entry:
            for node in element.iterdescendants():
                if self.name(node) not in SOURCE_PARTS or (
                    node.tag.endswith("title") and len(node)
                ):
                    raise DeclinedError("a source holding more than a feed's head")
            return  # read into the entry's "source" dict, which planetd does not read
        for node in element.iter():
            if not isinstance(node.tag, str):
                continue
            name = self.name(node)
            if name in HANDLED and name not in HARMLESS:
                raise DeclinedError(f"an element feedparser reads: {name}")
            if name in READ_KEYS:
                raise DeclinedError(f"an element named like a field: {name}")


class _Fields:
    """What one feed or entry says, in feedparser's terms, as its elements are read."""

    def __init__(self) -> None:
        self.id = ""
        self.title = ""
        self.title_type = "text/plain"
        self.link: str | None = None
        #: The feed's first ``rel="hub"`` and ``rel="self"`` link targets (WebSub discovery).
        self.hub: str | None = None
        self.self_url: str | None = None
        self.author = ""
        self.published = ""
        self.updated = ""
        self.summary: Detail | None = None
        self.contents: list[Detail] = []
        self.extra: dict[str, str] = {}
        #: feedparser's "summary" key and its hasContent flag, which decide what a summary is.
        self.has_summary = False
        self.has_content = False


__all__ = ["FAST_PARSER", "read_fast"]
