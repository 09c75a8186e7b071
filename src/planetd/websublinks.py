"""WebSub discovery: the hub and self URLs a feed names, from its headers or its body.

Owns reading HTTP ``Link`` headers (RFC 8288) for ``rel="hub"`` and
``rel="self"``, and the rule that combines them with the ``atom:link``
elements the parsers read (W3C WebSub §4): the headers win when they name a
hub, else the document's links are used; the topic is the self URL, else the
URL the document came from. Only absolute http(s) URLs count. The fetcher
calls :func:`link_relations` on a response's headers; both parsers fill
``RawFeed.hub``/``self_url``; the poller asks :func:`discovered` for what to
report.

Pure: the standard library and :mod:`planetd.boundaries` only; no Twisted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit

import attrs

from planetd.boundaries import FetchResult, ParsedFeed

# One link-value: <target> followed by its parameters, up to the next comma outside quotes.
_LINK = re.compile(r'<([^>]*)>((?:\s*;\s*[^;,"=\s]+\s*(?:=\s*(?:"[^"]*"|[^;,"]*))?)*)')
_PARAM = re.compile(r';\s*([^;=\s]+)\s*(?:=\s*(?:"([^"]*)"|([^;,]*)))?')


@attrs.frozen
class Discovery:
    """What a feed says about push: its hub and the topic to subscribe to."""

    hub: str
    topic: str


def web_url(value: str | None, base: str) -> str | None:
    """``value`` resolved against ``base`` if it is then an absolute http(s) URL."""
    if not value:
        return None
    try:
        joined = urljoin(base, value.strip())
        parts = urlsplit(joined)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return joined


def link_relations(values: Iterable[str], base: str) -> tuple[str | None, str | None]:
    """The first ``rel=hub`` and ``rel=self`` targets of ``Link`` header values."""
    hub: str | None = None
    self_url: str | None = None
    for value in values:
        for match in _LINK.finditer(value):
            rels: list[str] = []
            for param in _PARAM.finditer(match.group(2)):
                if param.group(1).lower() == "rel":
                    rels.extend((param.group(2) or param.group(3) or "").lower().split())
            target = web_url(match.group(1), base)
            if target is None:
                continue
            if "hub" in rels and hub is None:
                hub = target
            if "self" in rels and self_url is None:
                self_url = target
    return hub, self_url


def discovered(url: str, fetched: FetchResult, parsed: ParsedFeed | None) -> Discovery | None:
    """The hub and topic of a fetched (or pushed) document, or None if it names no hub.

    Headers first, as WebSub §4 asks; then the document's ``atom:link``.
    """
    if fetched.hub:
        hub, self_url = fetched.hub, fetched.self_url
    elif parsed is not None and parsed.hub:
        hub, self_url = parsed.hub, parsed.self_url
    else:
        return None
    topic = self_url or fetched.final_url or url
    return Discovery(hub=hub, topic=topic)
