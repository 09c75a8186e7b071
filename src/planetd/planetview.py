"""One planet's view of a store that several planets share.

Owns what makes a planet's pages its own when its feeds are stored with
other planets' (one poll per feed URL, :func:`planetd.planets.poll_config`):
only its feeds, under its own names for them, its own anti-flood, and the
posts that another planet's feed brought first. Filters
(``filter``/``exclude``) need nothing here: pages already judge them when
read, by the planet's own config (:func:`planetd.river.judge_for`).

Anti-flood (``new_feed_items``) is decided when a feed first delivers, and
stored. The shared store keeps the most any planet shows (see
:func:`planetd.planets.merge_feed`); a planet that shows fewer hides, when
its pages are read, the rest of that first delivery
(:meth:`planetd.store.Database.first_delivery_beyond`). Those hidden
entries are known before the read, so a page asks the store for that many
more entries and still fills up.

A post that two feeds carry is stored once shown, in the feed that brought it
first; the other copy is hidden as a duplicate. When that first feed is not
the planet's, the planet shows its own copy
(:meth:`planetd.store.Database.duplicates_alone_in`).

:class:`PlanetReads` wraps a reader on a reader thread; :class:`PlanetStore`
hands it to every page build of one planet, so :class:`planetd.site.Site`,
:class:`planetd.outputs.OutputCache` and :class:`planetd.web.PlanetWeb` serve
a planet of several unchanged. Pure: no Twisted at run time, no SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import attrs

from planetd.boundaries import (
    EntryID,
    EntryKey,
    FeedConfig,
    FeedState,
    FeedURL,
    Hidden,
    Judge,
    PlanetConfig,
    PollOutcome,
    PollRecord,
    ReadsAllPlanets,
    ReadsPlanet,
    SearchQuery,
    SearchResults,
    StoredEntry,
    StoresAllPlanets,
    Subscription,
)

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

T = TypeVar("T")


def flood_keeps(planet: PlanetConfig, stored: Mapping[FeedURL, FeedConfig]) -> dict[FeedURL, int]:
    """The planet's feeds whose first delivery it shows less of than the store keeps
    shown, with how many of it the planet shows."""
    keeps: dict[FeedURL, int] = {}
    for feed in planet.feeds:
        keep = feed.new_feed_items
        polled = stored.get(feed.url)
        if keep is None or polled is None:
            continue
        if polled.new_feed_items is None or keep < polled.new_feed_items:
            keeps[feed.url] = keep
    return keeps


class PlanetReads:
    """A :class:`planetd.boundaries.ReadsPlanet` of one planet over the shared store.

    Args:
        db: The shared store's reader.
        planet: The planet (as it runs: its reading lists' feeds included).
        keeps: :func:`flood_keeps` of the planet.
    """

    def __init__(self, db: ReadsAllPlanets, planet: PlanetConfig, keeps: Mapping[FeedURL, int]):
        self.db = db
        self.names = {f.url: f.name for f in planet.feeds}
        self.feeds = frozenset(self.names)
        self.keeps = keeps
        self._flooded: dict[FeedURL, frozenset[EntryID]] | None = None
        self._alone: list[tuple[EntryID, FeedURL]] | None = None

    def flooded(self) -> dict[FeedURL, frozenset[EntryID]]:
        """Per feed, the entries this planet's own ``new_feed_items`` hides (read once)."""
        if self._flooded is None:
            self._flooded = {
                url: frozenset(self.db.first_delivery_beyond(url, keep))
                for url, keep in self.keeps.items()
            }
        return self._flooded

    def alone(self) -> list[tuple[EntryID, FeedURL]]:
        """The duplicates this planet shows: their first copy is in another planet's feed."""
        if self._alone is None:
            self._alone = self.db.duplicates_alone_in(self.feeds)
        return self._alone

    def _unhidden(self) -> frozenset[EntryID]:
        return frozenset(entry for entry, _ in self.alone())

    def _named(self, entry: StoredEntry) -> StoredEntry:
        return attrs.evolve(entry, feed_name=self.names.get(entry.feed_url, entry.feed_name))

    def feed_states(self, *, active_only: bool = True) -> list[FeedState]:
        return [
            attrs.evolve(s, name=self.names[s.url])
            for s in self.db.feed_states(active_only=active_only)
            if s.url in self.feeds
        ]

    def websub_states(self) -> dict[FeedURL, Subscription]:
        return {u: s for u, s in self.db.websub_states().items() if u in self.feeds}

    def hidden_counts(self) -> dict[FeedURL, dict[str, int]]:
        counts = {u: dict(c) for u, c in self.db.hidden_counts().items() if u in self.feeds}
        duplicate = Hidden.DUPLICATE.value
        for _, url in self.alone():
            mine = counts.get(url, {})
            mine[duplicate] = mine.get(duplicate, 0) - 1
            if mine[duplicate] <= 0:
                del mine[duplicate]
            if not mine:
                counts.pop(url, None)
        for url, ids in self.flooded().items():
            if ids:
                mine = counts.setdefault(url, {})
                mine[Hidden.FLOOD.value] = mine.get(Hidden.FLOOD.value, 0) + len(ids)
        return counts

    def entries(
        self,
        *,
        limit: int,
        before: tuple[float, str] | None = None,
        feed_url: FeedURL | None = None,
        include_hidden: bool = False,
        judge: Judge | None = None,
        feed_urls: Collection[FeedURL] | None = None,
    ) -> list[StoredEntry]:
        if feed_url is not None and feed_url not in self.feeds:
            return []
        hides = self._hides(feed_url)
        found = self.db.entries(
            limit=limit + (0 if include_hidden else len(hides)),
            before=before,
            feed_url=feed_url,
            include_hidden=include_hidden,
            judge=judge,
            feed_urls=feed_urls,
            feeds=self.feeds,
            unhidden=self._unhidden(),
        )
        return self._shown(found, hides, include_hidden)[:limit]

    def _hides(self, feed_url: FeedURL | None) -> frozenset[EntryID]:
        flooded = self.flooded()
        if feed_url is not None:
            return flooded.get(feed_url, frozenset())
        return frozenset().union(*flooded.values())

    def _shown(
        self, found: Sequence[StoredEntry], hides: frozenset[EntryID], include_hidden: bool
    ) -> list[StoredEntry]:
        shown = []
        for entry in found:
            if entry.id in hides and entry.hidden is None:
                if not include_hidden:
                    continue
                entry = attrs.evolve(entry, hidden=Hidden.FLOOD)
            shown.append(self._named(entry))
        return shown

    def search(
        self,
        query: SearchQuery,
        *,
        limit: int,
        offset: int = 0,
        feed_url: FeedURL | None = None,
        include_hidden: bool = False,
        judge: Judge | None = None,
        feed_urls: Collection[FeedURL] | None = None,
    ) -> SearchResults:
        if feed_url is not None and feed_url not in self.feeds:
            return SearchResults(hits=())
        results = self.db.search(
            query,
            limit=limit,
            offset=offset,
            feed_url=feed_url,
            include_hidden=include_hidden,
            judge=judge,
            feed_urls=feed_urls,
            feeds=self.feeds,
            unhidden=self._unhidden(),
        )
        hides = self._hides(feed_url)
        hits = []
        for hit in results.hits:
            shown = self._shown([hit.entry], hides, include_hidden)
            if shown:
                hits.append(attrs.evolve(hit, entry=shown[0]))
        return attrs.evolve(results, hits=tuple(hits))


class PlanetStore:
    """The shared store as one planet's pages see it: every read through
    :class:`PlanetReads`; everything else is the shared store's."""

    def __init__(self, store: StoresAllPlanets, planet: PlanetConfig, poll: PlanetConfig):
        self.store = store
        self.planet = planet
        self.keeps = flood_keeps(planet, {f.url: f for f in poll.feeds})

    @property
    def generation(self) -> int:
        return self.store.generation

    def reading(self, build: Callable[[ReadsPlanet], T]) -> Deferred[T]:
        return self.store.reading_all(lambda db: build(PlanetReads(db, self.planet, self.keeps)))

    def sync_feeds(self, feeds: Sequence[FeedConfig], now: datetime) -> Deferred[None]:
        return self.store.sync_feeds(feeds, now)

    def feed_states(self) -> Deferred[list[FeedState]]:
        return self.store.feed_states()

    def known_hashes(self, url: FeedURL) -> Deferred[dict[EntryKey, str]]:
        return self.store.known_hashes(url)

    def record_poll(
        self, feed: FeedConfig, outcome: PollOutcome, now: datetime
    ) -> Deferred[PollRecord]:
        return self.store.record_poll(feed, outcome, now)


if TYPE_CHECKING:  # static conformance
    from planetd.boundaries import Stores

    _reads: type[ReadsPlanet] = PlanetReads
    _stores: type[Stores] = PlanetStore
