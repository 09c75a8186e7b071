"""The media types a planet's outputs are served with, named once for every builder.

:mod:`planetd.site` builds the planet's outputs and :mod:`planetd.sitegroups`
a group's with the same types; both name them here so neither imports the
other. Plain constants: must not import anything of planetd.
"""

from __future__ import annotations

__all__ = ["HTML", "JSON", "JSON_FEED", "XML_ATOM", "XML_OPML", "XML_RSS"]

HTML = "text/html; charset=utf-8"
XML_ATOM = "application/atom+xml; charset=utf-8"
XML_RSS = "application/rss+xml; charset=utf-8"
XML_OPML = "text/x-opml; charset=utf-8"
JSON = "application/json"
JSON_FEED = "application/feed+json"
