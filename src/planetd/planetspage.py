"""The page of planets: several planets' newest entries on one river, each under its planet.

Owns what that page holds when one daemon serves several planets: every
planet linked where it is served, and the newest entries of all of them,
newest first under day headings (the shape of a planet's own river), each
showing its planet's name as its source and linking to it. Each planet's
entries are read as that planet shows them (its feeds, filters and
anti-flood, through :class:`planetd.planetview.PlanetReads`); an entry that
several planets show appears once, under the first of them.

Pure: it reads through :class:`planetd.boundaries.ReadsAllPlanets`
synchronously (on a reader thread in the daemon, the main thread in
``planetd render``). Must not import Twisted or the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import attrs

from planetd.boundaries import (
    EntryID,
    FeedURL,
    PlanetConfig,
    PlanetPlace,
    ReadsAllPlanets,
    StoredEntry,
)
from planetd.planetview import PlanetReads
from planetd.render import Renderer
from planetd.river import group_by_day, judge_for, page_items


@attrs.frozen
class ShownPlanet:
    """One planet as the page of planets reads it: where it is served, its config as it
    runs, and what its own anti-flood keeps (:func:`planetd.planetview.flood_keeps`)."""

    place: PlanetPlace
    config: PlanetConfig
    keeps: Mapping[FeedURL, int]


def newest_entries(
    db: ReadsAllPlanets, planets: Sequence[ShownPlanet], items: int
) -> list[StoredEntry]:
    """The ``items`` newest entries of all ``planets``, each as its planet shows it, with
    the planet as its source (name, and a link to where it is served)."""
    seen: set[EntryID] = set()
    found: list[StoredEntry] = []
    for planet in planets:
        reads = PlanetReads(db, planet.config, planet.keeps)
        for entry in reads.entries(limit=items, judge=judge_for(planet.config)):
            if entry.id not in seen:
                seen.add(entry.id)
                found.append(
                    attrs.evolve(
                        entry, feed_name=planet.place.name, feed_link=planet.place.link_root
                    )
                )
    found.sort(key=lambda e: (e.published, e.id), reverse=True)
    return found[:items]


def planets_page(
    db: ReadsAllPlanets,
    planets: Sequence[ShownPlanet],
    renderer: Renderer,
    now: datetime,
    *,
    stylesheet: str,
) -> bytes:
    """The page of planets, as the first planet's templates and page size render it."""
    entries = newest_entries(db, planets, page_items(renderer.config))
    days = group_by_day(entries, renderer.config.new_date_format)
    return renderer.planets_html([p.place for p in planets], days, now, stylesheet)
