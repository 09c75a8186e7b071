"""Small feed documents that tests write into a served folder."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from email.utils import format_datetime
from xml.sax.saxutils import escape


def atom(title: str, site: str, entries: Sequence[tuple[str, str, str, str]]) -> str:
    """An Atom feed; each entry is (id, title, iso date, html content)."""
    items = "".join(
        f"""<entry><id>{escape(i)}</id><title>{escape(t)}</title>
<link rel="alternate" href="{escape(site)}{escape(i.rsplit(":", 1)[-1])}"/>
<published>{d}</published><updated>{d}</updated>
<author><name>Author of {escape(title)}</name></author>
<content type="html">{escape(c)}</content></entry>"""
        for i, t, d, c in entries
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>{escape(title)}</title>
<link rel="alternate" href="{escape(site)}"/><id>{escape(site)}</id>
<updated>2026-07-04T00:00:00Z</updated>{items}</feed>"""


def _rfc822(iso: str) -> str:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(timezone.utc)
    return format_datetime(moment, usegmt=True)


def rss(title: str, site: str, items: Sequence[tuple[str, str, str, str]]) -> str:
    """An RSS 2.0 feed; each item is (guid, title, iso date, html description)."""
    body = "".join(
        f"""<item><guid isPermaLink="false">{escape(g)}</guid><title>{escape(t)}</title>
<link>{escape(site)}{escape(g)}</link>
<pubDate>{_rfc822(d)}</pubDate>
<description>{escape(c)}</description></item>"""
        for g, t, d, c in items
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{escape(title)}</title><link>{escape(site)}</link>
<description>{escape(title)}</description>{body}</channel></rss>"""
