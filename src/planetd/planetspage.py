"""The page of planets: several planets' newest entries on one river, each under its planet.

Owns what that page holds when one daemon serves several planets: every
planet linked where it is served, and the newest entries of all of them,
newest first under day headings (the shape of a planet's own river), each
showing its planet's name as its source and linking to it. Each planet's
entries are read as that planet shows them (its feeds, filters and
anti-flood, through :class:`planetd.planetview.PlanetReads`); an entry that
several planets show appears once, under the first of them.

:func:`static_planets` is ``planetd render`` of several planets: each planet's
own static site in its folder, and this page as the ``index.html`` above them.

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
    ListedFeed,
    PlanetConfig,
    PlanetPlace,
    ReadsAllPlanets,
    StoredEntry,
)
from planetd.faces import DEFAULT_FACES_DIR
from planetd.planets import listed_of, places
from planetd.planetview import PlanetReads, flood_keeps
from planetd.reload import effective_config
from planetd.render import Renderer
from planetd.river import group_by_day, judge_for, page_items
from planetd.site import Site


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


def shown_planets(
    config: PlanetConfig, listed: Mapping[FeedURL, Sequence[ListedFeed]] | None = None
) -> list[ShownPlanet]:
    """Each planet of the running ``config`` (:func:`planetd.planets.poll_config`'s), as
    it runs (with the feeds its reading lists named when last fetched, ``listed``; by
    default those the running config holds) and where it is served."""
    if listed is None:
        listed = listed_of(config)
    polled = {f.url: f for f in config.feeds}
    shown = []
    for place, planet in zip(places(config.planets), config.planets, strict=True):
        running = effective_config(planet, listed)
        shown.append(ShownPlanet(place, running, flood_keeps(running, polled)))
    return shown


def static_planets(
    db: ReadsAllPlanets,
    planets: Sequence[ShownPlanet],
    faces: Sequence[Mapping[str, bytes]],
    now: datetime,
) -> dict[str, bytes]:
    """Every file ``planetd render`` writes for several planets: each planet's own static
    site (:meth:`planetd.site.Site.static_files`, with its face files) in its folder, and
    the page of planets as ``index.html``, linking to those folders."""
    files: dict[str, bytes] = {}
    linked = []
    for planet, face_files in zip(planets, faces, strict=True):
        folder = planet.place.folder
        site = Site(planet.config, Renderer(planet.config, face_files))
        reads = PlanetReads(db, planet.config, planet.keeps)
        for name, body in site.static_files(reads, now).items():
            files[f"{folder}/{name}"] = body
        for name, body in face_files.items():
            files[f"{folder}/{DEFAULT_FACES_DIR}/{name}"] = body
        linked.append(
            attrs.evolve(planet, place=attrs.evolve(planet.place, link_root=f"{folder}/"))
        )
    renderer = Renderer(planets[0].config, root="./")
    stylesheet = f"{planets[0].place.folder}/planetd.css"
    files["index.html"] = planets_page(db, linked, renderer, now, stylesheet=stylesheet)
    return files
