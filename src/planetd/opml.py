"""OPML in: the outlines of a subscription list, and the feed sections an import appends.

Owns what ``planetd opml import`` reads from an OPML document (every outline
with a feed URL, nested ones included) and what it would append to a config:
only ``http:``/``https:`` feeds the config lacks, each as a ``[URL]`` section
with its ``name``, in the config's own line endings, so the existing text is
kept byte for byte. It decides; the command reads and writes the files.

Pure: bytes in, plain values out. It must not import Twisted or ``sqlite3``
and does no file I/O (the command opens the files, so their errors name them).
OPML *out* is a page like any other: :meth:`planetd.render.Renderer.opml`.
"""

from __future__ import annotations

from collections.abc import Iterable
from xml.etree import ElementTree

import attrs

#: The only schemes ``opml import`` adds: an OPML file must not make a planet
#: read (and publish) local files, so ``file:`` feeds are added by hand only.
IMPORT_SCHEMES = ("http://", "https://")


class OpmlError(ValueError):
    """A document that is not OPML, said without its file name (the caller knows it)."""


@attrs.frozen
class Outline:
    """One outline that names a feed: its ``xmlUrl`` and its text (whitespace collapsed)."""

    url: str
    name: str


def parse_opml(data: bytes) -> list[Outline]:
    """Every outline that has a feed URL, nested ones included, in document order.

    Raises:
        OpmlError: The bytes are not well-formed XML, or their root is not ``<opml>``.
    """
    try:
        # The OPML is the operator's own file; expat neither fetches external
        # entities nor expands entity bombs past its amplification limit.
        root = ElementTree.fromstring(data)  # noqa: S314 - see above
    except ElementTree.ParseError as e:
        raise OpmlError(f"not well-formed XML, so not OPML ({e})") from None
    if _local(root.tag) != "opml":
        raise OpmlError(f"not OPML (its root element is <{_local(root.tag)}>)")
    found = []
    for outline in root.iter():
        if _local(outline.tag) != "outline":
            continue
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if url:
            name = outline.get("text") or outline.get("title") or ""
            found.append(Outline(url=url, name=" ".join(name.split())))
    return found


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def usable_url(url: str) -> bool:
    """An ``http(s)`` URL that fits on one line of an INI section header."""
    return (
        url.startswith(IMPORT_SCHEMES) and url.isprintable() and not any(c.isspace() for c in url)
    )


@attrs.frozen
class AppendPlan:
    """What an import appends to a config, and what it skipped."""

    #: The feeds to add, in the OPML's order, each once.
    added: tuple[Outline, ...]
    #: Outlines whose URL the config (or an earlier outline) already has.
    already: int
    #: Outlines whose URL is not an http(s) URL that a section header can hold.
    unusable: int
    #: The text to append after the config's last byte ("" when nothing is added).
    text: str


def plan_append(original: bytes, present: Iterable[str], outlines: Iterable[Outline]) -> AppendPlan:
    """The feed sections to append to a config whose text is ``original``.

    ``present`` are the URLs the config already subscribes to. The sections use
    the config's line endings (CRLF if it has any), and start on a line of their
    own when the config does not end with a newline.
    """
    seen = set(present)
    added: list[Outline] = []
    already = unusable = 0
    for outline in outlines:
        if not usable_url(outline.url):
            unusable += 1
        elif outline.url in seen:
            already += 1
        else:
            seen.add(outline.url)
            added.append(outline)
    newline = "\r\n" if b"\r\n" in original else "\n"
    text = "".join(
        f"{newline}[{o.url}]{newline}" + (f"name = {o.name}{newline}" if o.name else "")
        for o in added
    )
    if added and original and not original.endswith(b"\n"):
        text = newline + text
    return AppendPlan(added=tuple(added), already=already, unusable=unusable, text=text)
