"""Which images are tracking pixels and which link parameters only track the reader.

Owns the tracker rules, in one place: a feed's tracking image makes every reader's
browser call the tracker, and ``utm_*`` parameters tell a site where its reader
came from. With ``strip_trackers`` on (the default; ``strip_trackers = no`` in
``[Planet]`` turns it off) the sanitizer drops

* images of 1x1 pixels or none: ``width`` or ``height`` of ``0``, or both of ``1``
  (or one ``1`` and the other absent), or a ``style`` setting either to
  ``0``/``1px`` or hiding the image (a 600x1 divider stays);
* images served from a known tracker (:data:`TRACKER_IMAGES`: FeedBurner's
  ``/~r/`` and ``/~ff/`` images, feedproxy, WordPress.com's stats pixels);

and links in content and entry links lose the query parameters named in
:data:`TRACKING_PARAMETERS` (or starting with a prefix in
:data:`TRACKING_PREFIXES`), as Miniflux does. Every other part of a URL is kept
byte for byte.

Pure: the standard library only. :mod:`planetd.sanitize` calls it on the
cleaner's canonical markup (every attribute value quoted with ``"``, ``&``
written ``&amp;``), :mod:`planetd.entryrules` on entry links; both parse paths
end there, so they cannot differ.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = [
    "TRACKER_IMAGES",
    "TRACKING_PARAMETERS",
    "TRACKING_PREFIXES",
    "drop_styled_pixels",
    "is_tracker_image",
    "strip_trackers",
    "strip_tracking_parameters",
]

#: ``(host, path prefix)`` of images that exist only to count readers.
TRACKER_IMAGES: tuple[tuple[str, str], ...] = (
    ("feeds.feedburner.com", "/~r/"),
    ("feeds.feedburner.com", "/~ff/"),
    ("feedproxy.google.com", "/~r/"),
    ("feedproxy.google.com", "/~ff/"),
    ("feeds.wordpress.com", "/1.0/"),
    ("pixel.wp.com", "/"),
    ("stats.wordpress.com", "/"),
    ("pixel.quantserve.com", "/"),
    ("www.google-analytics.com", "/"),
)

#: Query parameters that identify a campaign or a click, never the page.
TRACKING_PARAMETERS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id",
        "oly_enc_id", "vero_id", "rb_clickid", "s_cid", "wickedid",
    }
)  # fmt: skip

#: Query parameter prefixes that do the same (``utm_source``, ``utm_medium``...).
TRACKING_PREFIXES = ("utm_",)


def is_tracker_image(src: str) -> bool:
    """Whether an image at ``src`` (an absolute URL) is served by a known tracker."""
    try:
        parts = urlsplit(src)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    return any(host == h and parts.path.startswith(p) for h, p in TRACKER_IMAGES)


def _tracking(parameter: str) -> bool:
    name = parameter.split("=", 1)[0].lower()
    return name in TRACKING_PARAMETERS or name.startswith(TRACKING_PREFIXES)


def strip_tracking_parameters(url: str, separator: str = "&") -> str:
    """``url`` without its tracking query parameters; unchanged when it has none.

    ``separator`` is what separates parameters in ``url`` as given: ``&``, or
    ``&amp;`` in a value of the sanitizer's markup.
    """
    head, mark, rest = url.partition("?")
    if not mark:
        return url
    query, hash_mark, fragment = rest.partition("#")
    parameters = query.split(separator)
    kept = [p for p in parameters if not _tracking(p)]
    if len(kept) == len(parameters):
        return url
    return head + ("?" + separator.join(kept) if kept else "") + hash_mark + fragment


#: An ``<img>`` or ``<a>`` start tag of the cleaner's output.
_TAG = re.compile(r'<(img|a)((?:\s[^\s=>]+="[^"]*")*)\s*/?>')
_ATTRIBUTE = re.compile(r'\s([^\s=>]+)="([^"]*)"')
_NONE = frozenset({"0", "0px"})
_ONE = frozenset({"1", "1px"})


def _pixel_sized(width: str | None, height: str | None) -> bool:
    """Whether an image's ``width`` and ``height`` attributes make it 1x1 or invisible."""
    if width in _NONE or height in _NONE:
        return True
    given = [size for size in (width, height) if size is not None]
    return bool(given) and all(size in _ONE for size in given)


def _drop_or_clean(match: re.Match[str]) -> str:
    attributes = dict(_ATTRIBUTE.findall(match.group(2)))
    if match.group(1) == "img":
        width, height = attributes.get("width"), attributes.get("height")
        src = attributes.get("src", "").replace("&amp;", "&")
        sized = _pixel_sized(width and width.strip(), height and height.strip())
        if sized or (src and is_tracker_image(src)):
            return ""
        return match.group(0)
    href = attributes.get("href")
    if href is None or "?" not in href:
        return match.group(0)
    stripped = strip_tracking_parameters(href, "&amp;")
    if stripped == href:
        return match.group(0)
    return match.group(0).replace(f' href="{href}"', f' href="{stripped}"', 1)


def strip_trackers(clean: str) -> str:
    """The cleaner's markup without tracking images, its links without tracking parameters."""
    if "<img" not in clean and "?" not in clean:
        return clean
    return _TAG.sub(_drop_or_clean, clean)


#: An ``<img>`` tag of untrusted markup whose quoted ``style`` makes it 1x1 or invisible.
#: Read before the cleaner drops ``style``; a tag this misses is only a pixel kept.
#: Every repetition is bounded, so hostile markup cannot make the search quadratic.
_STYLED_PIXEL = re.compile(
    r"""<img\b[^>]{0,2000}?\sstyle\s*=\s*(?:"[^"]{0,500}?|'[^']{0,500}?)"""
    r"""(?:(?:width|height)\s*:\s*[01](?:px)?\s*(?:[;"']|!)|display\s*:\s*none|visibility\s*:\s*hidden)"""
    r"""[^>]{0,2000}>""",
    re.IGNORECASE,
)


def drop_styled_pixels(source: str) -> str:
    """``source`` (untrusted HTML) without ``<img>`` tags styled to 1x1 or hidden."""
    if "style" not in source:
        return source
    return _STYLED_PIXEL.sub("", source)
