"""Several planets in one daemon: where each is served, and the one poll plan they share.

Owns the rules that turn several planet configs into one daemon:

- :func:`places`: where each planet is served (its ``mount`` path prefix,
  its ``host``, whether it is also served at ``/``), with defaults, and the
  one-line error naming both files when two planets claim the same place.
- :func:`poll_config`: the ONE config the poller runs. Every feed URL is
  polled once however many planets list it, with the strictest schedule and
  limits of those planets (shortest ``poll_interval`` and ``feed_timeout``,
  smallest ``max_feed_bytes``); what is stored keeps what every planet needs
  (the largest ``new_feed_items`` and ``cache_keep_entries``, none meaning
  unlimited). Each planet's own feed names, ``filter``/``exclude`` and a
  stricter ``new_feed_items`` apply when its pages are read
  (:mod:`planetd.planetview`), so no planet's choice hides another's entries.
- :func:`route`: which planet a request goes to, by Host header first, then
  by the longest mount its path starts with, then ``/``.

Pure: values in, values out. Must not import Twisted or the store.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence

import attrs

from planetd.boundaries import (
    FeedConfig,
    FeedURL,
    ListedFeed,
    PlanetConfig,
    PlanetPlace,
    ReadingList,
)
from planetd.config import ConfigError, key_error, load_config

#: Where the page of planets is served when there are several (and at ``/`` when no
#: planet is served there).
PLANETS_PATH = "/planets/"

#: Paths a daemon answers whichever planet is at ``/`` (its health, its metrics).
DAEMON_PATHS = ("/healthz", "/metrics")

_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """``Planet Python`` → ``planet-python``: lower case, runs of other characters ``-``."""
    return _SLUG.sub("-", text.lower()).strip("-") or "planet"


def is_several(configs: Sequence[PlanetConfig]) -> bool:
    """Whether the daemon needs the router: several planets, or one that chose its place."""
    if len(configs) != 1:
        return True
    only = configs[0]
    return only.mount is not None or only.host is not None or only.root is False


def places(configs: Sequence[PlanetConfig]) -> tuple[PlanetPlace, ...]:
    """Where each planet is served, in the order given; :class:`ConfigError` on a clash.

    A planet is served at its ``mount`` and on its ``host``; one with neither
    is mounted at ``/<its file's name>/``. The first planet is also served at
    ``/`` unless it says ``root = no``; another may claim ``/`` with
    ``root = yes`` (then the first is not). Two planets on the same mount or
    host, or both claiming ``/``, are an error naming both files.
    """
    claims = [i for i, c in enumerate(configs) if c.root is True]
    if len(claims) > 1:
        a, b = configs[claims[0]], configs[claims[1]]
        raise key_error(b.path, "root", f"{a.path} is already served at / (root = yes)")
    root_index = claims[0] if claims else (0 if configs and configs[0].root is None else None)
    found: list[PlanetPlace] = []
    mounts: dict[str, str] = {}
    hosts: dict[str, str] = {}
    folders: set[str] = set()
    several = len(configs) > 1
    for index, config in enumerate(configs):
        stem = slug(os.path.splitext(os.path.basename(config.path))[0])
        root = index == root_index
        mount = config.mount
        if mount is None and config.host is None and not root:
            mount = f"/{stem}/"
        if mount is not None:
            if several and mount == PLANETS_PATH:
                raise key_error(config.path, "mount", f"{PLANETS_PATH} is the page of planets")
            if mount in mounts:
                raise _clash(config, "mount", mount, mounts[mount])
            mounts[mount] = config.path
        if config.host is not None:
            if config.host in hosts:
                raise _clash(config, "host", config.host, hosts[config.host])
            hosts[config.host] = config.path
        folder = mount.strip("/").replace("/", "-") if mount else slug(config.name)
        while folder in folders:
            folder = f"{folder}-{index + 1}"
        folders.add(folder)
        found.append(
            PlanetPlace(
                index=index,
                name=config.name,
                mount=mount,
                host=config.host,
                root=root,
                link_root=config.mount or ("/" if root or config.host else mount or "/"),
                folder=folder,
            )
        )
    return tuple(found)


def _clash(config: PlanetConfig, key: str, value: str, other: str) -> ConfigError:
    return key_error(config.path, key, f"{value} is already {other}'s {key}")


def route(
    found: Sequence[PlanetPlace], host: str | None, path: str
) -> tuple[PlanetPlace | None, str]:
    """The planet a request for ``path`` on ``host`` goes to, and the path within it.

    The Host header wins (its port and case do not matter); on a planet's
    own host its mount may still prefix the path. Otherwise the longest
    mount ``path`` starts with; then the planet served at ``/``; the daemon's own
    paths (:data:`DAEMON_PATHS`) go to the first planet when none is at ``/``.
    None: no planet (the page of planets, or nothing) answers.
    """
    name = host_name(host)
    for place in found:
        if place.host is not None and place.host == name:
            return place, _within(place.mount, path) or path
    for place in sorted(found, key=lambda p: len(p.mount or ""), reverse=True):
        rest = _within(place.mount, path)
        if rest is not None:
            return place, rest
    for place in found:
        if place.root:
            return place, path
    if path in DAEMON_PATHS and found:
        return found[0], path
    return None, path


def host_name(header: str | None) -> str:
    """A Host header as a planet's ``host`` is written: lower case, no port, no final dot."""
    text = (header or "").strip().lower()
    if not text.endswith("]"):  # an IPv6 literal keeps its colons
        text = text.rsplit(":", 1)[0]
    return text.rstrip(".")


def _within(mount: str | None, path: str) -> str | None:
    """``path`` inside ``mount`` (``/python/feeds`` in ``/python/`` is ``/feeds``), or None."""
    if mount is None:
        return None
    if path == mount.rstrip("/"):
        return "/"
    if path.startswith(mount):
        return "/" + path[len(mount) :]
    return None


def listed_of(config: PlanetConfig) -> dict[FeedURL, tuple[ListedFeed, ...]]:
    """The feeds each reading list named, as the running ``config`` holds them (its
    feeds that came from a list), so each planet of several can run its own lists."""
    listed: dict[FeedURL, list[ListedFeed]] = {}
    for feed in config.feeds:
        if feed.reading_list is not None:
            listed.setdefault(feed.reading_list, []).append(ListedFeed(feed.url, feed.name))
    return {url: tuple(feeds) for url, feeds in listed.items()}


def merge_feed(feeds: Sequence[FeedConfig]) -> FeedConfig:
    """One feed as the poller polls it for every planet that lists it (first planet first).

    The strictest schedule and limits apply; what is stored keeps what every
    planet needs. Filters are each planet's own, judged when its pages are
    read, so the poll plan has none.
    """
    first = feeds[0]
    return attrs.evolve(
        first,
        poll_interval=min(f.poll_interval for f in feeds),
        feed_timeout=min(f.feed_timeout for f in feeds),
        max_feed_bytes=min(f.max_feed_bytes for f in feeds),
        filter=None,
        exclude=None,
        new_feed_items=_most(f.new_feed_items for f in feeds),
        cache_keep_entries=_most(f.cache_keep_entries for f in feeds),
    )


def _most(values: Iterable[int | None]) -> int | None:
    """The largest of ``values``; None (unlimited) if any is None."""
    found = list(values)
    numbers = [v for v in found if v is not None]
    return None if len(numbers) < len(found) else max(numbers)


def poll_config(configs: Sequence[PlanetConfig]) -> PlanetConfig:
    """The one config the daemon polls and stores by: the first planet's daemon-wide keys
    (listen, database, concurrency, ...), every feed and reading list of every planet once,
    and the planets themselves (``planets``) for their pages.

    A single planet that chose no place is returned as it is.
    """
    if not is_several(configs):
        return configs[0]
    by_url: dict[FeedURL, list[FeedConfig]] = {}
    for config in configs:
        for feed in config.feeds:
            by_url.setdefault(feed.url, []).append(feed)
    lists: dict[FeedURL, list[ReadingList]] = {}
    for config in configs:
        for reading_list in config.reading_lists:
            lists.setdefault(reading_list.url, []).append(reading_list)
    first = configs[0]
    min_interval = min(c.min_interval for c in configs)
    return attrs.evolve(
        first,
        feeds=tuple(merge_feed(feeds) for feeds in by_url.values()),
        reading_lists=tuple(
            attrs.evolve(found[0], defaults=merge_feed([r.defaults for r in found]))
            for found in lists.values()
        ),
        min_interval=min_interval,
        max_interval=max(min_interval, min(c.max_interval for c in configs)),
        filter=None,
        exclude=None,
        planets=tuple(configs),
    )


def load_planets(paths: Sequence[str]) -> PlanetConfig:
    """Read every planet's config file and check where each is served: the config the
    daemon runs (:func:`poll_config`); :class:`ConfigError` for the first problem."""
    configs = [load_config(path) for path in paths]
    places(configs)
    return poll_config(configs)
