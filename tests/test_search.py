"""The search language and the snippet HTML: pure functions, no SQLite."""

from __future__ import annotations

import pytest

from planetd.search import (
    HIT_END,
    HIT_START,
    MAX_QUERY_CHARS,
    MAX_TERMS,
    SearchSyntaxError,
    decode_search_cursor,
    encode_search_cursor,
    highlight_html,
    parse_query,
)


def test_plain_words_must_all_match_and_are_quoted() -> None:
    """Each plain word becomes a quoted FTS5 string; all of them must match."""
    query = parse_query("asyncio  event   loop")
    assert query.expression == '("asyncio" AND "event" AND "loop")'
    assert query.text == "asyncio event loop"
    assert query.words == ("asyncio", "event", "loop")
    assert not query.trigram


def test_a_quoted_phrase_stays_one_phrase() -> None:
    """Words in double quotes are one FTS5 phrase."""
    assert parse_query('"event loop" python').expression == '("event loop" AND "python")'


def test_a_minus_excludes_a_word_or_a_phrase() -> None:
    """``-word`` and ``-"a phrase"`` become a NOT of everything excluded."""
    query = parse_query('asyncio -trio -"curio kernel"')
    assert query.expression == '("asyncio") NOT ("trio" OR "curio kernel")'
    assert query.words == ("asyncio",)


def test_a_trailing_star_is_a_prefix() -> None:
    """``async*`` matches words starting with async; a one-letter prefix is a plain word."""
    assert parse_query("async*").expression == '("async"*)'
    assert parse_query("a* b").expression == '("a" AND "b")'


@pytest.mark.parametrize(
    "typed",
    [
        "title: foo",
        'foo" bar',
        '"unclosed phrase',
        "NEAR(a b)",
        "a OR b AND NOT c",
        "(((",
        "^start",
        "col:umn*",
        '""""',
        "a\"b'c",
        "+-*/",
        "foo -",
    ],
)
def test_fts5_syntax_is_never_passed_through(typed: str) -> None:
    """Whatever a reader types, every term reaches FTS5 inside a quoted string: operators,
    column filters and stray quotes are words, never syntax."""
    try:
        query = parse_query(typed)
    except SearchSyntaxError:
        return  # nothing searchable left: refused with a message, not a crash
    inner = query.expression
    # Strip the quoted strings: what is left is only planetd's own syntax.
    outside = ""
    quoted = False
    i = 0
    while i < len(inner):
        c = inner[i]
        if c == '"':
            if quoted and inner[i + 1 : i + 2] == '"':
                i += 2
                continue
            quoted = not quoted
        elif not quoted:
            outside += c
        i += 1
    assert not quoted
    assert set(outside.replace("AND", "").replace("NOT", "").replace("OR", "")) <= set("() *")


def test_an_unclosed_quote_reads_the_rest_as_a_phrase() -> None:
    """A quote left open takes the words after it as a phrase instead of failing."""
    assert parse_query('python "event loop').expression == '("python" AND "event loop")'


def test_empty_and_only_excluded_queries_are_refused_with_a_reason() -> None:
    """A query with nothing to look for says so (a 400 on the web, a line on the CLI)."""
    with pytest.raises(SearchSyntaxError, match="at least one word"):
        parse_query("  ")
    with pytest.raises(SearchSyntaxError, match="not excluded"):
        parse_query("-spam -eggs")


def test_long_queries_and_too_many_terms_are_refused() -> None:
    """The limits: a query of at most MAX_QUERY_CHARS characters and MAX_TERMS terms."""
    with pytest.raises(SearchSyntaxError, match="characters"):
        parse_query("a" * (MAX_QUERY_CHARS + 1))
    with pytest.raises(SearchSyntaxError, match="words or phrases"):
        parse_query(" ".join(f"w{n}" for n in range(MAX_TERMS + 1)))
    assert parse_query(" ".join(f"w{n}" for n in range(MAX_TERMS)))


def test_cjk_words_of_three_characters_use_the_trigram_index() -> None:
    """A CJK word of three or more characters searches the trigram index (as a substring);
    a shorter one searches the main index as the start of a run of CJK text."""
    long = parse_query("東京都")
    assert long.trigram and long.expression == '("東京都")'
    short = parse_query("東京")
    assert not short.trigram and short.expression == '("東京"*)'


def test_highlight_escapes_first_then_marks() -> None:
    """The snippet's text is escaped, and only the markers FTS5 put there become <mark>."""
    snippet = f'<script>alert(1)</script> {HIT_START}asyncio{HIT_END} & "more"'
    assert highlight_html(snippet) == (
        "&lt;script&gt;alert(1)&lt;/script&gt; <mark>asyncio</mark> &amp; &quot;more&quot;"
    )


def test_highlight_is_always_balanced() -> None:
    """Stray or nested markers never produce unbalanced or nested <mark> tags."""
    assert highlight_html(f"{HIT_END}a{HIT_START}b{HIT_START}c") == "a<mark>bc</mark>"


def test_search_cursors_round_trip_and_foreign_ones_are_refused() -> None:
    """A results page's cursor names its offset; anything planetd did not make is an error."""
    assert decode_search_cursor(encode_search_cursor(40)) == 40
    for bad in ("", "!!!", encode_search_cursor(10**7), "cTEy"):
        with pytest.raises(SearchSyntaxError):
            decode_search_cursor(bad)
