"""Rendering: the Jinja2 environment and the HTML and XML outputs planetd produces.

Owns the templates' context (what a template may use), the river, feed and
health pages, Atom, RSS and OPML, and finding the templates (an operator's
``template_dir`` first, then the ones shipped with planetd). One rendering
for every face: the web app serves these bytes, ``planetd render`` writes
them to files. What a page holds is decided before it gets here
(:mod:`planetd.river`); the JSON documents are :mod:`planetd.shapes`'s.
Must not import Twisted or SQLite.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

import jinja2

from planetd import __version__
from planetd.boundaries import (
    FeedStatus,
    Group,
    PlanetConfig,
    PlanetPlace,
    SearchHit,
    StoredEntry,
)
from planetd.faces import face_views
from planetd.groups import group_path, groups_by_feed, planet_groups
from planetd.river import (
    Day,
    FeedView,
    RiverPage,
    entry_uri,
    format_date,
    group_by_day,
    rfc3339,
)
from planetd.shapes import json_feed_document

__all__ = ["Renderer", "default_template_dir", "read_asset", "read_stylesheet"]


def default_template_dir() -> str:
    """Where the shipped templates are: inside the installed package, or the source tree."""
    here = os.path.dirname(os.path.abspath(__file__))
    installed = os.path.join(here, "templates")
    if os.path.isfile(os.path.join(installed, "base.html")):
        return installed
    return os.path.normpath(os.path.join(here, os.pardir, os.pardir, "templates"))


def _latest_change(entries: Sequence[StoredEntry], now: datetime) -> datetime:
    """When the river last changed: its newest update or publication (``now`` when empty)."""
    return max((e.updated or e.published for e in entries), default=now)


class Renderer:
    """The Jinja2 environment for one planet: autoescaped, strict about undefined names.

    ``faces`` names the face files that exist (read from ``faces_dir``): a
    feed whose face file is not among them shows no face. Templates see each
    feed's face as ``faces[feed_url]`` (a :class:`planetd.faces.FaceView`).
    They see the planet's groups as ``groups`` (:class:`planetd.boundaries.Group`
    values, in the planet's order) and each feed's as ``groups_of[feed_url]``;
    a group's pages also get ``group``, which is None on every other page.
    ``root`` is where the daemon serves the planet (``/``, or its mount such
    as ``/python/`` when it is one of several): its pages link from there.
    """

    def __init__(self, config: PlanetConfig, faces: Collection[str] = (), root: str = "/") -> None:
        self.config = config
        #: The planet's groups (:func:`planetd.groups.planet_groups`).
        self.groups = planet_groups(config)
        self.root = root
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
            entry_uri=entry_uri,
            faces=face_views(config, faces),
            groups=self.groups,
            groups_of=groups_by_feed(self.groups),
            group_path=group_path,
        )

    def _page(self, name: str, **context: Any) -> bytes:
        context.setdefault("root", self.root)
        # Where the page's Atom, RSS, JSON Feed and OPML are: a group's own, on its pages.
        context.setdefault("outputs_root", context["root"])
        context.setdefault("group", None)
        # Only the daemon answers /search: a static copy (relative root) has no form.
        searchable = context["root"] == self.root
        context.setdefault("search_path", f"{self.root}search" if searchable else None)
        return self.env.get_template(name).render(**context).encode("utf-8")

    def river_html(
        self,
        page: RiverPage,
        now: datetime,
        older: str | None = None,
        root: str | None = None,
        *,
        live_since: str | None = None,
    ) -> bytes:
        """The river page: day headings, entries, the subscription list, the older-page link.

        With ``live_since`` (the id of the newest live event when the page was
        built) the page loads the live river's script, which resumes ``/events`` there.
        """
        return self._page(
            "index.html",
            days=page.days,
            feeds=page.feeds,
            older=older,
            root=root or self.root,
            live_since=live_since,
            generated_at=format_date(now, self.config.date_format),
        )

    def group_html(
        self,
        group: Group,
        page: RiverPage,
        now: datetime,
        root: str | None = None,
        outputs_root: str | None = None,
        older: str | None = None,
    ) -> bytes:
        """A group's river: its title and description, its entries, its feeds beside them,
        the older-page link."""
        base = self.root if root is None else root
        return self._page(
            "group.html",
            group=group,
            days=page.days,
            feeds=page.feeds,
            older=older,
            root=base,
            outputs_root=outputs_root or f"{base}{group_path(group)}",
            generated_at=format_date(now, self.config.date_format),
        )

    def entries_fragment(self, entries: Sequence[StoredEntry]) -> bytes:
        """``entries`` (newest first) as the river shows them, grouped by day, and nothing
        else: the same ``_entries.html`` the river page includes, for the live river."""
        return self._page(
            "_entries.html",
            days=group_by_day(entries, self.config.new_date_format),
            older=None,
        )

    def feed_html(
        self, feed: FeedView, page: RiverPage, now: datetime, root: str | None = None
    ) -> bytes:
        """One feed's own page: its health line and its entries."""
        return self._page(
            "feed.html",
            feed=feed,
            days=page.days,
            feeds=page.feeds,
            older=None,
            root=root or self.root,
            generated_at=format_date(now, self.config.date_format),
        )

    def feeds_html(
        self, feeds: Sequence[FeedView], now: datetime, root: str | None = None
    ) -> bytes:
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
            root=root or self.root,
            generated_at=format_date(now, self.config.date_format),
        )

    def search_html(
        self,
        feeds: Sequence[FeedView],
        now: datetime,
        text: str,
        hits: Sequence[SearchHit],
        older: str | None,
        *,
        error: str | None = None,
    ) -> bytes:
        """The search page: the query, its hits (title, source, date, snippet), the next
        page's link, or why the query could not run."""
        return self._page(
            "search.html",
            feeds=feeds,
            query=text,
            hits=hits,
            error=error,
            older=None
            if older is None
            else f"{self.root}search?" + urlencode({"q": text, "before": older}),
            generated_at=format_date(now, self.config.date_format),
        )

    def planets_html(
        self, places: Sequence[PlanetPlace], days: Sequence[Day], now: datetime, stylesheet: str
    ) -> bytes:
        """The page of planets: each planet linked, and their newest entries by day, each
        with its planet as the source (several planets in one daemon)."""
        return self._page(
            "planets.html",
            places=places,
            days=days,
            older=None,
            stylesheet=stylesheet,
            generated_at=format_date(now, self.config.date_format),
        )

    def submission_page(self, name: str, now: datetime, **context: Any) -> bytes:
        """A page of suggested feeds (``submit.html``, ``moderate.html``): the base layout,
        no subscription list."""
        return self._page(
            name, feeds=(), generated_at=format_date(now, self.config.date_format), **context
        )

    def _self_link(self, name: str) -> str:
        base = self.config.link or "http://localhost/"
        return base.rstrip("/") + "/" + name

    def _group_link(self, group: Group | None, name: str) -> str:
        return self._self_link(name if group is None else group_path(group) + name)

    def atom(
        self, entries: Sequence[StoredEntry], now: datetime, group: Group | None = None
    ) -> bytes:
        """The river (or a ``group``'s) as Atom 1.0, each entry with an ``atom:source``."""
        return self._page(
            "atom.xml",
            entries=entries,
            group=group,
            updated=rfc3339(_latest_change(entries, now)),
            self_link=self._group_link(group, "atom.xml"),
        )

    def rss20(
        self, entries: Sequence[StoredEntry], now: datetime, group: Group | None = None
    ) -> bytes:
        """The river (or a ``group``'s) as RSS 2.0."""
        return self._page(
            "rss20.xml",
            entries=entries,
            group=group,
            updated_dt=_latest_change(entries, now),
            self_link=self._group_link(group, "rss20.xml"),
        )

    def opml(self, feeds: Sequence[FeedView], now: datetime, group: Group | None = None) -> bytes:
        """The subscription list (or a ``group``'s) as OPML 2.0."""
        return self._page("opml.xml", feeds=feeds, group=group, updated_dt=now)

    def json_feed(self, entries: Sequence[StoredEntry], group: Group | None = None) -> bytes:
        """The river (or a ``group``'s) as JSON Feed 1.1 (its shape is
        :func:`planetd.shapes.json_feed_document`)."""
        return json_feed_document(self.config, entries, self._group_link(group, "feed.json"), group)


def read_stylesheet(renderer: Renderer) -> bytes:
    """The stylesheet from the operator's template folder, else planetd's own."""
    return read_asset(renderer, "planetd.css")


def read_asset(renderer: Renderer, name: str) -> bytes:
    """A static file beside the templates (the stylesheet, the live river's script):
    the operator's template folder first, else planetd's own."""
    loader = renderer.env.loader
    assert loader is not None
    source, _, _ = loader.get_source(renderer.env, name)
    return source.encode("utf-8")
