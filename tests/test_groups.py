"""Groups, the pure half: slugs, the ``group`` feed key, ``[group:SLUG]`` sections, and the
planet's list of groups with the feeds each holds."""

from __future__ import annotations

import subprocess
from pathlib import Path

import attrs
import pytest

from conftest import planetd_cli, subprocess_env
from corpus import CORPUS, need
from planetd.boundaries import (
    FeedURL,
    Group,
    GroupSection,
    ListedFeed,
    PlanetConfig,
    ReadingList,
)
from planetd.config import ConfigError, load_config, parse_config
from planetd.groups import find_group, group_names, group_path, groups_by_feed, planet_groups
from planetd.reload import effective_config, plan_reload

PATH = "/srv/planet/planet.ini"

CONFIG = """[Planet]
name = Django community aggregator

[group:community]
title = Community blog posts
description = What the community writes.

[group:Jobs]
name = Jobs

[https://a.example.org/feed]
name = Alpha
group = Community Blog Posts, Jobs

[https://b.example.org/feed]
name = Beta
group = community

[https://c.example.org/feed]
name = Gamma
group = Releases & News!

[https://d.example.org/feed]
name = Delta
"""


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Community blog posts", "community-blog-posts"),
        ("Jobs", "jobs"),
        ("  Releases & News!  ", "releases-news-"),
        ("C++", "c-"),
        ("Python 3.13", "python-3-13"),
        ("Café", "caf-"),
        ("a--b__c", "a-b-c"),
    ],
)
def test_a_slug_is_the_name_lower_cased_with_runs_of_other_characters_as_one_dash(
    name: str, slug: str
) -> None:
    """A group's slug follows INTERFACE.md to the letter: lower case, and every run of
    characters other than a-z and 0-9 becomes one ``-`` (so its path is always safe)."""
    from planetd.groups import slug as make_slug

    assert make_slug(name) == slug


def test_the_group_key_is_a_comma_separated_list_each_group_once() -> None:
    """``group = A, B`` puts a feed in two groups; blanks are dropped, and two spellings of
    one slug count once (the first spelling kept)."""
    assert group_names("Community, Jobs") == ("Community", "Jobs")
    assert group_names(" Jobs ,, jobs, JOBS!") == ("Jobs", "JOBS!")
    assert group_names("") == ()


def test_sections_and_feed_keys_make_the_planets_groups_in_file_order() -> None:
    """Sections come first in file order, then groups that only feeds name; a section's
    title wins, then its name, then the name a feed wrote; members keep config order."""
    config = parse_config(CONFIG, PATH)
    assert config.groups == (
        GroupSection(
            slug="community",
            title="Community blog posts",
            description="What the community writes.",
        ),
        GroupSection(slug="jobs", name="Jobs"),
    )
    a, b, c = (FeedURL(f"https://{x}.example.org/feed") for x in "abc")
    assert releases_feeds_of(parse_config(CONFIG, PATH)) == (c,)
    assert config.feeds[0].groups == ("Community Blog Posts", "Jobs")
    assert config.feeds[3].groups == ()
    groups = planet_groups(config)
    assert [g.slug for g in groups] == [
        "community",
        "jobs",
        "community-blog-posts",
        "releases-news-",
    ]
    community, jobs, blog_posts, releases = groups
    assert community == Group(
        slug="community",
        name="community",
        title="Community blog posts",
        description="What the community writes.",
        feeds=(b,),
    )
    assert (jobs.name, jobs.title, jobs.feeds) == ("Jobs", "Jobs", (a,))
    assert (blog_posts.title, blog_posts.feeds) == ("Community Blog Posts", (a,))
    assert (releases.name, releases.title, releases.description) == (
        "Releases & News!",
        "Releases & News!",
        "",
    )
    by_feed = groups_by_feed(groups)
    assert [g.slug for g in by_feed[a]] == ["jobs", "community-blog-posts"]
    assert FeedURL("https://d.example.org/feed") not in by_feed
    assert find_group(groups, "jobs") is jobs and find_group(groups, "nope") is None
    assert group_path(jobs) == "groups/jobs/"


def test_a_group_section_is_accepted_not_reported_as_ignored() -> None:
    """``planetd check`` no longer calls ``[group:...]`` sections "not a feed URL": they are
    planetd's; a key a group section does not read is reported as unknown, never fatal."""
    config = parse_config(CONFIG + "\n[group:extra]\ncolour = red\n", PATH)
    assert not [key for key, _ in config.ignored if key.startswith("[group:")]
    assert config.unknown == ("[group:extra] colour",)
    assert find_group(planet_groups(config), "extra") == Group(
        slug="extra", name="extra", title="extra", description=""
    )


def test_a_section_without_feeds_is_an_empty_group_and_quotes_are_removed() -> None:
    """A declared group no feed names exists, empty; quoted values mean their words."""
    config = parse_config('[Planet]\n[group:empty]\ntitle = "Nobody\'s here"\n', PATH)
    assert planet_groups(config) == (
        Group(slug="empty", name="empty", title="Nobody's here", description=""),
    )


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("[Planet]\n[group:!!]\ntitle = x\n", 2, "names no group"),
        ("[Planet]\n[group:Jobs]\n[group:jobs]\n", 3, "a second section of group"),
    ],
)
def test_a_group_section_that_names_no_group_or_repeats_one_is_refused(
    text: str, line: int, words: str
) -> None:
    """A group section must name a group, once: the error names the file and the line."""
    with pytest.raises(ConfigError) as info:
        parse_config(text, PATH)
    assert info.value.line == line
    assert words in str(info.value) and str(info.value).startswith(f"{PATH}:{line}:")


def test_a_config_without_groups_has_none() -> None:
    """Planet Python's real config names no group: the planet has no groups at all."""
    config = load_config(str(need(CORPUS / "planetpython" / "config.ini")))
    assert config.groups == ()
    assert all(f.groups == () for f in config.feeds)
    assert planet_groups(config) == ()


def test_a_reading_lists_group_key_puts_every_listed_feed_in_the_group() -> None:
    """``group`` on a reading-list section is a default of its feeds, like its other keys:
    each feed the list names is in that group."""
    config = parse_config(
        "[Planet]\n[https://lists.example.org/l.opml]\ncontent_type = opml\ngroup = Listed\n",
        PATH,
    )
    (reading_list,) = config.reading_lists
    assert isinstance(reading_list, ReadingList)
    listed = {reading_list.url: (ListedFeed(url="https://x.example.org/feed", name="X"),)}
    (group,) = planet_groups(effective_config(config, listed))
    assert (group.slug, group.feeds) == ("listed", (FeedURL("https://x.example.org/feed"),))


def test_changing_a_feeds_groups_or_a_group_section_rerenders_on_reload() -> None:
    """A reload that moves a feed to another group, or retitles a group, renders the pages
    again (the groups are part of what the pages show)."""
    old = parse_config(CONFIG, PATH)
    moved = attrs.evolve(old, feeds=(attrs.evolve(old.feeds[0], groups=("Other",)), *old.feeds[1:]))
    assert plan_reload(old, moved).rerender
    retitled = parse_config(CONFIG.replace("Community blog posts", "Posts"), PATH)
    assert plan_reload(old, retitled).rerender


def test_check_prints_each_group(tmp_path: Path) -> None:
    """``planetd check`` lists each group with its slug, title and how many feeds it holds."""
    path = tmp_path / "planet.ini"
    path.write_text(CONFIG)
    result = subprocess.run(
        [*planetd_cli(), "check", str(path)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "group: community: Community blog posts (1 feeds)" in result.stdout
    assert "group: releases-news-: Releases & News! (1 feeds)" in result.stdout
    assert "[group:" not in result.stdout


def releases_feeds_of(config: object) -> tuple[FeedURL, ...]:
    """The feeds of the ``releases-news-`` group of ``config``."""
    assert isinstance(config, PlanetConfig)
    found = find_group(planet_groups(config), "releases-news-")
    assert found is not None
    return found.feeds
