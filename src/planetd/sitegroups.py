"""A group's outputs: its river, Atom, RSS 2.0, JSON Feed and OPML, cut from the planet's reads.

Part of :class:`planetd.site.Site`, split from it for size: :class:`GroupOutputs`
is a mixin the Site inherits, so a group's pages read through the Site's one
read of the feeds and its fetch of river entries (:class:`SiteParts` names
what they need of it) and link as the planet's pages do. Which entries a page
holds is :func:`planetd.river.river_page`'s rule, the HTML and XML
:class:`planetd.render.Renderer`'s. Must not import Twisted, the store or
:mod:`planetd.site` (which imports this).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Protocol

from planetd.boundaries import (
    FeedState,
    FeedURL,
    Group,
    Output,
    PlanetConfig,
    ReadsPlanet,
    StoredEntry,
    Subscription,
)
from planetd.groups import find_group, group_path
from planetd.render import Renderer
from planetd.river import FeedView, RiverPage, river_page
from planetd.sitemedia import HTML, JSON_FEED, XML_ATOM, XML_OPML, XML_RSS

__all__ = ["GroupOutputs", "SiteParts"]


class SiteParts(Protocol):
    """What a group's outputs need of the :class:`planetd.site.Site` that builds them."""

    config: PlanetConfig
    renderer: Renderer
    groups: tuple[Group, ...]

    def _read_feeds(
        self,
        db: ReadsPlanet,
        now: datetime,
        websub: Mapping[FeedURL, Subscription] | None = None,
    ) -> tuple[list[FeedState], list[FeedView]]: ...

    def _fetch(
        self,
        db: ReadsPlanet,
        *,
        before: tuple[float, str] | None = None,
        feed: FeedURL | None = None,
        feeds: Collection[FeedURL] | None = None,
    ) -> list[StoredEntry]: ...


class GroupOutputs(SiteParts):
    """:class:`planetd.site.Site`'s groups: each group's outputs and its older pages."""

    def find_group(self, slug: str) -> Group | None:
        """The planet's group with that slug, or None."""
        return find_group(self.groups, slug)

    def group_outputs(
        self, db: ReadsPlanet, now: datetime, group: Group, root: str | None = None
    ) -> dict[str, Output]:
        """A group's river, Atom, RSS 2.0, JSON Feed and OPML, by the paths
        :data:`STATIC_FILES` gives the planet's own, relative to the group's folder."""
        _, views = self._read_feeds(db, now)
        return self._group_outputs(db, now, group, views, root=root or self.renderer.root)

    def group_older_page(
        self, db: ReadsPlanet, now: datetime, group: Group, before: tuple[float, str]
    ) -> bytes:
        """A group's river page after the ``before`` cursor (its "Older entries" link)."""
        _, views = self._read_feeds(db, now)
        _, page = self._group_river(db, group, views, before=before)
        base = self.renderer.root
        older = f"{base}{group_path(group)}?before={page.older}" if page.older else None
        return self.renderer.group_html(group, page, now, older=older)

    def _group_river(
        self,
        db: ReadsPlanet,
        group: Group,
        views: list[FeedView],
        before: tuple[float, str] | None = None,
    ) -> tuple[list[FeedView], RiverPage]:
        """The group's feeds as the pages show them, and its river page after ``before``."""
        members = set(group.feeds)
        shown = [v for v in views if v.url in members]
        fetched = self._fetch(db, before=before, feeds=group.feeds)
        return shown, river_page(shown, fetched, self.config)

    def _group_outputs(
        self,
        db: ReadsPlanet,
        now: datetime,
        group: Group,
        views: list[FeedView],
        *,
        root: str,
        outputs_root: str | None = None,
        paginate: bool = True,
    ) -> dict[str, Output]:
        shown, page = self._group_river(db, group, views)
        older = None
        if paginate and page.older:
            older = f"{root}{group_path(group)}?before={page.older}"
        render = self.renderer
        return {
            "/": Output(render.group_html(group, page, now, root, outputs_root, older), HTML),
            "/atom.xml": Output(render.atom(page.entries, now, group), XML_ATOM),
            "/rss20.xml": Output(render.rss20(page.entries, now, group), XML_RSS),
            "/opml.xml": Output(render.opml(shown, now, group), XML_OPML),
            "/feed.json": Output(render.json_feed(page.entries, group), JSON_FEED),
        }
