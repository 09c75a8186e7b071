"""feedparser's reading rules, as the fast path repeats them.

Owns the vocabulary :mod:`planetd.fastparse` shares with feedparser: the name
feedparser dispatches an element on, which of its handlers write nothing
planetd reads, which field each modelled element feeds, and the text rules
every value goes through (windows-1252 map, Latin-1 repair, content types,
the serialization of inline XHTML). Tables are derived from feedparser's own
classes where it has them, so a feedparser upgrade that adds a handler makes
the fast path decline, not diverge.

Pure: imports feedparser's helpers, lxml and the standard library; never
Twisted or sqlite3.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any
from xml.sax.saxutils import escape

from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type stubs

_XHTML = "http://www.w3.org/1999/xhtml"

#: feedparser's canonical prefix for each namespace it knows (lower-cased URIs).
PREFIXES: dict[str, str] = {
    uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()
}
#: Every element name feedparser has a start or end handler for.
HANDLED = frozenset(
    name.split("_", 2)[2] for name in dir(_FeedParserMixin) if name.startswith(("_start_", "_end_"))
)
#: Local names that would call a handler when they close inside XHTML content.
END_HANDLED = frozenset(
    name[len("_end_") :] for name in dir(_FeedParserMixin) if name.startswith("_end_")
)
#: Handlers that write nothing planetd reads, wherever they occur.
HARMLESS = frozenset(
    {
        "category", "dc_subject", "enclosure", "tags", "keywords", "rights", "copyright",
        "dc_rights", "language", "dc_language", "created", "dcterms_created", "dcterms_valid",
        "expirationdate", "media_content", "media_thumbnail", "media_keywords",
        "media_rating", "media_credit", "media_category", "media_license",
        "media_restriction", "media_player", "itunes_image", "itunes_explicit",
        "itunes_block", "itunes_keywords", "itunes_category", "cc_license",
        "creativecommons_license", "creativeCommons_license", "psc_chapters",
        "psc_chapter", "georss_point", "georss_line", "georss_polygon", "georss_box",
        "cloud", "generator", "webmaster", "dc_publisher", "lastbuilddate",
        "feedburner_browserfriendly", "info", "icon", "logo", "image", "textinput",
        "width", "height", "url", "subtitle", "tagline", "itunes_subtitle",
    }
)  # fmt: skip
#: Feed-level elements whose parts feedparser keeps apart (the channel's title and link
#: outrank an image's; an owner's name is the publisher's).
OWN_CONTEXT = frozenset({"image", "textinput", "itunes_owner"})
#: Keys planetd reads from feedparser's dicts: no unknown element may land on them.
READ_KEYS = frozenset(
    {"id", "title", "link", "links", "author", "published", "updated", "summary", "content",
     "ttl", "sy_updateperiod", "sy_updatefrequency", "guidislink"}
)  # fmt: skip
_TITLE = frozenset({"title"})
_LINK = frozenset({"link"})
_ID = frozenset({"id", "guid"})
_AUTHOR = frozenset({"author", "dc_creator", "managingeditor", "itunes_author", "dc_author"})
_PUBLISHED = frozenset({"published", "pubdate", "issued", "dcterms_issued"})
_UPDATED = frozenset({"updated", "modified", "dc_date", "dcterms_modified"})
_SUMMARY = frozenset({"description", "summary", "itunes_summary"})
#: Fields that may repeat: feedparser's rules for them are modelled (the last author wins,
#: summaries follow the summary rule, alternate links overwrite, contents add up).
REPEATABLE = frozenset({"link", "content", "summary", "author", "other"})
#: What an Atom ``source`` may hold: feedparser reads all of it into the source's own dict.
SOURCE_PARTS = frozenset(
    {"title", "subtitle", "link", "id", "updated", "published", "author", "contributor",
     "name", "email", "uri", "url", "category", "rights", "generator", "icon", "logo"}
)  # fmt: skip
_CONTENT = frozenset({"content", "content_encoded"})
TEXT_TYPES = frozenset({"text/plain", "text/html", "application/xhtml+xml"})
#: The characters ``_cp1252`` maps (a translate is slow; a search for them is not).
_C1 = re.compile("[\x80-\x9f]")


class DeclinedError(Exception):
    """The document has something the fast path does not model: feedparser reads it."""


def fp_text(value: str) -> str:
    """feedparser's last touches to every text value: Latin-1 repair, windows-1252 map."""
    if value.isascii():
        return value  # both steps change only characters above U+007F
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        value = value.encode("iso-8859-1").decode("utf-8")
    return value.translate(_cp1252) if _C1.search(value) else value


def map_type(value: str) -> str:
    """A content type as feedparser names it (``html`` is ``text/html``, ...)."""
    return str(_FeedParserMixin.map_content_type(value))


def field_of(name: str) -> str:
    """Which field an element feeds, by feedparser's name for it; "other" for none."""
    for kind, names in (
        ("title", _TITLE),
        ("link", _LINK),
        ("id", _ID),
        ("author", _AUTHOR),
        ("published", _PUBLISHED),
        ("updated", _UPDATED),
        ("summary", _SUMMARY),
        ("content", _CONTENT),
    ):
        if name in names:
            return kind
    if name in ("ttl", "sy_updateperiod", "sy_updatefrequency"):
        return "extra"
    return "other"


def xhtml(element: Any) -> str:
    """Inline XHTML content serialized as feedparser does, its wrapping ``<div>`` removed."""
    pieces: list[str] = []
    if element.text:
        pieces.append(escape(element.text))
    _serialize_children(element, pieces)
    while len(pieces) > 1 and not pieces[-1].strip():
        del pieces[-1]
    while len(pieces) > 1 and not pieces[0].strip():
        del pieces[0]
    if (
        pieces
        and (pieces[0] == "<div>" or pieces[0].startswith("<div "))
        and pieces[-1] == "</div>"
    ):
        depth = 0
        for piece in pieces[:-1]:
            if piece.startswith("</"):
                depth -= 1
                if depth == 0:
                    break
            elif piece.startswith("<") and not piece.endswith("/>"):
                depth += 1
        else:
            pieces = pieces[1:-1]
    return "".join(pieces).strip()


def _serialize_children(element: Any, pieces: list[str]) -> None:
    for child in element:
        qname = etree.QName(child)
        local = qname.localname.lower()
        if qname.namespace != _XHTML or local in END_HANDLED:
            raise DeclinedError("XHTML content feedparser would not copy as is")
        attrs = []
        for key, value in child.attrib.items():
            if key.startswith("{"):
                raise DeclinedError("a namespaced attribute in XHTML content")
            key = key.lower()
            if key in ("rel", "type"):
                value = value.lower()
            attrs.append(f' {key}="{escape(value, {chr(34): "&quot;"})}"')
        pieces.append(f"<{local}{''.join(attrs)}>")
        if child.text:
            pieces.append(escape(child.text))
        _serialize_children(child, pieces)
        pieces.append(f"</{local}>")
        if child.tail:
            pieces.append(escape(child.tail))
