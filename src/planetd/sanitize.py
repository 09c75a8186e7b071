"""Turn untrusted feed HTML into markup that is safe to put on a planetd page.

This module owns the allow-list (which elements and attributes an article may keep), the URL
policy (only ``http``, ``https`` and ``mailto``, with relative URLs resolved against the entry's
base before they are judged) and the two text extractors used for titles and for filter
matching.

Why nh3 and not feedparser's sanitizer alone: feedparser leaves ``javascript:`` in ``img src``,
``background``, SVG ``xlink:href`` and other attributes it does not check (see
``shared/corpus/xss/README.md``). nh3 wraps ammonia, which parses with html5ever (a spec HTML5
parser) and re-serializes, so the output is canonical markup, and parsing it again gives the
same tree. That is what makes ``sanitize_html`` a fixed point.

Why our own URL pass on top of ammonia's ``url_schemes``: ammonia checks schemes only on a
few attributes (``href``, ``src``, ...) and never on ``cite``; and it checks *before* a relative
URL is resolved. Our pass resolves first, then judges the result, for every URL attribute we
keep. It runs over nh3's output (canonical markup, every value quoted with ``"``) rather than
as nh3's per-attribute callback: one cleaner serves every base URL, and Python runs only for
the attributes that hold URLs. nh3 runs twice only when the input holds markup it must unwrap
or drop (see ``_needs_second_pass``).

This module is pure: it imports nh3, the standard library and :mod:`planetd.trackers` only,
never Twisted or feedparser, so the parse workers can call it from any thread.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from html import unescape
from urllib.parse import urljoin

import nh3

from planetd import trackers

__all__ = ["clean_text", "html_to_text", "plain_text", "sanitize_html", "xml_safe"]

#: Elements an article keeps. Anything else is unwrapped (its text stays) unless it is in
#: ``_DROPPED_WITH_CONTENT``. ``srcset``/``<picture>`` are left out on purpose: a srcset holds
#: several comma-separated URLs whose own syntax allows commas, and checking each one is more
#: risk than an article's responsive images are worth; the ``<img>`` fallback still shows.
_TAGS = frozenset(
    {
        "a", "abbr", "audio", "b", "blockquote", "br", "caption", "cite", "code", "col",
        "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption",
        "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li",
        "mark", "ol", "p", "pre", "q", "s", "samp", "small", "source", "span", "strong", "sub",
        "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "tt",
        "u", "ul", "var", "video", "wbr",
    }
)  # fmt: skip

#: Elements removed together with everything inside them. Script and style text must not turn
#: into visible text; SVG and MathML are dropped whole because foreign content is where
#: parser-confusion (mutation XSS) tricks live; raw-text and form-like elements carry nothing an
#: article reader needs.
_DROPPED_WITH_CONTENT = frozenset(
    {
        "applet", "embed", "frame", "frameset", "iframe", "math", "noembed", "noframes",
        "noscript", "object", "script", "select", "style", "svg", "template", "textarea",
        "title",
    }
)  # fmt: skip

#: Attributes allowed per element; ``"*"`` applies everywhere. No ``style`` (CSS can carry
#: ``url()``, ``expression()`` and layout that overlays the page), no ``id`` (DOM clobbering
#: of the page around the entry), no ``on*``. ``class`` is kept only where Pygments puts it,
#: so code highlighting CSS keeps working.
_ATTRIBUTES: dict[str, frozenset[str]] = {
    "*": frozenset({"title", "lang", "dir"}),
    "a": frozenset({"href"}),
    "audio": frozenset({"src"}),
    "blockquote": frozenset({"cite"}),
    "code": frozenset({"class"}),
    "col": frozenset({"span"}),
    "colgroup": frozenset({"span"}),
    "del": frozenset({"cite", "datetime"}),
    "details": frozenset({"open"}),
    "div": frozenset({"class"}),
    "img": frozenset({"src", "alt", "width", "height"}),
    "ins": frozenset({"cite", "datetime"}),
    "li": frozenset({"value"}),
    "ol": frozenset({"start", "reversed", "type"}),
    "pre": frozenset({"class"}),
    "q": frozenset({"cite"}),
    "source": frozenset({"src", "type"}),
    "span": frozenset({"class"}),
    "table": frozenset({"class"}),
    "td": frozenset({"class", "colspan", "rowspan", "align"}),
    "th": frozenset({"colspan", "rowspan", "align", "scope"}),
    "time": frozenset({"datetime"}),
    "video": frozenset({"src", "poster", "width", "height"}),
}

#: Media always gets the browser's own controls and never autoplays (``autoplay`` is not
#: allowed above), so a feed cannot make the page start playing sound.
_FORCED_ATTRIBUTES = {"audio": {"controls": ""}, "video": {"controls": ""}}

#: Every attribute above whose value is a URL; each goes through ``_judge_url``.
_URL_ATTRIBUTES = frozenset({"href", "src", "cite", "poster"})

_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})

#: What a browser ignores or trims in a URL (WHATWG URL: tabs and newlines anywhere, C0
#: controls and spaces at both ends); we remove the same before resolving.
_URL_TAB_NEWLINE = re.compile("[\t\n\r]")
_URL_TRIM = "".join(map(chr, range(0x21)))
_SCHEME_NAME = re.compile(r"[a-z][a-z0-9+.\-]*")
_ASCII_IGNORED = dict.fromkeys([*range(0x21), 0x7F])

#: C0 controls (except the HTML whitespace ones) and lone surrogates: never meaningful in an
#: article, invalid in XML, and a lone surrogate cannot even be handed to nh3 (Rust strings).
_JUNK = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f\ud800-\udfff]")

#: What XML 1.0 cannot carry (C0 controls but tab, newline and CR; lone surrogates; U+FFFE,
#: U+FFFF) plus DEL. Character references (``&#x1a;``) decode to these inside nh3, so the
#: output is cleaned too, not only the input.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """``text`` without the characters XML cannot carry; a form feed becomes a space."""
    return _NOT_XML.sub("", text.replace("\x0c", " "))


_TAG = re.compile(r"<[^>]*>")

#: A ``<pre>`` start tag as html5ever serializes it: every attribute quoted with ``"``, which
#: never occurs raw inside a value. Neither text nor a value holds a raw ``<``, so every match
#: is a real tag.
_PRE_START_TAG = re.compile(r'<pre(?:\s[^\s=>]+="[^"]*")*>')

#: Elements whose boundaries separate words in the visible text (``<p>a</p><p>b</p>`` reads
#: "a b", not "ab").
_TEXT_BREAKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "div",
        "dl", "dt", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table",
        "td", "th", "tr", "ul",
    }
)  # fmt: skip


def _scheme(value: str) -> str | None:
    """The scheme ``value`` would be read with, lower-cased, or None for a relative URL.

    This is deliberately harsher than a browser: every whitespace, control and format
    character is ignored, so "java", a zero-width space, then "script:" counts as
    ``javascript`` even though a browser would read it as a relative path; dropping such a
    link is cheaper than arguing about it. A scheme ends at the first colon, so only the
    text before it is looked at.
    """
    head, colon, _ = value.partition(":")
    if not colon:
        return None
    if head.isascii():
        name = head.translate(_ASCII_IGNORED).lower()
    else:
        name = "".join(
            c for c in head if not c.isspace() and unicodedata.category(c)[0] != "C"
        ).lower()
    return name if _SCHEME_NAME.fullmatch(name) else None


def _unsafe_scheme(value: str) -> bool:
    """Whether ``value``, as given or entity-decoded once more, has a scheme we refuse.

    The extra unescape catches double-encoded tricks (``&amp;#106;avascript:``) that a
    browser would not run but that a consumer who unescapes again would.
    """
    candidates = (value, unescape(value)) if "&" in value else (value,)
    for candidate in candidates:
        scheme = _scheme(candidate)
        if scheme is not None and scheme not in _SAFE_SCHEMES:
            return True
    return False


def _judge_url(value: str, base_url: str | None) -> str | None:
    """Return the absolute (or, without a base, relative) URL to emit, or None to drop it.

    The order matters: resolve first, then judge the result, so that a relative reference can
    never end up pointing at a scheme we did not check.
    """
    url = _URL_TAB_NEWLINE.sub("", value).strip(_URL_TRIM)
    if _unsafe_scheme(url):
        return None
    if _scheme(url) is None:
        # A relative reference: browsers read "\" as "/" in http(s) URLs.
        url = url.replace("\\", "/")
        try:
            if base_url:
                url = urljoin(base_url, url)
            elif url.startswith("//"):
                url = "https:" + url
        except ValueError:  # e.g. a malformed IPv6 host: not worth keeping
            return None
        if _unsafe_scheme(url):  # a base with an odd scheme (file:, feed:) spreads to the URL
            return None
    return url


#: The article cleaner: one for every base URL, since URLs are judged after it runs.
_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags=_DROPPED_WITH_CONTENT,
    attributes=_ATTRIBUTES,
    strip_comments=True,
    link_rel="noopener noreferrer",
    set_tag_attribute_values=_FORCED_ATTRIBUTES,
    url_schemes=_SAFE_SCHEMES,
)

#: The name of every start or end tag, as a tokenizer reads it.
_TAG_NAME = re.compile(r"</?([A-Za-z][^\t\n\f\r />]*)")
#: Tags whose presence still lets one nh3 pass do: the allowed ones, and the raw-text
#: elements the cleaner drops whole.
_ONE_PASS_TAGS = _TAGS | {"script", "style", "iframe"}
#: An end tag opener not followed by a letter: a bogus comment to a tokenizer.
_BOGUS_END = re.compile(r"</(?![A-Za-z])")

#: A start tag of the cleaner's output that carries a URL attribute. Every value is quoted
#: with ``"``, which never occurs raw inside one, so the match cannot run past the tag.
_URL_TAG = re.compile(
    r'<[a-z][a-z0-9]*(?:\s[^\s=>]+="[^"]*")*?\s(?:href|src|cite|poster)="[^"]*"'
    r'(?:\s[^\s=>]+="[^"]*")*>'
)
#: What html5ever escapes in an attribute value (``&`` first when escaping, last when not).
_ATTRIBUTE_ESCAPES = (
    ("&amp;", "&"),
    ("&nbsp;", "\xa0"),
    ("&quot;", '"'),
    ("&lt;", "<"),
    ("&gt;", ">"),
)
_ATTRIBUTE = re.compile(r'\s([^\s=>]+)="([^"]*)"')


def _needs_second_pass(source: str) -> bool:
    """Whether cleaning ``source`` may unwrap or drop markup (and so need a second parse).

    When every tag in ``source`` is allowed and it holds no comment or declaration, the
    cleaner only drops attributes, and whole ``script``, ``style`` and ``iframe`` elements
    (raw text to the parser, so nothing inside them was ever markup): its output is the
    serialization of a tree the parser built, less whole subtrees, which parses back to
    the same tree. Scripts and embedded players are common in feeds; unwrapping is not.
    """
    if "<!" in source or "<?" in source or _BOGUS_END.search(source):
        return True  # a comment, doctype, CDATA or bogus comment
    return not all(name.lower() in _ONE_PASS_TAGS for name in set(_TAG_NAME.findall(source)))


def _unquote(value: str) -> str:
    """An attribute value as html5ever serialized it, decoded (it escapes only these)."""
    if "&" not in value:
        return value
    for reference, character in _ATTRIBUTE_ESCAPES[1:]:
        value = value.replace(reference, character)
    return value.replace("&amp;", "&")


def _quote(value: str) -> str:
    """``value`` escaped as html5ever escapes an attribute value."""
    value = value.replace("&", "&amp;")
    for reference, character in _ATTRIBUTE_ESCAPES[1:]:
        value = value.replace(character, reference)
    return value


#: An absolute http(s) URL with nothing to trim, decode or resolve: ``_judge_url`` keeps it
#: as it is (no whitespace or control character anywhere, no ``&`` to decode once more).
_PLAIN_URL = re.compile(r"(?i)https?://[^\x00-\x20\x7f&]*\Z")

#: The URL attributes ammonia checks against ``url_schemes`` (never ``cite``).
_AMMONIA_CHECKED = frozenset({"href", "src", "poster"})

#: Ammonia's URL check alone, for a value our judgement changed.
_URL_CHECK = nh3.Cleaner(
    tags={"a"}, attributes={"a": {"href"}}, url_schemes=_SAFE_SCHEMES, link_rel=None
)


def _ammonia_keeps(url: str) -> bool:
    """Whether ammonia keeps ``url`` in a URL attribute.

    It drops an absolute URL that its parser rejects (a space in the host, a bad port), as
    it did when a second nh3 pass read the judged URLs. Only the scheme and authority can
    make that parser fail (it escapes whatever the path, query or fragment hold), so an
    absolute URL with an authority is judged by its origin, which a feed's URLs share. An
    empty authority is judged whole: WHATWG parsers skip extra slashes (``http:///host``).
    """
    origin = _ORIGIN.match(url)
    if origin is not None and not origin.group(0).endswith("//"):
        return _ammonia_keeps_origin(origin.group(0))
    return "href" in _URL_CHECK.clean(f'<a href="{_quote(url)}"></a>')


#: A URL's scheme and authority (what follows ends at the first ``/``, ``\\``, ``?`` or ``#``).
_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^/\\?#]*")


@functools.lru_cache(maxsize=256)
def _ammonia_keeps_origin(origin: str) -> bool:
    return "href" in _URL_CHECK.clean(f'<a href="{_quote(origin)}/"></a>')


def _judge_urls(clean: str, base_url: str | None) -> str:
    """Pass every URL attribute of the cleaner's output through ``_judge_url``."""

    def judge_attribute(match: re.Match[str]) -> str:
        name, value = match.group(1), match.group(2)
        if name not in _URL_ATTRIBUTES:
            return match.group(0)
        if _PLAIN_URL.match(value):
            return match.group(0)  # what _judge_url returns unchanged, known without it
        given = _unquote(value)
        url = _judge_url(given, base_url)
        if url is None or (url != given and name in _AMMONIA_CHECKED and not _ammonia_keeps(url)):
            return ""
        return f' {name}="{_quote(url)}"'

    def judge_tag(match: re.Match[str]) -> str:
        return _ATTRIBUTE.sub(judge_attribute, match.group(0))

    return _URL_TAG.sub(judge_tag, clean)


#: Keeps only the elements that separate words, without attributes, so that every ``<`` left
#: in its output starts one of those tags (text ``<`` is serialized as ``&lt;``).
_TEXT_CLEANER = nh3.Cleaner(
    tags=_TEXT_BREAKS,
    clean_content_tags=_DROPPED_WITH_CONTENT,
    attributes={},
    link_rel=None,
)


def _keep_pre_newline(clean: str) -> str:
    """Write one newline after every ``<pre>`` start tag of nh3's output.

    An HTML parser drops one newline right after ``<pre>``, and html5ever does not write it
    back, so a code block starting with a blank line would lose a line on every pass.
    """
    return _PRE_START_TAG.sub("\\g<0>\n", clean) if "<pre" in clean else clean


def sanitize_html(html: str, base_url: str | None, *, strip_trackers: bool = True) -> str:
    """Return ``html`` reduced to the article allow-list, with every URL absolute and safe.

    Args:
        html: An untrusted HTML fragment (an entry's content or summary).
        base_url: What relative URLs in ``html`` are relative to (the entry's ``xml:base`` or
            the feed's URL). Without it, relative URLs stay relative, which is safe because
            they can only resolve to the page's own http(s) origin.
        strip_trackers: Drop tracking images and links' tracking parameters
            (:mod:`planetd.trackers`).

    The result is a fixed point: sanitizing it again with the same base gives it back.
    """
    source = _JUNK.sub("", html)
    if strip_trackers:
        source = trackers.drop_styled_pixels(source)
    clean = _keep_pre_newline(_CLEANER.clean(source))
    if _needs_second_pass(source):
        # Unwrapping a dropped element can leave a tree that no parser would build: from
        # "<li><listing>x<li>y" the first pass keeps an <li> inside an <li>, and that markup
        # parses as two sibling items. The second pass parses the first one's output the way
        # every later reader will, so the result is what a browser (or the next sanitize) sees.
        clean = _keep_pre_newline(_CLEANER.clean(clean))
    # Judged after the parse passes, which move elements but never change a value.
    clean = _judge_urls(clean, base_url)
    return xml_safe(trackers.strip_trackers(clean) if strip_trackers else clean)


def _collapse(text: str) -> str:
    """One space between words, none at the ends, no control characters."""
    return " ".join(_JUNK.sub("", text).split())  # split() and re's \s agree on whitespace


def html_to_text(html: str) -> str:
    """Return the text a reader sees in an HTML fragment, in one line.

    Used to match filter/exclude patterns against what a reader would read, so script and
    style contents do not count, and block boundaries count as spaces.
    """
    if "<" not in html and "&" not in html:
        return _collapse(html)  # no markup and no references: nothing for a parser to do
    marked = _TEXT_CLEANER.clean(_JUNK.sub("", html))
    return _collapse(unescape(_TAG.sub(" ", marked)))


#: Tags of ``sanitize_html``'s output (every attribute quoted with ``"``, which never occurs
#: raw inside a value): those that separate words, then any.
_CLEAN_BREAK_TAG = re.compile("</?(?:" + "|".join(sorted(_TEXT_BREAKS)) + r")\b[^>]*>")
_CLEAN_TAG = re.compile(r"<[^>]*>")


def clean_text(clean: str) -> str:
    """``html_to_text`` of ``sanitize_html``'s output, without parsing it again.

    That output is canonical: comments and dropped elements are gone, and neither text nor
    an attribute value holds a raw ``<`` or ``>`` (html5ever escapes both, and so does
    ``_quote``). So removing the tags (a space for
    those that separate words) reads the same text as ``html_to_text`` does, at a fraction
    of its cost. Only call it on ``sanitize_html``'s output.
    """
    # No _collapse: xml_safe already removed every character it would (and more), and the
    # only references html5ever writes in text are &amp;, &lt;, &gt; and &nbsp;.
    return " ".join(unescape(_CLEAN_TAG.sub("", _CLEAN_BREAK_TAG.sub(" ", clean))).split())


def plain_text(value: str) -> str:
    """Return a title or name as plain text: tags stripped, entities decoded once, one line.

    feedparser may hand over a title as HTML-ish text; the page escapes it again on output
    (Jinja2 autoescape), so all this needs is the words a reader would have seen. That is
    exactly ``html_to_text``: one rule for "visible text" serves titles and filters alike,
    so a ``<script>`` or ``<style>`` body never turns into title words.
    """
    return html_to_text(value)
