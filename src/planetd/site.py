"""Building every output of a planet from the store: one aggregation for all faces.

Owns which reads each output makes and how pages link to each other (the
daemon's paths, or relative links in a static copy). Each fixed output can be
built alone (the daemon builds the river when the store moves and each other
output when it is asked for) from only the reads it needs — the Atom feed
reads no feed state, ``/api/feeds`` no entry — and a full build (the warm
start, ``planetd render``) makes each read once and derives every output
from it; which entries a page holds
is :func:`planetd.river.river_page`'s rule, the JSON shapes are
:mod:`planetd.shapes`'s, the HTML and XML :class:`planetd.render.Renderer`'s.
A group's outputs (:mod:`planetd.sitegroups`) and search
(:mod:`planetd.sitesearch`) are parts of :class:`Site` kept in their own
modules for size; the media types are :mod:`planetd.sitemedia`'s.

It reads through :class:`planetd.boundaries.ReadsPlanet`, synchronously, so
it runs wherever blocking work may run (a reader thread in the daemon, the
main thread in ``planetd render``). Must not import Twisted or the store.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from functools import cached_property

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
from planetd.feedsdoc import FeedsDocument, FeedViews
from planetd.groups import group_path, groups_by_feed
from planetd.render import Renderer, read_stylesheet
from planetd.river import (
    FeedView,
    RiverPage,
    judge_for,
    next_cursor,
    page_fetch_limit,
    river_page,
)
from planetd.shapes import entries_document
from planetd.sitegroups import GroupOutputs
from planetd.sitemedia import HTML, JSON, JSON_FEED, XML_ATOM, XML_OPML, XML_RSS
from planetd.sitesearch import SearchPages
from planetd.websubplan import websub_enabled

__all__ = [
    "API_DEFAULT_LIMIT",
    "API_MAX_LIMIT",
    "HTML",
    "JSON",
    "STATIC_FILES",
    "Output",
    "Site",
]

API_DEFAULT_LIMIT = 50
API_MAX_LIMIT = 500
#: How far down the river the live fragment looks for new entries.
LIVE_WINDOW = API_MAX_LIMIT

#: The files ``planetd render`` writes from fixed outputs, and the paths the daemon serves.
STATIC_FILES: Mapping[str, str] = {
    "index.html": "/",
    "atom.xml": "/atom.xml",
    "rss20.xml": "/rss20.xml",
    "opml.xml": "/opml.xml",
    "feed.json": "/feed.json",
}


#: Every fixed output's path, in the order a full build makes them.
FIXED_PATHS = (
    "/",
    "/feeds",
    "/atom.xml",
    "/rss20.xml",
    "/opml.xml",
    "/feed.json",
    "/api/feeds",
    "/api/entries",
)
#: The fixed outputs rebuilt as soon as the store moves; the others wait to be asked for.
EAGER_PATHS = ("/",)


class _Reads:
    """What one build reads of the store, each read made at most once, when first needed.

    A river page reads its entries before the feeds: a poll writes a feed's
    state and its entries in one transaction, so a page that shows an entry
    shows its feed's state as of that poll or later.
    """

    def __init__(self, site: Site, db: ReadsPlanet, now: datetime) -> None:
        self.site, self.db, self.now = site, db, now
        # The live river's place before any read: an event is published only
        # after its entries are written, so the page holds every entry up to
        # this id (and maybe later ones, which the script finds already shown).
        self.live_since = site.last_event() if site.last_event else None

    @cached_property
    def fetched(self) -> list[StoredEntry]:
        """The entries the first river page is cut from."""
        return self.site._fetch(self.db)

    @cached_property
    def api_entries(self) -> bytes:
        """The default ``/api/entries`` document."""
        return self.site.entries_api(self.db, limit=API_DEFAULT_LIMIT, before=None, feed=None)

    @cached_property
    def states(self) -> list[FeedState]:
        return self.db.feed_states()

    @cached_property
    def websub(self) -> dict[FeedURL, Subscription] | None:
        """Each feed's WebSub subscription, or None when push is off."""
        return self.db.websub_states() if websub_enabled(self.site.config) else None

    @cached_property
    def views(self) -> list[FeedView]:
        return self.site.feed_views.build(
            self.states, self.now, self.db.hidden_counts(), self.websub
        )

    @cached_property
    def page(self) -> RiverPage:
        """The first river page, with the feeds beside it."""
        fetched = self.fetched
        return river_page(self.views, fetched, self.site.config)

    @cached_property
    def entries(self) -> tuple[StoredEntry, ...]:
        """The first page's entries (the feeds' Atom, RSS and JSON Feed): no feed is read."""
        return river_page((), self.fetched, self.site.config).entries

    def entries_first(self) -> None:
        """Read every entry a full build shows before any feed (see the class docstring)."""
        self.fetched  # noqa: B018 -- a cached read, made now for its order
        self.api_entries  # noqa: B018 -- the same


class Site(GroupOutputs, SearchPages):
    """A planet's outputs, built from one database connection.

    ``last_event`` gives the id of the live river's newest event (the daemon's
    :class:`planetd.livefeed.ChangeFeed`); with it, the river's first page
    loads the live script and resumes the change feed from the page's build.
    """

    def __init__(
        self,
        config: PlanetConfig,
        renderer: Renderer,
        *,
        last_event: Callable[[], str] | None = None,
    ) -> None:
        self.config = config
        self.renderer = renderer
        self.last_event = last_event
        self.judge = judge_for(config)
        #: ``/api/feeds``, each feed's bytes kept while its state is unchanged.
        self._feeds_document = FeedsDocument(config)
        #: What the pages show of each feed, each view made again only when it differs.
        self.feed_views = FeedViews(config)
        self.feeds_by_url = {f.url: f for f in config.feeds}
        #: The planet's groups, and each feed's group slugs (the API's ``groups``).
        self.groups = renderer.groups
        self.group_slugs = {
            url: [g.slug for g in found] for url, found in groups_by_feed(self.groups).items()
        }

    def _read_feeds(
        self,
        db: ReadsPlanet,
        now: datetime,
        websub: Mapping[FeedURL, Subscription] | None = None,
    ) -> tuple[list[FeedState], list[FeedView]]:
        """The one read of the feeds a build makes, and the views the pages show of them
        (with their WebSub subscriptions when ``websub`` gives them)."""
        states = db.feed_states()
        return states, self.feed_views.build(states, now, db.hidden_counts(), websub)

    def _river(
        self,
        db: ReadsPlanet,
        views: list[FeedView],
        *,
        before: tuple[float, str] | None = None,
        feed: FeedURL | None = None,
    ) -> RiverPage:
        return river_page(
            views, self._fetch(db, before=before, feed=feed), self.config, cut_by_days=feed is None
        )

    def _fetch(
        self,
        db: ReadsPlanet,
        *,
        before: tuple[float, str] | None = None,
        feed: FeedURL | None = None,
        feeds: Collection[FeedURL] | None = None,
    ) -> list[StoredEntry]:
        """The entries a river page is cut from (one more than it holds); only those of
        ``feeds`` (a group's) if given."""
        return db.entries(
            limit=page_fetch_limit(self.config),
            before=before,
            feed_url=feed,
            judge=self.judge,
            feed_urls=feeds,
        )

    def build_all(
        self, db: ReadsPlanet, now: datetime, root: str | None = None, *, paginate: bool = True
    ) -> dict[str, Output]:
        """Every fixed output: the pages, the feeds, the default API documents.

        Links start at ``root`` (default: where the daemon serves the planet).
        Without ``paginate`` the river has no "Older entries" link: a static copy
        holds the first page only.
        """
        outputs, _ = self._build_all(db, now, root or self.renderer.root, paginate=paginate)
        return outputs

    def build_river(self, db: ReadsPlanet, now: datetime) -> dict[str, Output]:
        """The outputs rebuilt as soon as the store moves (the river, ``/``)."""
        return {path: self._output(path, _Reads(self, db, now)) for path in EAGER_PATHS}

    def lazy_builders(self) -> dict[str, Callable[[ReadsPlanet, datetime], Output]]:
        """The other fixed outputs by path, each built from its own reads when asked for."""
        return {path: self._builder(path) for path in FIXED_PATHS if path not in EAGER_PATHS}

    def _builder(self, path: str) -> Callable[[ReadsPlanet, datetime], Output]:
        return lambda db, now: self._output(path, _Reads(self, db, now))

    def _output(
        self, path: str, reads: _Reads, root: str | None = None, paginate: bool = True
    ) -> Output:
        """The fixed output at ``path``, from ``reads`` (which reads only what it needs).

        Links start at ``root`` (default: where the daemon serves the planet)."""
        render, now = self.renderer, reads.now
        root = root or render.root
        if path == "/":
            page = reads.page
            older = f"{root}?before={page.older}" if paginate and page.older else None
            # Only the daemon's own page follows the live river (not a static copy).
            live_since = reads.live_since if root == render.root else None
            return Output(
                render.river_html(page, now, older, root=root, live_since=live_since), HTML
            )
        if path == "/feeds":
            return Output(render.feeds_html(reads.views, now, root=root), HTML)
        if path == "/atom.xml":
            return Output(render.atom(reads.entries, now), XML_ATOM)
        if path == "/rss20.xml":
            return Output(render.rss20(reads.entries, now), XML_RSS)
        if path == "/opml.xml":
            return Output(render.opml(reads.views, now), XML_OPML)
        if path == "/feed.json":
            return Output(render.json_feed(reads.entries), JSON_FEED)
        if path == "/api/feeds":
            return Output(self._feeds_document.build(reads.states, now, reads.websub), JSON)
        if path == "/api/entries":
            return Output(reads.api_entries, JSON)
        raise KeyError(path)

    def _build_all(
        self, db: ReadsPlanet, now: datetime, root: str, *, paginate: bool
    ) -> tuple[dict[str, Output], list[FeedView]]:
        reads = _Reads(self, db, now)
        reads.entries_first()
        outputs = {path: self._output(path, reads, root, paginate) for path in FIXED_PATHS}
        return outputs, reads.views

    def older_page(self, db: ReadsPlanet, now: datetime, before: tuple[float, str]) -> bytes:
        """A river page after the ``before`` cursor (the "Older entries" link)."""
        _, views = self._read_feeds(db, now)
        page = self._river(db, views, before=before)
        older = f"{self.renderer.root}?before={page.older}" if page.older else None
        return self.renderer.river_html(page, now, older)

    def feed_page(
        self, db: ReadsPlanet, now: datetime, fid: str, root: str | None = None
    ) -> bytes | None:
        """One feed's page, or None if no feed has that id."""
        _, views = self._read_feeds(db, now)
        view = next((v for v in views if v.id == fid), None)
        if view is None:
            return None
        return self._feed_page(db, now, view, views, root or self.renderer.root)

    def _feed_page(
        self, db: ReadsPlanet, now: datetime, view: FeedView, views: list[FeedView], root: str
    ) -> bytes:
        page = self._river(db, views, feed=FeedURL(view.url))
        return self.renderer.feed_html(view, page, now, root=root)

    def entries_api(
        self,
        db: ReadsPlanet,
        *,
        limit: int,
        before: tuple[float, str] | None,
        feed: FeedURL | None,
        hidden: bool = False,
        group: Group | None = None,
    ) -> bytes:
        """The ``/api/entries`` document for one page of entries (of a ``group`` if given)."""
        found = db.entries(
            limit=limit + 1,
            before=before,
            feed_url=feed,
            include_hidden=hidden,
            judge=self.judge,
            feed_urls=None if group is None else group.feeds,
        )
        page = found[:limit]
        return entries_document(
            page, next_cursor(page, found), with_hidden=hidden, groups=self.group_slugs
        )

    def static_files(self, reader: ReadsPlanet, now: datetime) -> dict[str, bytes]:
        """Every file ``planetd render`` writes, by relative path (``/`` separated).

        The river, Atom, RSS, OPML and JSON Feed at the top, the stylesheet,
        the health page at ``feeds/index.html`` and each feed's page at
        ``feeds/<id>/index.html``, so the daemon's links (``feeds``,
        ``feeds/<id>``) resolve on any static server. Every link is relative
        (the folder may be served at any path) and the river has no "Older
        entries" link: a static copy holds the first page only.
        """
        outputs, views = self._build_all(reader, now, "./", paginate=False)
        files = {name: outputs[path].body for name, path in STATIC_FILES.items()}
        files["planetd.css"] = read_stylesheet(self.renderer)
        files["feeds/index.html"] = self.renderer.feeds_html(views, now, root="../")
        for view in views:
            files[f"feeds/{view.id}/index.html"] = self._feed_page(
                reader, now, view, views, "../../"
            )
        for group in self.groups:
            built = self._group_outputs(
                reader, now, group, views, root="../../", outputs_root="./", paginate=False
            )
            for name, path in STATIC_FILES.items():
                files[group_path(group) + name] = built[path].body
        return files

    def new_entries_fragment(self, db: ReadsPlanet, ids: Collection[str]) -> bytes:
        """The live river's fragment: those of ``ids`` among the newest
        :data:`LIVE_WINDOW` entries the river shows, rendered as the river renders them.

        An entry the river hides (flood, duplicate, a filter) is left out, as
        is one published so long ago that it belongs far down the river, not
        at its top.
        """
        wanted = set(ids)
        newest = db.entries(limit=LIVE_WINDOW, judge=self.judge)
        return self.renderer.entries_fragment([e for e in newest if e.id in wanted])

    def knows_feed(self, url: str) -> bool:
        """True if ``url`` is one of the planet's configured feeds."""
        return url in self.feeds_by_url
