"""Rendering: the Jinja2 environment and every output planetd produces.

Owns the templates' context (what a template may use), the XML and JSON
outputs, and finding the templates (an operator's ``template_dir`` first,
then the ones shipped with planetd). One rendering for every face: the web
app serves these bytes, ``planetd render`` writes them to files.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any

import attrs
import jinja2

from planetd import __version__
from planetd.boundaries import FeedState, FeedStatus, PlanetConfig, StoredEntry
from planetd.river import Day, entry_json, format_date, is_inactive, rfc3339


def default_template_dir() -> str:
    """Where the shipped templates are: inside the installed package, or the source tree."""
    here = os.path.dirname(os.path.abspath(__file__))
    installed = os.path.join(here, "templates")
    if os.path.isfile(os.path.join(installed, "base.html")):
        return installed
    return os.path.normpath(os.path.join(here, os.pardir, os.pardir, "templates"))


@attrs.frozen
class FeedView:
    """A feed as the pages show it."""

    id: str
    url: str
    name: str
    link: str | None
    status: str
    inactive: bool
    http_status: int | None
    last_error: str | None
    last_polled_at: str | None
    last_success_at: str | None
    next_poll_at: str | None
    entry_count: int
    moved_to: str | None
    hidden: dict[str, int]


def feed_id(url: str) -> str:
    """A short stable id for a feed's page, ``/feeds/<id>``."""
    return hashlib.blake2b(url.encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()


def feed_views(
    states: Sequence[FeedState],
    config: PlanetConfig,
    now: datetime,
    hidden: dict[Any, dict[str, int]] | None = None,
) -> list[FeedView]:
    """What the pages show of each feed, with the names the config gives them."""
    names = {f.url: f.name for f in config.feeds}
    hidden = hidden or {}
    fmt = "%Y-%m-%d %H:%M GMT"
    return [
        FeedView(
            id=feed_id(s.url),
            url=s.url,
            name=names.get(s.url, s.name),
            link=s.link,
            status=s.status.value,
            inactive=is_inactive(s, config.activity_threshold, now),
            http_status=s.http_status,
            last_error=s.last_error,
            last_polled_at=format_date(s.last_polled_at, fmt) if s.last_polled_at else None,
            last_success_at=format_date(s.last_success_at, fmt) if s.last_success_at else None,
            next_poll_at=format_date(s.next_poll_at, fmt)
            if s.next_poll_at and s.status is not FeedStatus.GONE
            else None,
            entry_count=s.entry_count,
            moved_to=s.moved_to,
            hidden=dict(hidden.get(s.url, {})),
        )
        for s in states
    ]


class Renderer:
    """The Jinja2 environment for one planet: autoescaped, strict about undefined names."""

    def __init__(self, config: PlanetConfig) -> None:
        self.config = config
        dirs = [d for d in (config.template_dir, default_template_dir()) if d]
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(dirs),
            autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(
            planet=config,
            version=__version__,
            rfc3339=rfc3339,
            rfc822=lambda d: format_datetime(d.astimezone(timezone.utc), usegmt=True),
            format_date=lambda d: format_date(d, config.date_format),
            entry_uri=self.entry_uri,
        )

    def entry_uri(self, entry: StoredEntry) -> str:
        """A globally unique id for an entry in planetd's own feeds."""
        return f"urn:planetd:{entry.id}"

    def _page(self, name: str, **context: Any) -> bytes:
        context.setdefault("root", "/")
        return self.env.get_template(name).render(**context).encode("utf-8")

    def river_html(
        self,
        days: Sequence[Day],
        feeds: Sequence[FeedView],
        now: datetime,
        older: str | None = None,
        root: str = "/",
    ) -> bytes:
        """The river page: day headings, entries, the subscription list."""
        return self._page(
            "index.html",
            days=days,
            feeds=feeds,
            older=older,
            root=root,
            generated_at=format_date(now, self.config.date_format),
        )

    def feed_html(
        self,
        feed: FeedView,
        days: Sequence[Day],
        feeds: Sequence[FeedView],
        now: datetime,
        root: str = "/",
    ) -> bytes:
        """One feed's own page: its health line and its entries."""
        return self._page(
            "feed.html",
            feed=feed,
            days=days,
            feeds=feeds,
            older=None,
            root=root,
            generated_at=format_date(now, self.config.date_format),
        )

    def feeds_html(self, feeds: Sequence[FeedView], now: datetime, root: str = "/") -> bytes:
        """The feed health page."""
        counts = {s.value: 0 for s in FeedStatus}
        counts["inactive"] = 0
        for feed in feeds:
            counts[feed.status] += 1
            counts["inactive"] += feed.inactive
        return self._page(
            "feeds.html",
            feeds=feeds,
            counts=counts,
            root=root,
            generated_at=format_date(now, self.config.date_format),
        )

    def _self_link(self, name: str) -> str:
        base = self.config.link or "http://localhost/"
        return base.rstrip("/") + "/" + name

    def atom(self, entries: Sequence[StoredEntry], now: datetime) -> bytes:
        """The river as Atom 1.0, each entry with an ``atom:source`` naming its feed."""
        updated = max((e.updated or e.published for e in entries), default=now)
        return self._page(
            "atom.xml",
            entries=entries,
            updated=rfc3339(updated),
            self_link=self._self_link("atom.xml"),
        )

    def rss20(self, entries: Sequence[StoredEntry], now: datetime) -> bytes:
        """The river as RSS 2.0."""
        updated = max((e.updated or e.published for e in entries), default=now)
        return self._page(
            "rss20.xml", entries=entries, updated_dt=updated, self_link=self._self_link("rss20.xml")
        )

    def opml(self, feeds: Sequence[FeedView], now: datetime) -> bytes:
        """The subscription list as OPML 2.0."""
        return self._page("opml.xml", feeds=feeds, updated_dt=now)

    def json_feed(self, entries: Sequence[StoredEntry]) -> bytes:
        """The river as JSON Feed 1.1, with planetd's fields under ``_planetd``."""
        document: dict[str, Any] = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": self.config.name,
            "feed_url": self._self_link("feed.json"),
            "items": [],
        }
        if self.config.link:
            document["home_page_url"] = self.config.link
        if self.config.owner_name:
            document["authors"] = [{"name": self.config.owner_name}]
        for entry in entries:
            item: dict[str, Any] = {
                "id": self.entry_uri(entry),
                "title": entry.title,
                "content_html": entry.content_html,
                "date_published": rfc3339(entry.published),
                "_planetd": {
                    "feed_url": entry.feed_url,
                    "feed_name": entry.feed_name,
                    "feed_link": entry.feed_link,
                },
            }
            if entry.link:
                item["url"] = entry.link
            if entry.updated:
                item["date_modified"] = rfc3339(entry.updated)
            if entry.author:
                item["authors"] = [{"name": entry.author}]
            document["items"].append(item)
        return dump_json(document)


def read_stylesheet(renderer: Renderer) -> bytes:
    """The stylesheet from the operator's template folder, else planetd's own."""
    loader = renderer.env.loader
    assert loader is not None
    source, _, _ = loader.get_source(renderer.env, "planetd.css")
    return source.encode("utf-8")


def dump_json(document: Any) -> bytes:
    """Compact UTF-8 JSON; lone surrogates from broken feeds are replaced, never emitted."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "replace")


def entries_document(
    entries: Sequence[StoredEntry], next_cursor: str | None, *, with_hidden: bool = False
) -> bytes:
    """The ``/api/entries`` document."""
    return dump_json(
        {
            "entries": [entry_json(e, with_hidden=with_hidden) for e in entries],
            "next": next_cursor,
        }
    )
