"""Turning a fetched body into entries: identity, content, links, titles, dates, errors."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import attrs
import pytest

from planetd.boundaries import EntryKey, ParsedEntry, ParsedFeed
from planetd.entryrules import safe_link as _safe_link
from planetd.fastparse import FAST_PARSER
from planetd.parse import _describe, parse_feed, parse_with_feedparser

URL = "https://blog.example.org/feed/"
ATOM = "application/atom+xml"
RSS = "application/rss+xml"


def atom(entries: str, head: str = "<title>Jane's Blog</title>", base: str = "") -> bytes:
    """An Atom document holding ``entries`` (and ``head`` at feed level)."""
    xml_base = f' xml:base="{base}"' if base else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom"{xml_base}>{head}{entries}</feed>'
    ).encode()


def rss(items: str, channel: str = "<title>Jane's Blog</title>") -> bytes:
    """An RSS 2.0 document holding ``items``."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"'
        ' xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">'
        f"<channel>{channel}{items}</channel></rss>"
    ).encode()


def parse(body: bytes, content_type: str | None = ATOM, **kw: object) -> ParsedFeed:
    """``parse_feed`` of ``body`` as fetched from URL, checked against feedparser's reading.

    Whichever parser reads the document, the result must be what feedparser alone makes of
    it, so every example here is also a differential test of the fast path.
    """
    result = parse_feed(body, URL, content_type, **kw)  # type: ignore[arg-type]
    reference = parse_with_feedparser(body, URL, content_type, **kw)  # type: ignore[arg-type]
    assert attrs.evolve(result, parser="feedparser") == reference
    return result


def only(feed: ParsedFeed) -> ParsedEntry:
    """The single entry of a parsed feed that must have parsed cleanly."""
    assert feed.error is None, feed.error
    (entry,) = feed.entries
    return entry


# -- identity ------------------------------------------------------------------------------


def test_an_entry_is_keyed_by_its_id() -> None:
    """An entry with an id/guid is known by it, whatever its link."""
    entry = only(parse(atom("<entry><id>tag:example.org,2026:1</id><link href='/a'/></entry>")))
    assert entry.key == "tag:example.org,2026:1"


def test_an_entry_without_id_is_keyed_by_its_link() -> None:
    """No id: the entry's absolute link is its key."""
    entry = only(parse(rss("<item><title>A</title><link>/2026/a</link></item>"), RSS))
    assert entry.key == "https://blog.example.org/2026/a"


def test_an_entry_without_id_or_link_is_keyed_by_a_content_hash() -> None:
    """No id and no link: a hash of title and content, the same on every parse."""
    body = rss("<item><title>A</title><description>words</description></item>")
    first = only(parse(body, RSS))
    assert first.key.startswith("hash:")
    assert len(first.key) == len("hash:") + 32
    assert only(parse(body, RSS)).key == first.key
    other = only(parse(rss("<item><title>B</title><description>words</description></item>"), RSS))
    assert other.key != first.key


def test_identity_and_raw_hash_are_stable_across_parses() -> None:
    """Parsing the same document twice gives the same keys and raw hashes."""
    body = atom("<entry><id>1</id><title>A</title><content>x</content></entry>")
    assert parse(body) == parse(body)


def test_a_changed_entry_keeps_its_key_but_not_its_raw_hash() -> None:
    """An edited post (same id, new text) is the same entry with a new raw hash."""
    before = only(parse(atom("<entry><id>1</id><title>A</title><content>x</content></entry>")))
    after = only(parse(atom("<entry><id>1</id><title>A</title><content>y</content></entry>")))
    assert before.key == after.key
    assert before.raw_hash != after.raw_hash


def test_duplicate_entries_in_one_document_collapse_to_the_first() -> None:
    """A feed that repeats an entry yields it once, as first written."""
    body = rss(
        "<item><guid isPermaLink='false'>g</guid><title>first</title></item>"
        "<item><guid isPermaLink='false'>g</guid><title>second</title></item>"
        "<item><guid isPermaLink='false'>h</guid><title>other</title></item>"
    )
    feed = parse(body, RSS)
    assert [(e.key, e.title) for e in feed.entries] == [("g", "first"), ("h", "other")]


# -- content -------------------------------------------------------------------------------


def test_html_content_is_chosen_and_sanitized() -> None:
    """Full HTML content wins over the summary, and is sanitized (no script)."""
    entry = only(
        parse(
            atom(
                "<entry><id>1</id><summary>short</summary><content type='html'>"
                "&lt;p&gt;full&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;</content></entry>"
            )
        )
    )
    assert entry.content_html == "<p>full</p>"
    assert "script" not in entry.content_html
    assert entry.text.endswith("full")


def test_html_content_is_preferred_over_plain_content() -> None:
    """When an entry carries both plain and HTML content, the HTML one is shown."""
    entry = only(
        parse(
            atom(
                "<entry><id>1</id><content type='text'>plain</content>"
                "<content type='html'>&lt;p&gt;rich&lt;/p&gt;</content></entry>"
            )
        )
    )
    assert entry.content_html == "<p>rich</p>"


def test_the_first_plain_content_is_kept_when_there_is_no_html() -> None:
    """Two plain contents and no HTML: the first one is shown."""
    entry = only(
        parse(
            atom(
                "<entry><id>1</id><content type='text'>one</content>"
                "<content type='text'>two</content></entry>"
            )
        )
    )
    assert entry.content_html == "<p>one</p>"


def test_the_summary_stands_in_for_missing_content() -> None:
    """No content element: the summary (RSS description) is the content."""
    body = rss("<item><guid>g</guid><description>&lt;b&gt;hi&lt;/b&gt;</description></item>")
    entry = only(parse(body, RSS))
    assert entry.content_html == "<b>hi</b>"


def test_blank_content_falls_back_to_the_summary() -> None:
    """Content that is only whitespace does not hide a real summary."""
    body = atom("<entry><id>1</id><content type='text'> </content><summary>sum</summary></entry>")
    entry = only(parse(body))
    assert entry.content_html == "<p>sum</p>"


def test_no_content_and_no_summary_is_empty() -> None:
    """An entry with neither content nor summary (or only blank ones) has empty content."""
    bare = only(parse(atom("<entry><id>1</id><title>T</title></entry>")))
    blank = only(parse(atom("<entry><id>1</id><title>T</title><summary> </summary></entry>")))
    assert bare.content_html == blank.content_html == ""
    assert bare.text.strip() == "T"


def test_plain_text_content_is_escaped_into_paragraphs() -> None:
    """Plain-text content is never read as HTML: markup is escaped, blank lines make
    paragraphs, single newlines make line breaks."""
    entry = only(
        parse(
            atom(
                "<entry><id>1</id><content type='text'>a &lt;script&gt;x\nb\n\n\n"
                "second &amp; last</content></entry>"
            )
        )
    )
    assert entry.content_html == "<p>a &lt;script&gt;x<br>b</p><p>second &amp; last</p>"


# -- links -----------------------------------------------------------------------------------


def test_relative_links_resolve_against_the_feed_url() -> None:
    """A relative entry link, with no xml:base, is resolved against where the feed came from."""
    entry = only(parse(rss("<item><link>../2026/post</link></item>"), RSS))
    assert entry.link == "https://blog.example.org/2026/post"


def test_relative_links_resolve_against_xml_base() -> None:
    """xml:base on the entry (or feed) wins over the feed URL for links and content URLs."""
    entry = only(
        parse(
            atom(
                "<entry xml:base='https://cdn.example.net/posts/'><id>1</id>"
                "<link href='one.html'/><content type='html'>&lt;img src='pic.png'&gt;"
                "</content></entry>",
                base="https://other.example/",
            )
        )
    )
    assert entry.link == "https://cdn.example.net/posts/one.html"
    assert entry.content_html == '<img src="https://cdn.example.net/posts/pic.png">'


def test_feed_level_xml_base_resolves_the_site_link() -> None:
    """The feed's own site link is absolute, resolved against its xml:base."""
    feed = parse(atom("", head="<title>T</title><link href='/'/>", base="https://site.example/b/"))
    assert feed.link == "https://site.example/"


def test_content_urls_resolve_against_the_entry_link_without_xml_base() -> None:
    """Issue 4's order for relative URLs in content: xml:base, then the entry's link, then
    the feed URL. An RSS post at /2026/07/post/ with <img src="pic.png"> shows the
    picture next to the post, not next to the feed."""
    entry = only(
        parse(
            rss(
                "<item><guid>g</guid><link>https://blog.example.org/2026/07/post/</link>"
                '<description>&lt;img src="pic.png"&gt;</description></item>'
            ),
            RSS,
        )
    )
    assert entry.content_html == '<img src="https://blog.example.org/2026/07/post/pic.png">'


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,x",
        "mailto:a@b.example",
        "http://[::1",
    ],
)
def test_unsafe_or_broken_links_are_dropped(href: str) -> None:
    """An entry link that is not an absolute http(s) URL (script, data, broken) is None."""
    entry = only(parse(atom(f"<entry><title>T</title><link href='{href}'/></entry>")))
    assert entry.link is None
    assert entry.key.startswith("hash:")


def test_a_link_that_cannot_be_parsed_is_no_link() -> None:
    """A URL that Python cannot even split (a broken IPv6 host) is no link, not a crash.
    feedparser already blanks such links, so this guards the helper itself."""
    assert _safe_link("http://[::1", URL) is None
    assert _safe_link("post", "http://[::1") is None
    assert _safe_link("  ", URL) is None
    assert _safe_link(None, URL) is None
    assert _safe_link(" /a ", URL) == "https://blog.example.org/a"


def test_an_unsafe_site_link_is_dropped() -> None:
    """A feed whose own site link is javascript: has no site link."""
    feed = parse(atom("", head="<title>T</title><link href='javascript:alert(1)'/>"))
    assert feed.link is None


# -- titles, authors, dates --------------------------------------------------------------------


def test_html_titles_become_plain_text() -> None:
    """An HTML title loses its tags and its entities are decoded once: a reader sees words."""
    title = "<title type='html'>&lt;b&gt;Bold&lt;/b&gt; &amp;amp; co</title>"
    entry = only(parse(atom(f"<entry><id>1</id>{title}</entry>")))
    assert entry.title == "Bold & co"


def test_rss_titles_are_read_as_html() -> None:
    """RSS titles are HTML-ish: tags stripped, entities decoded."""
    body = rss("<item><guid>g</guid><title>a &amp;amp; &lt;i&gt;b&lt;/i&gt;</title></item>")
    entry = only(parse(body, RSS))
    assert entry.title == "a & b"


def test_entries_without_author_inherit_the_feeds() -> None:
    """An Atom entry with no author is credited to the feed's author; its own wins."""
    feed = parse(
        atom(
            "<entry><id>tag:x,1</id></entry>"
            "<entry><id>tag:x,2</id><author><name>Guest</name></author></entry>",
            head="<title>T</title><author><name>Jane &amp;amp; Co</name></author>",
        )
    )
    assert [e.author for e in feed.entries] == ["Jane & Co", "Guest"]


def test_relative_ids_are_resolved_like_links() -> None:
    """feedparser resolves a relative Atom id (or permalink guid) against the base: the key
    is that absolute form."""
    entry = only(parse(atom("<entry><id>1</id></entry>")))
    assert entry.key == "https://blog.example.org/feed/1"


def test_plain_text_titles_keep_their_characters_in_one_line() -> None:
    """A text title keeps '<' as a character (escaped on output), whitespace folded."""
    entry = only(
        parse(atom("<entry><id>1</id><title type='text'>  a &lt;b&gt;\n   c </title></entry>"))
    )
    assert entry.title == "a <b> c"


def test_the_feed_title_is_plain_text() -> None:
    """The feed's own title is plain text too."""
    feed = parse(atom("", head="<title type='html'>&lt;em&gt;Jane&lt;/em&gt;'s</title>"))
    assert feed.title == "Jane's"


def test_author_is_plain_text_or_none() -> None:
    """The author's name is kept as plain text; an entry without one has None."""
    named = only(parse(atom("<entry><id>1</id><author><name>Jane Doe</name></author></entry>")))
    anonymous = only(parse(atom("<entry><id>1</id></entry>")))
    assert named.author == "Jane Doe"
    assert anonymous.author is None


def test_dates_are_converted_to_utc() -> None:
    """Published and updated come out as timezone-aware UTC datetimes."""
    entry = only(
        parse(
            atom(
                "<entry><id>1</id><published>2026-07-04T12:00:00+02:00</published>"
                "<updated>2026-07-05T08:30:00-04:00</updated></entry>"
            )
        )
    )
    assert entry.published == datetime(2026, 7, 4, 10, 0, tzinfo=timezone.utc)
    assert entry.updated == datetime(2026, 7, 5, 12, 30, tzinfo=timezone.utc)


def test_rss_pub_dates_are_converted_to_utc() -> None:
    """An RFC 822 pubDate with an offset becomes UTC."""
    body = rss("<item><guid>g</guid><pubDate>Sat, 04 Jul 2026 12:00:00 +0200</pubDate></item>")
    entry = only(parse(body, RSS))
    assert entry.published == datetime(2026, 7, 4, 10, 0, tzinfo=timezone.utc)


def test_absurd_dates_are_dropped() -> None:
    """Dates before 1970 or past year 9999 are treated as no date at all."""
    entry = only(
        parse(
            atom(
                "<entry><id>1</id><published>9999-12-31T23:59:59-01:00</published>"
                "<updated>0001-01-01T00:00:00Z</updated></entry>"
            )
        )
    )
    assert entry.published is None
    assert entry.updated is None


def test_missing_dates_are_none() -> None:
    """An entry without dates has none (the store dates it when first seen)."""
    entry = only(parse(atom("<entry><id>1</id></entry>")))
    assert entry.published is None
    assert entry.updated is None


# -- known entries ------------------------------------------------------------------------------


def test_known_unchanged_entries_are_not_sanitized_again() -> None:
    """An entry whose key and raw hash are already stored comes back unchanged, without
    content, while new or edited entries are sanitized as usual."""
    body = atom(
        "<entry><id>tag:x,1</id><title>One</title><content>x</content></entry>"
        "<entry><id>tag:x,2</id><title>Two</title><content>y</content></entry>"
    )
    first = parse(body)
    one, two = first.entries
    known = {EntryKey("tag:x,1"): one.raw_hash, EntryKey("tag:x,2"): "an older hash"}
    again = parse(body, known=known)
    same, edited = again.entries
    assert not same.changed
    assert (same.key, same.raw_hash, same.title) == ("tag:x,1", one.raw_hash, "One")
    assert same.content_html == "" and same.text == ""
    assert edited == two
    assert edited.changed


# -- feed-level results -------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"  \n\t "])
def test_an_empty_body_is_an_error(body: bytes) -> None:
    """An empty (or all-whitespace) response is not a feed."""
    assert parse(body) == ParsedFeed(error="empty document")


def test_an_html_page_is_not_a_feed() -> None:
    """A site's home page served instead of its feed is an error, not an empty feed."""
    page = b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Hi</p></body></html>"
    feed = parse(page, "text/html; charset=utf-8")
    assert feed.error == "not a feed: an HTML page, which links to no feed"
    assert feed.entries == ()


def test_an_html_page_names_the_feeds_it_links_to() -> None:
    """Subscribed to a blog's home page, the operator reads that it is a page and which
    feed URL to put in the config instead (not a SAX parser's "mismatched tag")."""
    page = (
        b"<!DOCTYPE html><html><head><title>Home</title>"
        b'<link rel="alternate" type="application/atom+xml" href="/feed.atom"><br>'
        b"</head><body><p>Unclosed <b>markup</p></body></html>"
    )
    feed = parse(page, None)
    assert feed.error == (
        "not a feed: an HTML page, which links to the feed https://blog.example.org/feed.atom"
    )


def test_well_formed_xml_that_is_not_a_feed_is_an_error() -> None:
    """Well-formed XML of another vocabulary is 'not a feed', saying no feed was found."""
    feed = parse(b'<?xml version="1.0"?><config><a/></config>', "application/xml")
    assert feed.error == "not a feed: no RSS, Atom or JSON feed found"


def test_a_feed_with_no_entries_is_not_an_error() -> None:
    """An empty but valid feed is a success with no entries."""
    feed = parse(rss(""), RSS)
    assert feed.error is None
    assert feed.entries == ()
    assert feed.title == "Jane's Blog"


def test_a_malformed_feed_is_read_with_a_warning() -> None:
    """A feed with an XML error still yields its entries; the problem is kept as a warning."""
    body = rss("<item><guid isPermaLink='false'>g</guid><title>A & B</title></item>")
    feed = parse(body, RSS)
    assert feed.error is None
    assert [e.key for e in feed.entries] == ["g"]
    assert feed.warning is not None
    assert feed.warning.startswith("SAXParseException: ")
    assert "\n" not in feed.warning


def test_a_local_file_feed_without_content_type_parses_without_warning() -> None:
    """A file: feed has no Content-Type; a well-formed Atom file must not carry a warning
    (it would show as last_error on a healthy feed)."""
    feed = parse(atom("<entry><id>1</id></entry>"), None)
    assert feed.error is None
    assert feed.warning is None


def test_warnings_and_errors_are_one_short_line() -> None:
    """An exception is described as 'Type: first line', cut to 300 characters; an exception
    without a message by its type alone."""
    assert _describe(ValueError("first\nsecond")) == "ValueError: first"
    assert _describe(ValueError()) == "ValueError"
    assert len(_describe(ValueError("x" * 1000))) == 300


@pytest.mark.parametrize(
    ("channel", "ttl"),
    [
        ("<ttl>90</ttl>", 90 * 60.0),
        (
            "<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>",
            43200.0,
        ),
        ("<ttl>60</ttl><sy:updatePeriod>daily</sy:updatePeriod>", 86400.0),
        ("<ttl>soon</ttl>", None),
        ("", None),
    ],
)
def test_ttl_and_update_period_hint_the_schedule(channel: str, ttl: float | None) -> None:
    """RSS ttl (minutes) and sy:updatePeriod/Frequency give a caching hint in seconds; with
    both, the longer one; none or nonsense, no hint."""
    assert parse(rss("", channel=f"<title>T</title>{channel}"), RSS).ttl == ttl


# -- the body is data, never a name ------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP socket listening on 127.0.0.1 that nobody should connect to."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(5)
        sock.setblocking(False)
        yield sock


def test_a_body_that_looks_like_a_url_is_not_fetched(listener: socket.socket) -> None:
    """A body reading 'http://127.0.0.1:PORT/feed' is parsed as a (bad) document: feedparser
    never opens it as a URL, so nothing connects to that port."""
    port = listener.getsockname()[1]
    feed = parse(f"http://127.0.0.1:{port}/feed.xml".encode(), None)
    assert feed.error is not None
    assert feed.entries == ()
    with pytest.raises(BlockingIOError):
        listener.accept()


def test_a_body_that_names_a_file_is_not_read(tmp_path: Path) -> None:
    """A body that is the path of a real feed file is a bad document: the file is never read."""
    real = tmp_path / "feed.xml"
    real.write_bytes(atom("<entry><id>secret</id></entry>"))
    feed = parse(str(real).encode(), None)
    assert feed.error is not None
    assert feed.entries == ()
    assert parse(b"/etc/passwd", None).error is not None


def test_parse_feed_names_the_parser_that_read_the_document() -> None:
    """``ParsedFeed.parser`` says which parser read the document: the fast path's name for
    plain RSS 2.0, "feedparser" for what the fast path declines (here RSS 0.91), and both
    readings store the same entry."""
    rss20 = rss("<item><title>a</title><guid>https://example.org/a</guid></item>")
    rss091 = rss20.replace(b'version="2.0"', b'version="0.91"')
    fast, reference = parse(rss20, RSS), parse(rss091, RSS)
    assert (fast.parser, reference.parser) == (FAST_PARSER, "feedparser")
    assert only(fast).key == only(reference).key == "https://example.org/a"
    assert only(fast).title == only(reference).title == "a"


def test_windows_1252_control_characters_read_as_feedparser_maps_them() -> None:
    """C1 control characters in a title become the windows-1252 characters feedparser maps
    them to (U+0096 reads as an en dash), whichever parser reads the document."""
    feed = parse(rss("<item><title>a \u0096 b</title><guid>g</guid></item>"), RSS)
    assert feed.parser == FAST_PARSER
    assert only(feed).title == "a \u2013 b"


def test_a_second_summary_without_content_is_content_as_feedparser_reads_it() -> None:
    """A podcast item's itunes:summary after its description is read as the entry's content
    (feedparser's rule), so its text is what the entry shows."""
    itunes = 'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
    body = rss(
        "<item><guid>g</guid><description>short</description>"
        "<itunes:summary>the long notes</itunes:summary></item>"
    ).replace(b'<rss version="2.0"', f'<rss version="2.0" {itunes}'.encode())
    feed = parse(body, RSS)
    assert feed.parser == FAST_PARSER
    assert only(feed).content_html == "<p>the long notes</p>"


def test_an_atom_source_does_not_leak_into_the_entry() -> None:
    """An entry copied from another feed keeps its own title, link and author; its
    ``source`` (the original feed's title, link and author) is not read into the entry."""
    feed = parse(
        atom(
            "<entry><id>tag:e,1</id><source><title>Origin</title>"
            '<link href="https://origin.example/"/><author><name>Them</name></author>'
            "</source><title>Mine</title><link href='https://e.example/1'/>"
            "<author><name>Me</name></author></entry>"
        )
    )
    assert feed.parser == FAST_PARSER
    entry = only(feed)
    assert (entry.title, entry.link, entry.author) == ("Mine", "https://e.example/1", "Me")


def test_the_last_of_several_authors_is_the_entry_author() -> None:
    """With two authors, feedparser's ``author`` is the last one's, and so is planetd's."""
    feed = parse(
        atom(
            "<entry><id>tag:e,2</id><title>t</title><author><name>First</name></author>"
            "<author><name>Second</name><email>s@e.example</email></author></entry>"
        )
    )
    assert feed.parser == FAST_PARSER
    assert only(feed).author == "Second (s@e.example)"


def test_rss_1_0_items_are_keyed_by_rdf_about() -> None:
    """An RSS 1.0 (RDF) item takes its rdf:about as its id, whichever parser reads it, and
    its dc:date as its update date."""
    body = (
        b'<?xml version="1.0" encoding="utf-8"?>'
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        b' xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        b'<channel rdf:about="https://e.example/"><title>Old school</title>'
        b"<link>https://e.example/</link></channel>"
        b'<item rdf:about="https://e.example/1"><title>One</title>'
        b"<link>https://e.example/1.html</link><dc:date>2026-11-30T10:00:00Z</dc:date>"
        b"<description>&lt;p&gt;Hi&lt;/p&gt;</description></item></rdf:RDF>"
    )
    feed = parse(body, "application/rdf+xml")
    assert (feed.parser, feed.title) == (FAST_PARSER, "Old school")
    entry = only(feed)
    assert (entry.key, entry.link) == ("https://e.example/1", "https://e.example/1.html")
    assert entry.updated == datetime(2026, 11, 30, 10, tzinfo=timezone.utc)
    assert entry.content_html == "<p>Hi</p>"
