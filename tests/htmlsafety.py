"""A test oracle: does this HTML contain anything a browser could run?

It implements the "no live script" invariant of ``shared/corpus/README.md`` and is shared by
every test that looks at planetd output (sanitizer, rendered page, JSON HTML fields).

Why a real HTML5 parser (html5lib) and not substring search: ``&lt;script&gt;`` is harmless
text, while ``<img src="jav&#x09;ascript:…">`` is a live URL that no substring matches. The
checker therefore judges the tree a browser would build, then decodes what a browser (or a
careless consumer) would decode again before looking at URLs and CSS.

This is a plain module with no package assumptions: import it as ``from htmlsafety import
live_script_problems`` (pytest puts ``tests/`` on ``sys.path``) or as ``tests.htmlsafety``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterator
from html import unescape
from typing import Any

import html5lib

__all__ = ["FORBIDDEN_ELEMENTS", "live_script_problems"]

#: Elements that must not appear in entry content. The README's list, plus what planetd chose
#: to drop: forms (``form``/``input``/``button``/``textarea``/``select``, whose ``formaction``
#: and autofocus tricks run script) and SVG/MathML (foreign content, the home of
#: parser-confusion attacks). A page's own template passes its elements through ``allow``.
FORBIDDEN_ELEMENTS = frozenset(
    {
        "script", "iframe", "frame", "frameset", "object", "embed", "applet", "meta", "link",
        "base", "style", "bgsound", "form", "input", "button", "textarea", "select", "svg",
        "math",
    }
)  # fmt: skip

#: Attributes (by local name; ``xlink:href`` is ``href``, ``xml:base`` is ``base``) whose
#: value a browser may load or navigate to.
_URL_ATTRIBUTES = frozenset(
    {
        "href", "src", "action", "formaction", "background", "poster", "data", "dynsrc",
        "lowsrc", "cite", "longdesc", "codebase", "classid", "archive", "profile", "usemap",
        "manifest", "icon", "ping", "base",
    }
)  # fmt: skip

#: Attributes holding several URLs (``srcset``) or SVG animation values that can set an
#: ``href`` (``<animate values="javascript:…">``): a bad scheme anywhere in them counts.
_URL_LIST_ATTRIBUTES = frozenset({"srcset", "imagesrcset", "values", "from", "to", "by"})

_BAD_SCHEMES = ("javascript:", "vbscript:", "data:")
_BAD_CSS = ("expression(", "url(", "behavior", "-moz-binding", "javascript:")

_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|\Z)", re.DOTALL)
_CSS_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})[ \t\n\r\f]?|(\n)|(.))", re.DOTALL)


def _squeeze(value: str) -> str:
    """Lower-case, with every whitespace, control and format character removed."""
    return "".join(
        c for c in value if not c.isspace() and unicodedata.category(c)[0] != "C"
    ).lower()


def _url_forms(value: str) -> set[str]:
    """The ways a URL value may be read: as parsed, and entity-decoded once more."""
    return {_squeeze(value), _squeeze(unescape(value))}


def _css_unescape_one(match: re.Match[str]) -> str:
    """Decode one CSS escape the way a CSS tokenizer does."""
    hex_digits, newline, char = match.groups()
    if newline is not None:
        return ""
    if char is not None:
        return char
    code = int(hex_digits, 16)
    return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"


def _css_forms(value: str) -> set[str]:
    """A style value with comments removed and escapes decoded, in both orders."""
    text = unescape(value)
    return {
        _squeeze(_CSS_ESCAPE.sub(_css_unescape_one, _CSS_COMMENT.sub("", text))),
        _squeeze(_CSS_COMMENT.sub("", _CSS_ESCAPE.sub(_css_unescape_one, text))),
    }


def _local(name: str) -> str:
    """``{namespace}href``, ``xlink:href`` and ``HREF`` all become ``href``.

    Only the known prefixes are removed: a junk name such as ``onclick!#:;`` must keep its
    ``on`` start.
    """
    local = name.rsplit("}", 1)[-1].lower()
    for prefix in ("xlink:", "xml:", "xmlns:"):
        local = local.removeprefix(prefix)
    return local


def _parse(markup: str) -> Any:
    """Parse a whole page as a document and anything else as a body fragment."""
    head = markup.lstrip()[:9].lower()
    if head.startswith(("<!doctype", "<html")):
        return html5lib.parse(markup, treebuilder="etree", namespaceHTMLElements=False)
    return html5lib.parseFragment(markup, treebuilder="etree", namespaceHTMLElements=False)


def _elements(root: Any, within_class: str | None) -> Iterator[Any]:
    """Every element of the tree, or only those inside an element with ``within_class``."""
    stack: list[tuple[Any, bool]] = [(root, within_class is None)]
    while stack:
        element, inside = stack.pop()
        if not isinstance(element.tag, str):  # comments and processing instructions
            continue
        if not inside and within_class is not None:
            inside = within_class in element.get("class", "").split()
        if inside:
            yield element
        stack.extend((child, inside) for child in reversed(element))


def _attribute_problems(tag: str, name: str, value: str) -> Iterator[str]:
    """What is wrong with one attribute, if anything."""
    local = _local(name)
    where = f"<{tag} {name}={value!r}>"
    if local.startswith("on"):
        yield f"{where}: event handler attribute"
    elif local == "srcdoc":
        yield f"{where}: srcdoc carries a whole document"
    elif local == "style":
        for form in _css_forms(value):
            yield from (f"{where}: style contains {bad}" for bad in _BAD_CSS if bad in form)
    elif local in _URL_ATTRIBUTES:
        for form in _url_forms(value):
            yield from (f"{where}: {bad} URL" for bad in _BAD_SCHEMES if form.startswith(bad))
    elif local in _URL_LIST_ATTRIBUTES:
        for form in _url_forms(value):
            yield from (f"{where}: {bad} URL in a list" for bad in _BAD_SCHEMES if bad in form)


def live_script_problems(
    markup: str, *, allow: Collection[str] = (), within_class: str | None = None
) -> list[str]:
    """Describe every way ``markup`` could run script; an empty list means it cannot.

    Args:
        markup: An HTML fragment, or a whole page (recognised by a leading doctype or
            ``<html>``).
        allow: Element names the caller put there on purpose, such as ``{"link", "meta",
            "style"}`` in a page's own ``<head>``. Their attributes are still checked.
        within_class: Only look inside elements carrying this class (for example
            ``"entry-content"``), so a page template's own markup is out of scope.
    """
    forbidden = FORBIDDEN_ELEMENTS - {name.lower() for name in allow}
    problems: list[str] = []
    for element in _elements(_parse(markup), within_class):
        tag = _local(element.tag)
        if tag in forbidden:
            problems.append(f"<{tag}> element")
        for name, value in element.attrib.items():
            problems.extend(sorted(set(_attribute_problems(tag, name, value))))
    return problems
