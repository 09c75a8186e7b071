"""Full-text search, the pure half: a reader's words to a safe FTS5 query, hits to HTML.

Owns the search language readers type and how it becomes an SQLite FTS5
``MATCH`` expression: plain words (all must match), ``"quoted phrases"``,
``-word`` or ``-"a phrase"`` (must not match) and ``word*`` (a prefix of at
least :data:`MIN_PREFIX` characters). Every term is quoted before it reaches
FTS5, so no reader's text is ever FTS5 syntax: a column filter, ``NEAR``,
``OR``, a stray ``"`` or ``(`` are words, and a query FTS5 would reject
degrades to plain words instead of an error. Also owns the limits (query
length, number of terms), the choice of index (words with CJK characters go
to the trigram index, see the README's "Search"), the cursor of a results page,
and turning FTS5's ``snippet()`` output into HTML: the text is escaped first
and only then are the private markers around each hit replaced with
``<mark>``, so nothing in an entry's text can become markup.

Pure functions over strings; must not import Twisted, SQLite or Jinja2.
"""

from __future__ import annotations

import base64
import binascii
import html
import re

from planetd.boundaries import SearchQuery

__all__ = [
    "HIT_END",
    "HIT_START",
    "MAX_QUERY_CHARS",
    "MAX_TERMS",
    "MIN_PREFIX",
    "SearchSyntaxError",
    "decode_search_cursor",
    "encode_search_cursor",
    "highlight_html",
    "parse_query",
]

#: The longest query accepted, in characters.
MAX_QUERY_CHARS = 256
#: The most terms (words, phrases, exclusions) a query may hold.
MAX_TERMS = 16
#: A prefix ``word*`` needs this many characters; a shorter one is a plain word.
MIN_PREFIX = 2
#: The private markers FTS5 puts around a hit; :func:`planetd.sanitize.xml_safe`
#: strips both from every stored text, so only FTS5 can have put them there.
HIT_START = "\x02"
HIT_END = "\x03"

# A term: an optional "-", then a quoted phrase (closed or not) or a run of non-space.
_TERM = re.compile(r'(-?)(?:"([^"]*)("?)|(\S+))')
# Characters of the scripts that do not separate words with spaces.
_CJK = re.compile("[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]")
# The trigram index cannot match a term shorter than three characters.
_TRIGRAM_MIN = 3


class SearchSyntaxError(ValueError):
    """A query planetd will not run (empty, too long, only exclusions); says why."""


def _has_word(text: str) -> bool:
    """True if ``text`` holds a letter or digit (something a tokenizer keeps)."""
    return any(c.isalnum() for c in text)


def _fts_string(text: str) -> str:
    """``text`` as an FTS5 string: in double quotes, inner quotes doubled."""
    return '"' + text.replace('"', '""') + '"'


def parse_query(text: str) -> SearchQuery:
    """The FTS5 expression for what a reader typed, or :class:`SearchSyntaxError`.

    Words must all match; ``"..."`` is a phrase; a leading ``-`` excludes; a
    trailing ``*`` makes a prefix. Anything else FTS5 would read as syntax
    is taken as a plain word.
    """
    words = " ".join(text.split())
    if len(words) > MAX_QUERY_CHARS:
        raise SearchSyntaxError(f"a search is at most {MAX_QUERY_CHARS} characters")
    terms: list[tuple[str, bool, bool]] = []  # (text, prefix, excluded)
    for match in _TERM.finditer(words):
        minus, phrase, _closed, word = match.groups()
        if phrase is not None:
            body, prefix = phrase.strip(), False
        else:
            body = word.strip('"')
            prefix = body.endswith("*") and len(body.rstrip("*")) >= MIN_PREFIX
            body = body.rstrip("*")
        if _has_word(body):
            terms.append((body, prefix, bool(minus)))
    if len(terms) > MAX_TERMS:
        raise SearchSyntaxError(f"a search holds at most {MAX_TERMS} words or phrases")
    shown = tuple(body for body, _, excluded in terms if not excluded)
    if not shown:
        raise SearchSyntaxError(
            "a search needs a word that is not excluded"
            if terms
            else "type at least one word to search for"
        )
    cjk = [body for body, _, _ in terms if _CJK.search(body)]
    # Every term of a query with CJK words goes to the trigram index when it can
    # match there (a substring search, so a prefix star means nothing there).
    trigram = bool(cjk) and all(len(body) >= _TRIGRAM_MIN for body, _, _ in terms)
    # Otherwise (a CJK word under three characters) a CJK word matches as the start of a
    # run of CJK text, the unit the main index keeps.
    fts = [
        (_fts_string(b) + ("*" if not trigram and (p or _CJK.search(b)) else ""), x)
        for b, p, x in terms
    ]
    include = [term for term, excluded in fts if not excluded]
    exclude = [term for term, excluded in fts if excluded]
    positive = "(" + " AND ".join(include) + ")"
    expression = positive
    if exclude:
        expression += " NOT (" + " OR ".join(exclude) + ")"
    return SearchQuery(
        text=words,
        expression=expression,
        trigram=trigram,
        words=shown,
        include=positive,
        terms=tuple(term for term, _ in fts),
    )


def highlight_html(snippet: str) -> str:
    """A snippet with hit markers as safe HTML: escaped first, then each hit in ``<mark>``.

    Markers that do not pair up (a start inside a hit, an end outside one)
    are dropped, and a hit left open at the end is closed, so the result is
    always balanced.
    """
    out: list[str] = []
    inside = False
    for part in re.split(f"([{HIT_START}{HIT_END}])", snippet):
        if part == HIT_START:
            if not inside:
                out.append("<mark>")
                inside = True
        elif part == HIT_END:
            if inside:
                out.append("</mark>")
                inside = False
        else:
            out.append(html.escape(part, quote=True))
    if inside:
        out.append("</mark>")
    return "".join(out)


_CURSOR_PREFIX = "s"
_MAX_OFFSET = 100_000


def encode_search_cursor(offset: int) -> str:
    """An opaque cursor naming the place ``offset`` in a query's ranked results."""
    raw = f"{_CURSOR_PREFIX}{offset}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_search_cursor(text: str) -> int:
    """The offset a search cursor names; :class:`SearchSyntaxError` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    digits = raw[len(_CURSOR_PREFIX) :]
    if not raw.startswith(_CURSOR_PREFIX) or not digits.isdigit() or len(digits) > 6:
        raise SearchSyntaxError(f"not a search cursor from this planet: {text[:60]!r}")
    offset = int(digits)
    if offset > _MAX_OFFSET:
        raise SearchSyntaxError(f"not a search cursor from this planet: {text[:60]!r}")
    return offset
