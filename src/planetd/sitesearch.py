"""Searching a planet: the one search every face runs, its ``/search`` page and API document.

Part of :class:`planetd.site.Site`, split from it for size: :class:`SearchPages`
is a mixin the Site inherits, so a search judges hidden entries as the Site's
river does and its page shows the feeds as the Site's pages do
(:class:`SiteParts` names what it needs of it). The query's rules are
:mod:`planetd.search`'s, the JSON shape :mod:`planetd.shapes`'s, the HTML
:class:`planetd.render.Renderer`'s. Must not import Twisted, the store or
:mod:`planetd.site` (which imports this).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from planetd.boundaries import (
    FeedState,
    FeedURL,
    Group,
    Judge,
    ReadsPlanet,
    SearchQuery,
    SearchResults,
    Subscription,
)
from planetd.render import Renderer
from planetd.river import FeedView
from planetd.search import encode_search_cursor
from planetd.shapes import GroupSlugs, search_document

__all__ = ["SEARCH_PAGE_LIMIT", "SearchPages", "SiteParts"]

#: Results on one ``/search`` page.
SEARCH_PAGE_LIMIT = 25


class SiteParts(Protocol):
    """What a search needs of the :class:`planetd.site.Site` that runs it."""

    renderer: Renderer
    judge: Judge
    group_slugs: GroupSlugs

    def _read_feeds(
        self,
        db: ReadsPlanet,
        now: datetime,
        websub: Mapping[FeedURL, Subscription] | None = None,
    ) -> tuple[list[FeedState], list[FeedView]]: ...


class SearchPages(SiteParts):
    """:class:`planetd.site.Site`'s search: the search itself, its page and its API document."""

    def search(
        self,
        db: ReadsPlanet,
        query: SearchQuery,
        *,
        limit: int,
        offset: int = 0,
        feed: FeedURL | None = None,
        hidden: bool = False,
        group: Group | None = None,
    ) -> SearchResults:
        """One page of a search's results, hidden entries judged as the river judges them:
        the one search every face (the page, the API, ``planetd search``) runs."""
        return db.search(
            query,
            limit=limit,
            offset=offset,
            feed_url=feed,
            include_hidden=hidden,
            judge=self.judge,
            feed_urls=None if group is None else group.feeds,
        )

    def search_page(
        self, db: ReadsPlanet, now: datetime, query: SearchQuery | None, offset: int = 0
    ) -> bytes:
        """The ``/search`` page: the form, and one page of results if there is a query."""
        _, views = self._read_feeds(db, now)
        if query is None:
            return self.renderer.search_html(views, now, "", (), None)
        results = self.search(db, query, limit=SEARCH_PAGE_LIMIT, offset=offset)
        older = None
        if results.next_offset is not None:
            older = encode_search_cursor(results.next_offset)
        return self.renderer.search_html(views, now, query.text, results.hits, older)

    def search_error_page(self, db: ReadsPlanet, now: datetime, text: str, error: str) -> bytes:
        """The ``/search`` page for a query that cannot run, saying why."""
        _, views = self._read_feeds(db, now)
        return self.renderer.search_html(views, now, text, (), None, error=error)

    def search_api(
        self,
        db: ReadsPlanet,
        query: SearchQuery,
        *,
        limit: int,
        offset: int,
        feed: FeedURL | None,
        hidden: bool = False,
        group: Group | None = None,
    ) -> bytes:
        """The ``/api/entries?q=`` document: entries as ``/api/entries`` shows them, best
        first, each with its ``snippet_html``."""
        results = self.search(
            db, query, limit=limit, offset=offset, feed=feed, hidden=hidden, group=group
        )
        following = results.next_offset
        cursor = None if following is None else encode_search_cursor(following)
        return search_document(results.hits, cursor, with_hidden=hidden, groups=self.group_slugs)
