"""The planet's subscriptions as the config lists them, each with what the store knows.

Owns joining the configured feeds with their stored states for the faces that
show every subscription (``planetd feeds``, ``planetd opml export``): the config
says what the planet subscribes to, the store only knows the feeds as of the last
poll. It also owns the one order in which feeds are listed everywhere
(:func:`feed_order`): the store sorts by it too.

Pure: it must not import Twisted, ``sqlite3`` or the store.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from planetd.boundaries import FeedState, PlanetConfig


def feed_order(state: FeedState) -> tuple[bytes, bytes]:
    """How feeds are listed: by name, ASCII letters folded (as SQLite's NOCASE), then URL.

    UTF-8 bytes rather than ``str``: the order stays the one SQLite's
    ``COLLATE NOCASE`` gave before, byte for byte, for names in any script.
    """
    return (
        state.name.encode("utf-8", "surrogatepass").lower(),
        state.url.encode("utf-8", "surrogatepass"),
    )


def configured_states(config: PlanetConfig, stored: Iterable[FeedState]) -> list[FeedState]:
    """Every configured feed's stored state (pending if never stored), in the store's order.

    The config is what the planet subscribes to; the store only knows the
    feeds as of the last poll, so a feed added since shows as pending and one
    removed since is left out.
    """
    by_url = {s.url: s for s in stored}
    states = [by_url.get(f.url) or FeedState(url=f.url, name=f.name) for f in config.feeds]
    names = {f.url: f.name for f in config.feeds}
    # Ordered by the configured name: the stored one may predate a rename.
    return sorted(states, key=lambda s: feed_order(attrs.evolve(s, name=names[s.url])))
