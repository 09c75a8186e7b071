"""The planet's subscriptions as the config lists them, each with what the store knows.

Owns joining the configured feeds with their stored states for the faces that
show every subscription (``planetd feeds``, ``planetd opml export``): the config
says what the planet subscribes to, the store only knows the feeds as of the last
poll. The order is the store's feed order (``name COLLATE NOCASE, url``), which
:func:`_store_order` writes a second time in Python: that rule belongs in one
place of the core, shared with the store's query.

Pure: it must not import Twisted, ``sqlite3`` or the store.
"""

from __future__ import annotations

from collections.abc import Iterable

from planetd.boundaries import FeedState, PlanetConfig


def _store_order(name: str, url: str) -> tuple[bytes, bytes]:
    """The store's feed order (``name COLLATE NOCASE, url``): UTF-8 bytes, ASCII folded."""
    return name.encode("utf-8", "surrogatepass").lower(), url.encode("utf-8", "surrogatepass")


def configured_states(config: PlanetConfig, stored: Iterable[FeedState]) -> list[FeedState]:
    """Every configured feed's stored state (pending if never stored), in the store's order.

    The config is what the planet subscribes to; the store only knows the
    feeds as of the last poll, so a feed added since shows as pending and one
    removed since is left out.
    """
    by_url = {s.url: s for s in stored}
    states = [by_url.get(f.url) or FeedState(url=f.url, name=f.name) for f in config.feeds]
    names = {f.url: f.name for f in config.feeds}
    return sorted(states, key=lambda s: _store_order(names[s.url], s.url))
