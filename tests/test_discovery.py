"""Tests for telling a web page from a feed and naming the feeds it links to."""

from __future__ import annotations

import pytest

from planetd.discovery import feed_links, looks_like_html, not_a_feed

PAGE = b"""<!DOCTYPE html>
<html><head><title>A blog</title>
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/rss+xml" title="RSS" href="/feed/">
<link rel="alternate" type="application/atom+xml" href="https://blog.example.org/atom.xml">
<link rel="alternate" type="application/rss+xml" href="/feed/">
<link rel="alternate" type="text/html" hreflang="fr" href="/fr/">
<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
</head><body><a href="/feed/">Subscribe</a></body></html>"""


def test_a_page_s_feed_links_are_found_resolved_and_once_each() -> None:
    """Both feed types, relative links resolved against the page, each feed once; other
    alternates (a translation) and non-http links are not feeds."""
    assert feed_links(PAGE, "https://blog.example.org/2026/") == [
        "https://blog.example.org/feed/",
        "https://blog.example.org/atom.xml",
    ]


def test_a_base_element_moves_where_links_point() -> None:
    """``<base href>`` in the head is what relative links resolve against."""
    page = b'<html><head><base href="https://cdn.example/x/"><link rel="alternate" '
    page += b'type="application/atom+xml" href="feed.atom"></head></html>'
    assert feed_links(page, "https://blog.example/") == ["https://cdn.example/x/feed.atom"]


@pytest.mark.parametrize(
    ("body", "content_type", "html"),
    [
        (PAGE, None, True),
        (b"\xef\xbb\xbf  <!-- hi -->\n<html lang=en>", None, True),
        (b"<?xml version='1.0'?><rss version='2.0'/>", "text/html", True),
        (b"<?xml version='1.0'?><rss version='2.0'/>", "application/rss+xml", False),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'/>", None, False),
        (b"<htmlish/>", None, False),
    ],
)
def test_an_html_page_is_told_by_its_type_or_its_start(
    body: bytes, content_type: str | None, html: bool
) -> None:
    """Served as text/html, or starting with a doctype or ``<html``: a web page."""
    assert looks_like_html(body, content_type) is html


def test_the_error_names_the_feeds_to_subscribe_to_instead() -> None:
    """The operator reads what was fetched and which URL to put in the config."""
    assert not_a_feed(PAGE, "https://blog.example.org/") == (
        "an HTML page, which links to the feeds https://blog.example.org/feed/,"
        " https://blog.example.org/atom.xml"
    )
    assert not_a_feed(b"<html><head></head></html>", "https://x.example/") == (
        "an HTML page, which links to no feed"
    )


def test_many_links_are_cut_and_counted() -> None:
    """A page with dozens of feed links (one per category) names five and counts the rest."""
    links = b"".join(
        b'<link rel="alternate" type="application/rss+xml" href="/c%d.xml">' % i for i in range(9)
    )
    message = not_a_feed(b"<html><head>" + links + b"</head></html>", "https://x.example/")
    assert message.endswith("https://x.example/c4.xml and 4 more")


def test_a_hopeless_page_still_gets_an_answer() -> None:
    """Binary junk served as HTML is still reported, never a crash."""
    assert not_a_feed(bytes(range(256)) * 4, "https://x.example/").startswith("an HTML page")
