"""OPML in: which outlines an import reads, and what it appends to a config, byte for byte."""

from __future__ import annotations

import pytest

from planetd.config import parse_config
from planetd.opml import OpmlError, Outline, parse_opml, plan_append

NESTED = b"""<?xml version="1.0" encoding="utf-8"?>
<opml version="2.0"><head><title>Mine</title></head><body>
  <outline text="Python">
    <outline text="  New &amp;
       Shiny " xmlUrl=" https://new.example.org/atom.xml "/>
    <outline text="Deeper"><outline title="Deep One" xmlUrl="http://deep.example.org/rss"/></outline>
  </outline>
  <outline text="lower-case attribute" xmlurl="https://lower.example.org/feed"/>
  <outline text="A folder, no feed"/>
  <outline xmlUrl="https://nameless.example.org/feed"/>
</body></opml>"""


def test_outlines_are_read_in_document_order_nested_ones_included() -> None:
    """Every outline with a feed URL is found at any depth; folders without one are not.

    Names come from ``text``, else ``title``, with whitespace collapsed; URLs are
    stripped; the ``xmlurl`` spelling some exporters write is read too.
    """
    assert parse_opml(NESTED) == [
        Outline("https://new.example.org/atom.xml", "New & Shiny"),
        Outline("http://deep.example.org/rss", "Deep One"),
        Outline("https://lower.example.org/feed", "lower-case attribute"),
        Outline("https://nameless.example.org/feed", ""),
    ]


def test_namespaced_opml_is_still_opml() -> None:
    """An OPML document whose elements carry a namespace is read like any other."""
    data = (
        b'<opml xmlns="http://example.org/ns"><body>'
        b'<outline xmlUrl="https://a.example/f" text="A"/></body></opml>'
    )
    assert parse_opml(data) == [Outline("https://a.example/f", "A")]


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"<opml><body><outline xmlUrl='https://x.example/feed'></body></opml>", "not well-formed"),
        (b"", "not well-formed"),
        (b"<rss><channel/></rss>", "its root element is <rss>"),
    ],
)
def test_what_is_not_opml_is_refused_with_the_reason(data: bytes, said: str) -> None:
    """Malformed XML, or XML that is not OPML, is refused with why (the caller names the file)."""
    with pytest.raises(OpmlError, match=said):
        parse_opml(data)


def test_the_plan_adds_only_new_http_feeds_each_once() -> None:
    """Feeds the config has, repeats within the OPML and non-http(s) URLs are counted, not added."""
    outlines = [
        Outline("https://old.example.org/feed", "Old Friend again"),
        Outline("https://new.example.org/feed", "New"),
        Outline("https://new.example.org/feed", "New, listed twice"),
        Outline("file:///etc/passwd", "Local"),
        Outline("https://bad.example.org/a feed", "Space in the URL"),
        Outline("ftp://ftp.example.org/feed", "FTP"),
    ]
    plan = plan_append(b"[Planet]\n", ["https://old.example.org/feed"], outlines)
    assert plan.added == (Outline("https://new.example.org/feed", "New"),)
    assert plan.already == 2
    assert plan.unusable == 3
    assert plan.text == "\n[https://new.example.org/feed]\nname = New\n"


def test_the_appended_text_keeps_the_configs_line_endings_and_loads() -> None:
    """A CRLF config gets CRLF sections; the original bytes plus the plan load as every feed."""
    original = b"# keep me\r\n[Planet]\r\nname = Mine\r\n\r\n[https://old.example.org/feed]\r\n"
    outlines = [Outline("https://a.example.org/feed", "A"), Outline("http://b.example.org/", "")]
    plan = plan_append(original, ["https://old.example.org/feed"], outlines)
    assert (
        plan.text
        == "\r\n[https://a.example.org/feed]\r\nname = A\r\n\r\n[http://b.example.org/]\r\n"
    )
    config = parse_config(original.decode() + plan.text, "planet.ini")
    assert [f.url for f in config.feeds] == [
        "https://old.example.org/feed",
        "https://a.example.org/feed",
        "http://b.example.org/",
    ]
    assert config.feeds[1].name == "A"


def test_a_config_without_a_final_newline_gets_one_before_the_new_sections() -> None:
    """The first appended section starts on a line of its own, not glued to the last key."""
    plan = plan_append(b"[Planet]\nname = Mine", [], [Outline("https://a.example.org/f", "A")])
    assert plan.text == "\n\n[https://a.example.org/f]\nname = A\n"
    assert parse_config("[Planet]\nname = Mine" + plan.text, "p.ini").name == "Mine"


def test_nothing_new_appends_nothing() -> None:
    """When every feed is present the plan appends no text at all, not even a newline."""
    plan = plan_append(
        b"[Planet]", ["https://a.example.org/f"], [Outline("https://a.example.org/f", "A")]
    )
    assert plan.added == ()
    assert plan.text == ""
    assert plan.already == 1
