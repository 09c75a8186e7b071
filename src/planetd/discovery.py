"""Telling an HTML page from a feed, and finding the feeds a page links to.

Owns what planetd says when a subscription's URL answers with a web page
instead of a feed: that it is an HTML page, and which feeds the page names
in ``<link rel="alternate" type="application/rss+xml|atom+xml" href=...>``,
resolved against the page's URL, so the operator can fix the config.
Most often a blog's home page was subscribed instead of its feed.

Pure: bytes in, values out, with the standard library's tolerant HTML
parser (a broken page must still be read). Must not import Twisted, the
store or feedparser.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

#: The MIME types a feed link announces (JSON Feed is listed but read by no parser here).
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/feed+json"})

_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html[\s>])", re.I | re.S)
#: How much of a page is read for its links: they live in <head>.
_HEAD_BYTES = 256 * 1024
#: At most this many links are named in an error.
MAX_NAMED = 5


def looks_like_html(body: bytes, content_type: str | None) -> bool:
    """Whether ``body`` is a web page: served as HTML, or starting as one does."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in ("text/html", "application/xhtml+xml"):
        return True
    return bool(_HTML_START.match(body[:4096].lstrip(b"\xef\xbb\xbf")))


class _FeedLinks(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base":
            href = dict(attrs).get("href")
            if href:
                self.base = urljoin(self.base, href.strip())
            return
        if tag != "link":
            return
        values = {k: (v or "") for k, v in attrs}
        rels = values.get("rel", "").lower().split()
        kind = values.get("type", "").split(";")[0].strip().lower()
        href = values.get("href", "").strip()
        if "alternate" in rels and kind in FEED_TYPES and href:
            url = urljoin(self.base, href)
            if urlsplit(url).scheme in ("http", "https") and url not in self.found:
                self.found.append(url)


def feed_links(body: bytes, base_url: str) -> list[str]:
    """The feeds a page links to, absolute http(s) URLs in page order, each once."""
    text = body[:_HEAD_BYTES].decode("utf-8", "replace")
    parser = _FeedLinks(base_url)
    try:
        parser.feed(text)
        parser.close()
    except (AssertionError, ValueError):  # html.parser's own errors on hopeless markup
        pass
    return parser.found


def not_a_feed(body: bytes, base_url: str) -> str:
    """What a subscription to a web page is told: what it got, and where its feeds are."""
    links = feed_links(body, base_url)
    if not links:
        return "an HTML page, which links to no feed"
    named = ", ".join(links[:MAX_NAMED])
    more = f" and {len(links) - MAX_NAMED} more" if len(links) > MAX_NAMED else ""
    feeds = "feeds" if len(links) > 1 else "feed"
    return f"an HTML page, which links to the {feeds} {named}{more}"
