"""Several planets, the pure rules: where each is served, routing, and the one poll plan."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from builders import feed_config
from planetd.boundaries import FeedURL, ListedFeed, PlanetConfig, ReadingList
from planetd.config import ConfigError, parse_config
from planetd.planets import (
    PLANETS_PATH,
    host_name,
    is_several,
    listed_of,
    load_planets,
    merge_feed,
    places,
    poll_config,
    route,
    slug,
)
from planetd.reload import effective_config

SHARED = "https://shared.example/feed"


def planet(path: str, **kw: object) -> PlanetConfig:
    return PlanetConfig(path=path, **kw)  # type: ignore[arg-type]


# -- config keys -------------------------------------------------------------------------


def test_mount_host_and_root_are_read_and_normalized(tmp_path: Path) -> None:
    """``mount = /python`` is the prefix ``/python/``; a host is matched without case;
    ``root = no`` says the planet is not served at /."""
    config = parse_config(
        "[Planet]\nmount = /python\nhost = Planet.Python.EXAMPLE\nroot = no\n",
        str(tmp_path / "p.ini"),
    )
    assert (config.mount, config.host, config.root) == ("/python/", "planet.python.example", False)
    assert parse_config("[Planet]\n", str(tmp_path / "p.ini")).root is None


@pytest.mark.parametrize(
    ("key", "value"),
    [("mount", "/"), ("mount", "python"), ("mount", "/a b/"), ("host", "a/b"), ("root", "maybe")],
)
def test_a_bad_place_is_one_line_naming_file_line_and_key(
    tmp_path: Path, key: str, value: str
) -> None:
    """A mount that is not a path below /, a host that is not a host name, a root that is
    not yes/no: one line with the file, the line and the key."""
    path = str(tmp_path / "p.ini")
    with pytest.raises(ConfigError) as caught:
        parse_config(f"[Planet]\nname = P\n{key} = {value}\n", path)
    assert str(caught.value).startswith(f"{path}:3: key '{key}': ")


# -- places ------------------------------------------------------------------------------


def test_the_first_planet_is_also_at_root_and_others_get_a_mount_from_their_file() -> None:
    """Without keys, the first planet is served at / and every other at /<file name>/;
    a mounted planet's pages link from its mount, a root-only one's from /."""
    found = places(
        [planet("/x/main.ini"), planet("/x/Py Sci.ini"), planet("/x/c.ini", mount="/c/")]
    )
    assert [(p.mount, p.root, p.link_root) for p in found] == [
        (None, True, "/"),
        ("/py-sci/", False, "/py-sci/"),
        ("/c/", False, "/c/"),
    ]
    assert [p.folder for p in found] == ["planet", "py-sci", "c"]


def test_root_no_leaves_root_to_the_page_of_planets_and_root_yes_claims_it() -> None:
    """``root = no`` on the first planet: no planet at / (the page of planets is there);
    ``root = yes`` on another: that one is at / instead of the first."""
    found = places([planet("/a.ini", root=False), planet("/b.ini")])
    assert [p.root for p in found] == [False, False]
    assert found[0].mount == "/a/"
    found = places([planet("/a.ini", mount="/a/"), planet("/b.ini", root=True)])
    assert [p.root for p in found] == [False, True]


def test_two_planets_claiming_one_place_is_an_error_naming_both_files(tmp_path: Path) -> None:
    """Same mount, same host, or both ``root = yes``: a ConfigError naming both files."""
    a, b = str(tmp_path / "a.ini"), str(tmp_path / "b.ini")
    for key, value in (("mount", "/p/"), ("host", "p.example"), ("root", True)):
        with pytest.raises(ConfigError) as caught:
            places([planet(a, **{key: value}), planet(b, **{key: value})])
        assert caught.value.path == b
        assert a in str(caught.value)
        assert caught.value.key == key


def test_the_page_of_planets_path_is_reserved() -> None:
    """A planet cannot be mounted where the page of planets is served."""
    with pytest.raises(ConfigError, match="page of planets"):
        places([planet("/a.ini"), planet("/b.ini", mount=PLANETS_PATH)])


def test_one_planet_without_place_keys_needs_no_router() -> None:
    """A lone planet that sets no place is served exactly as before (no router, same config)."""
    lone = planet("/a.ini", feeds=(feed_config(SHARED),))
    assert not is_several([lone])
    assert poll_config([lone]) is lone
    assert is_several([attrs.evolve(lone, mount="/a/")])


# -- routing -----------------------------------------------------------------------------


def test_routing_by_host_then_longest_mount_then_root() -> None:
    """The Host header wins (port and case ignored, the mount may still prefix the path);
    then the longest matching mount; then the planet at /; else no planet."""
    found = places(
        [
            planet("/a.ini", mount="/a/"),
            planet("/b.ini", mount="/a/b/"),
            planet("/h.ini", host="h.example"),
        ]
    )
    a, b, h = found
    assert route(found, "H.Example:8080", "/feeds") == (h, "/feeds")
    assert route(found, "other", "/a/b/feeds") == (b, "/feeds")
    assert route(found, None, "/a/feeds") == (a, "/feeds")
    assert route(found, None, "/a") == (a, "/")
    assert route(found, None, "/zzz") == (a, "/zzz")  # a is first: served at / too
    alone = places([planet("/a.ini", root=False)])
    assert route(alone, None, "/") == (None, "/")
    assert route(alone, None, "/healthz") == (alone[0], "/healthz")  # the daemon's health
    assert host_name("[::1]:8080") == "[::1]"
    assert host_name("Example.org.") == "example.org"
    assert slug("Planet Python!") == "planet-python"


# -- the poll plan -----------------------------------------------------------------------


def test_a_feed_listed_by_several_planets_is_polled_once_by_the_strictest_rules() -> None:
    """One poll per URL: the shortest interval and timeout, the smallest size cap; what is
    stored keeps what every planet shows (largest new_feed_items and cache_keep_entries,
    None being unlimited); filters are each planet's, so the poll plan has none."""
    a = feed_config(SHARED, name="A's name", poll_interval=600.0, feed_timeout=10.0,
                    max_feed_bytes=5000, new_feed_items=2, cache_keep_entries=None,
                    filter="python")  # fmt: skip
    b = feed_config(SHARED, name="B's name", poll_interval=300.0, feed_timeout=20.0,
                    max_feed_bytes=9000, new_feed_items=5, cache_keep_entries=10,
                    exclude="java")  # fmt: skip
    merged = merge_feed([a, b])
    assert (merged.name, merged.poll_interval, merged.feed_timeout, merged.max_feed_bytes) == (
        "A's name",
        300.0,
        10.0,
        5000,
    )
    assert (merged.new_feed_items, merged.cache_keep_entries) == (5, None)
    assert (merged.filter, merged.exclude) == (None, None)
    assert merge_feed([attrs.evolve(a, new_feed_items=None), b]).new_feed_items is None


def test_the_poll_config_lists_every_feed_once_and_keeps_its_planets() -> None:
    """The daemon-wide keys are the first planet's, the feeds the union (first listing
    first), the interval bounds the loosest that keeps every planet's schedule, and the
    planets themselves are carried for their pages."""
    only_a = feed_config("https://a.example/feed")
    only_b = feed_config("https://b.example/feed")
    a = planet("/a.ini", name="A", feeds=(feed_config(SHARED), only_a), min_interval=60.0)
    b = planet("/b.ini", name="B", feeds=(only_b, feed_config(SHARED)), min_interval=1.0,
               max_interval=3600.0, concurrency=3)  # fmt: skip
    merged = poll_config([a, b])
    assert [f.url for f in merged.feeds] == [SHARED, only_a.url, only_b.url]
    assert (merged.name, merged.concurrency) == ("A", a.concurrency)
    assert (merged.min_interval, merged.max_interval) == (1.0, 3600.0)
    assert merged.planets == (a, b)


def test_reading_lists_are_merged_and_their_feeds_found_again() -> None:
    """A reading list two planets name is fetched once, with the strictest of their
    section keys; the feeds a running config took from each list are found by list."""
    defaults = feed_config("https://lists.example/opml", poll_interval=900.0)
    a = planet("/a.ini", reading_lists=(ReadingList(defaults.url, "L", "opml", defaults),))
    stricter = attrs.evolve(defaults, poll_interval=60.0)
    b = planet("/b.ini", reading_lists=(ReadingList(defaults.url, "L", "opml", stricter),))
    merged = poll_config([a, b])
    assert [r.defaults.poll_interval for r in merged.reading_lists] == [60.0]
    listed = attrs.evolve(merged, feeds=(feed_config(SHARED, reading_list=defaults.url),))
    assert [f.url for f in listed_of(listed)[FeedURL(defaults.url)]] == [SHARED]


def test_load_planets_reads_every_file_and_checks_their_places(tmp_path: Path) -> None:
    """The daemon's (and a reload's) read: every file, then the places; a clash is the
    error of the second file."""
    (tmp_path / "a.ini").write_text(f"[Planet]\nname = A\n\n[{SHARED}]\nname = As A\n")
    (tmp_path / "b.ini").write_text(f"[Planet]\nname = B\nmount = /a/\n\n[{SHARED}]\n")
    merged = load_planets([str(tmp_path / "a.ini"), str(tmp_path / "b.ini")])
    assert [p.name for p in merged.planets] == ["A", "B"]
    assert [f.name for f in merged.feeds] == ["As A"]
    (tmp_path / "c.ini").write_text("[Planet]\nname = C\nmount = /a\n")
    with pytest.raises(ConfigError, match="already"):
        load_planets([str(tmp_path / "b.ini"), str(tmp_path / "c.ini")])


def test_a_planets_reading_list_keeps_a_feed_another_planet_has_as_a_section() -> None:
    """Planet A reads a list naming X; planet B has X as a section: X is polled once (the
    section's keys win) and shows in both planets, A's copy named as the list names it."""
    from planetd.planetspage import shown_planets

    lists = feed_config("https://lists.example/opml")
    x = feed_config("https://x.example/feed", name="X as B names it")
    a = planet("/a.ini", reading_lists=(ReadingList(lists.url, "L", "opml", lists),))
    b = planet("/b.ini", feeds=(x,))
    listed = {lists.url: (ListedFeed(x.url, "X as the list names it"),)}
    merged = effective_config(poll_config([a, b]), listed)
    assert [f.url for f in merged.feeds] == [x.url]
    shown = shown_planets(merged, listed)
    assert [[f.name for f in p.config.feeds] for p in shown] == [
        ["X as the list names it"],
        ["X as B names it"],
    ]
