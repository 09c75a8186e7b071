"""A planet's groups: their slugs, the planet's list of them, and which feeds each holds.

Owns the rules of groups, each written once. A feed names the groups it is
in with its ``group`` key (``group = Community, Jobs``); a ``[group:SLUG]``
section gives a group a title and a description (Venus ignores sections it
does not know, so such a config stays Venus-valid). A group's slug is its
name lower-cased with every run of characters other than ``a-z0-9`` turned
into ``-``: names that differ only in case or punctuation are one group. A
group named only by feeds exists, titled with its name; a section with no
feed makes an empty group. The planet's groups come in file order: the
sections first, then the groups feeds name, as they first appear.

Pure functions over :mod:`planetd.boundaries` values, used by the config
reader, the site builder, the renderer and the JSON shapes. Must not
import Twisted, SQLite or Jinja2.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from planetd.boundaries import FeedURL, Group, GroupSection, PlanetConfig

_NOT_SLUG = re.compile(r"[^a-z0-9]+")

#: The prefix of a group section's name: ``[group:SLUG]``.
SECTION_PREFIX = "group:"


def slug(name: str) -> str:
    """``Community blog posts`` → ``community-blog-posts``: a group's name as its path."""
    return _NOT_SLUG.sub("-", name.strip().lower())


#: The keys a group section reads.
SECTION_KEYS = frozenset({"name", "title", "description"})


def group_section(header: str, values: Mapping[str, str]) -> GroupSection:
    """The ``[group:SLUG]`` section ``header`` with its ``values`` (quotes already removed).

    Raises:
        ValueError: The header names no slug.
    """
    key = slug(header[len(SECTION_PREFIX) :])
    if key.strip("-") == "":
        raise ValueError(f"[{header}] names no group: write [group:NAME]")
    return GroupSection(
        slug=key,
        name=values.get("name") or None,
        title=values.get("title") or None,
        description=values.get("description", ""),
    )


def group_names(text: str) -> tuple[str, ...]:
    """The group names of a feed's ``group`` key (comma-separated), each once, blanks dropped."""
    names: list[str] = []
    seen: set[str] = set()
    for part in text.split(","):
        name = part.strip()
        if name and slug(name) not in seen:
            seen.add(slug(name))
            names.append(name)
    return tuple(names)


def planet_groups(config: PlanetConfig) -> tuple[Group, ...]:
    """Every group of the planet, sections first (file order), then those only feeds name.

    A group's name is its section's ``name``, else the name the first feed
    in it wrote, else the section's slug; its title is the section's
    ``title``, else its name.
    """
    order: list[str] = []
    written: dict[str, str] = {}
    members: dict[str, list[FeedURL]] = {}
    for declared in config.groups:
        order.append(declared.slug)
        members[declared.slug] = []
    for feed in config.feeds:
        for name in feed.groups:
            key = slug(name)
            if key not in members:
                order.append(key)
                members[key] = []
            written.setdefault(key, name)
            if feed.url not in members[key]:
                members[key].append(feed.url)
    sections = {s.slug: s for s in config.groups}
    found: list[Group] = []
    for key in order:
        section = sections.get(key)
        name = (section.name if section else None) or written.get(key) or key
        found.append(
            Group(
                slug=key,
                name=name,
                title=(section.title if section else None) or name,
                description=section.description if section else "",
                feeds=tuple(members[key]),
            )
        )
    return tuple(found)


def group_path(group: Group) -> str:
    """Where a group's river and outputs are, below the planet's root: ``groups/SLUG/``."""
    return f"groups/{group.slug}/"


def groups_by_feed(groups: tuple[Group, ...]) -> Mapping[FeedURL, tuple[Group, ...]]:
    """Each feed's groups, in the planet's order of groups (feeds in no group are absent)."""
    by_feed: dict[FeedURL, list[Group]] = {}
    for group in groups:
        for url in group.feeds:
            by_feed.setdefault(url, []).append(group)
    return {url: tuple(found) for url, found in by_feed.items()}


def find_group(groups: tuple[Group, ...], wanted: str) -> Group | None:
    """The group whose slug is ``wanted``, or None."""
    return next((g for g in groups if g.slug == wanted), None)
