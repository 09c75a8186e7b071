"""What a new config changes, and which feeds a reading list subscribes to.

Owns the two decisions behind a reload: :func:`plan_reload` compares the
running config with a new one and returns a :class:`ReloadPlan` (feeds
added, removed and changed, reading lists likewise, the ``[Planet]`` keys
that changed, whether pages must be rendered again and which keys only a
restart applies); :func:`effective_config` turns a config and the feeds its
reading lists named when last fetched into the config the daemon runs, so a
list that changes is applied exactly like an edited file. :func:`listed_feeds`
reads a fetched list (OPML) into :class:`planetd.boundaries.ListedFeed` values.

Pure: values in, values out. The daemon's shell (:mod:`planetd.reloading`)
reads the file, fetches the lists and executes the plan. Must not import
Twisted, ``sqlite3`` or anything that does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import attrs

from planetd.boundaries import (
    FeedConfig,
    FeedURL,
    FetchKind,
    FetchResult,
    ListedFeed,
    PlanetConfig,
    ReadingList,
    ReadingListState,
)
from planetd.opml import parse_opml, usable_url

#: ``PlanetConfig`` fields that are not planet keys: the feed sections and the report.
_NOT_PLANET_KEYS = frozenset({"path", "feeds", "reading_lists", "ignored", "unknown"})

#: Planet keys a running daemon cannot change: they apply at the next start.
RESTART_KEYS = frozenset(
    {"listen", "database", "access_log", "public_url", "websub", "strip_trackers"}
)


@attrs.frozen
class ReloadPlan:
    """What applying a new config does, as data: the shell executes it and decides nothing."""

    #: Feeds to poll from now on (soon, if never polled).
    added: tuple[FeedConfig, ...] = ()
    #: Feeds to stop polling; their stored entries stay, out of the river.
    removed: tuple[FeedURL, ...] = ()
    #: Feeds whose keys changed: the new values apply from their next poll.
    changed: tuple[FeedConfig, ...] = ()
    lists_added: tuple[ReadingList, ...] = ()
    lists_removed: tuple[FeedURL, ...] = ()
    lists_changed: tuple[ReadingList, ...] = ()
    #: ``[Planet]`` keys whose value changed, by name.
    planet_keys: tuple[str, ...] = ()
    #: Keys among ``planet_keys`` that only a restart applies (listen, database, ...).
    needs_restart: tuple[str, ...] = ()
    #: Whether the pages must be rendered again with the new config.
    rerender: bool = False

    @property
    def empty(self) -> bool:
        """True when the new config changes nothing."""
        return self == ReloadPlan()


def plan_reload(old: PlanetConfig, new: PlanetConfig) -> ReloadPlan:
    """The difference between the running ``old`` config and ``new``, as a plan.

    Both are effective configs (:func:`effective_config`): feeds from reading
    lists count like feed sections. Feeds keep the order of ``new``.
    """
    old_feeds = {f.url: f for f in old.feeds}
    new_feeds = {f.url: f for f in new.feeds}
    old_lists = {r.url: r for r in old.reading_lists}
    new_lists = {r.url: r for r in new.reading_lists}
    keys = tuple(
        field.name
        for field in attrs.fields(PlanetConfig)
        if field.name not in _NOT_PLANET_KEYS
        and getattr(old, field.name) != getattr(new, field.name)
    )
    added = tuple(f for f in new.feeds if f.url not in old_feeds)
    removed = tuple(f.url for f in old.feeds if f.url not in new_feeds)
    changed = tuple(f for f in new.feeds if f.url in old_feeds and old_feeds[f.url] != f)
    return ReloadPlan(
        added=added,
        removed=removed,
        changed=changed,
        lists_added=tuple(r for r in new.reading_lists if r.url not in old_lists),
        lists_removed=tuple(r.url for r in old.reading_lists if r.url not in new_lists),
        lists_changed=tuple(
            r for r in new.reading_lists if r.url in old_lists and old_lists[r.url] != r
        ),
        planet_keys=keys,
        needs_restart=tuple(k for k in keys if k in RESTART_KEYS),
        rerender=bool(added or removed or changed or set(keys) - RESTART_KEYS),
    )


def listed_feeds(data: bytes) -> tuple[ListedFeed, ...]:
    """The feeds a fetched OPML reading list names: http(s) outlines only, each URL once.

    Raises:
        planetd.opml.OpmlError: The document is not OPML.
    """
    seen: set[str] = set()
    found: list[ListedFeed] = []
    for outline in parse_opml(data):
        if usable_url(outline.url) and outline.url not in seen:
            seen.add(outline.url)
            found.append(ListedFeed(url=outline.url, name=outline.name))
    return tuple(found)


def list_feed(reading_list: ReadingList, listed: ListedFeed) -> FeedConfig:
    """One listed feed: the list section's keys, with the feed's own URL and name."""
    return attrs.evolve(
        reading_list.defaults,
        url=FeedURL(listed.url),
        name=listed.name or listed.url,
        reading_list=reading_list.url,
    )


def effective_config(
    config: PlanetConfig, listed: Mapping[FeedURL, Sequence[ListedFeed]]
) -> PlanetConfig:
    """``config`` with the feeds its reading lists name added after its own sections.

    ``listed`` holds each list's feeds as last fetched (lists not in the config
    are left out). A feed that a section of the file names keeps that
    section; one named by two lists comes from the first list in the file.
    """
    feeds = list(config.feeds)
    present = {f.url for f in feeds}
    for reading_list in config.reading_lists:
        for entry in listed.get(reading_list.url, ()):
            if entry.url not in present:
                present.add(FeedURL(entry.url))
                feeds.append(list_feed(reading_list, entry))
    return attrs.evolve(config, feeds=tuple(feeds))


def list_fetched(
    state: ReadingListState,
    fetched: FetchResult,
    feeds: tuple[ListedFeed, ...] | None,
    error: str | None,
    now: datetime,
) -> ReadingListState:
    """A reading list's state after one fetch.

    ``feeds`` are what the body named (None when there was no usable body),
    ``error`` why the body could not be read, if so. Only a usable answer
    (200 read as OPML, or 304) moves the validators; whatever happened, the
    list keeps the feeds it named last until it names others, so a failing
    list never unsubscribes anyone.
    """
    error = error or fetched.error
    if error is None and fetched.kind in (FetchKind.FAILED, FetchKind.GONE):
        error = fetched.kind.value
    answered = error is None and fetched.kind in (FetchKind.OK, FetchKind.NOT_MODIFIED)
    return attrs.evolve(
        state,
        feeds=state.feeds if feeds is None else feeds,
        validators=fetched.validators if answered else state.validators,
        fetched_at=now,
        last_error=error,
    )
