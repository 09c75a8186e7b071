"""Building every output of a planet from the store: one aggregation for all faces.

Owns which entries each output holds and how pages link to each other. It
reads through :class:`planetd.boundaries.ReadsPlanet` and renders with
:class:`planetd.render.Renderer`, so it runs wherever blocking work may run
(a reader thread in the daemon, the main thread in ``planetd render``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from planetd.boundaries import FeedURL, PlanetConfig, ReadsPlanet
from planetd.render import (
    Renderer,
    dump_json,
    entries_document,
    feed_views,
)
from planetd.river import (
    cut_page,
    encode_cursor,
    feed_json,
    group_by_day,
    judge_for,
)

API_DEFAULT_LIMIT = 50
API_MAX_LIMIT = 500


@attrs.frozen
class Output:
    """One rendered resource."""

    body: bytes
    content_type: str


HTML = "text/html; charset=utf-8"
XML_ATOM = "application/atom+xml; charset=utf-8"
XML_RSS = "application/rss+xml; charset=utf-8"
XML_OPML = "text/x-opml; charset=utf-8"
JSON = "application/json"
JSON_FEED = "application/feed+json"

#: The files ``planetd render`` writes, and the paths the daemon serves them at.
STATIC_FILES: Mapping[str, str] = {
    "index.html": "/",
    "atom.xml": "/atom.xml",
    "rss20.xml": "/rss20.xml",
    "opml.xml": "/opml.xml",
    "feed.json": "/feed.json",
}


class Site:
    """A planet's outputs, built from one database connection."""

    def __init__(self, config: PlanetConfig, renderer: Renderer) -> None:
        self.config = config
        self.renderer = renderer
        self.judge = judge_for(config)
        self.feeds_by_url = {f.url: f for f in config.feeds}

    def build_all(
        self, db: ReadsPlanet, now: datetime, root: str = "/", *, paginate: bool = True
    ) -> dict[str, Output]:
        """Every fixed output: the pages, the feeds, the default API documents.

        Without ``paginate`` the river has no "Older entries" link: a static copy
        holds the first page only.
        """
        config = self.config
        views = feed_views(db.feed_states(), config, now, db.hidden_counts())
        items = config.items_per_page or 60
        newest = db.entries(limit=items + 1, judge=self.judge)
        page = cut_page(newest, items, config.days_per_page)
        more = len(newest) > len(page)
        older = f"{root}?before={encode_cursor(page[-1])}" if paginate and more and page else None
        days = group_by_day(page, config.new_date_format)
        return {
            "/": Output(self.renderer.river_html(days, views, now, older, root=root), HTML),
            "/feeds": Output(self.renderer.feeds_html(views, now, root=root), HTML),
            "/atom.xml": Output(self.renderer.atom(page, now), XML_ATOM),
            "/rss20.xml": Output(self.renderer.rss20(page, now), XML_RSS),
            "/opml.xml": Output(self.renderer.opml(views, now), XML_OPML),
            "/feed.json": Output(self.renderer.json_feed(page), JSON_FEED),
            "/api/feeds": Output(self.feeds_document(db, now), JSON),
            "/api/entries": Output(
                self.entries_api(db, limit=API_DEFAULT_LIMIT, before=None, feed=None), JSON
            ),
        }

    def older_page(self, db: ReadsPlanet, now: datetime, before: tuple[float, str]) -> bytes:
        """A river page after the ``before`` cursor (the "Older entries" link)."""
        config = self.config
        views = feed_views(db.feed_states(), config, now, db.hidden_counts())
        items = config.items_per_page or 60
        newest = db.entries(limit=items + 1, before=before, judge=self.judge)
        page = cut_page(newest, items, config.days_per_page)
        more = len(newest) > len(page)
        older = f"/?before={encode_cursor(page[-1])}" if more and page else None
        return self.renderer.river_html(
            group_by_day(page, config.new_date_format), views, now, older
        )

    def feed_page(self, db: ReadsPlanet, now: datetime, fid: str, root: str = "/") -> bytes | None:
        """One feed's page, or None if no feed has that id."""
        config = self.config
        views = feed_views(db.feed_states(), config, now, db.hidden_counts())
        view = next((v for v in views if v.id == fid), None)
        if view is None:
            return None
        entries = db.entries(
            limit=config.items_per_page or 60, feed_url=FeedURL(view.url), judge=self.judge
        )
        return self.renderer.feed_html(
            view, group_by_day(entries, config.new_date_format), views, now, root=root
        )

    def feeds_document(self, db: ReadsPlanet, now: datetime) -> bytes:
        """The ``/api/feeds`` document."""
        return dump_json(
            {
                "feeds": [
                    feed_json(s, self.feeds_by_url.get(s.url), self.config.activity_threshold, now)
                    for s in db.feed_states()
                ]
            }
        )

    def entries_api(
        self,
        db: ReadsPlanet,
        *,
        limit: int,
        before: tuple[float, str] | None,
        feed: FeedURL | None,
        hidden: bool = False,
    ) -> bytes:
        """The ``/api/entries`` document for one page of entries."""
        found = db.entries(
            limit=limit + 1, before=before, feed_url=feed, include_hidden=hidden, judge=self.judge
        )
        page = found[:limit]
        next_cursor = encode_cursor(page[-1]) if len(found) > limit and page else None
        return entries_document(page, next_cursor, with_hidden=hidden)

    def knows_feed(self, url: str) -> bool:
        return url in self.feeds_by_url
