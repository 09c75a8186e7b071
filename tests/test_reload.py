"""What a new config changes, and which feeds a reading list names: the pure decisions."""

from __future__ import annotations

from datetime import datetime, timezone

import attrs
import pytest

from planetd.boundaries import (
    FeedURL,
    FetchKind,
    FetchResult,
    ListedFeed,
    ReadingListState,
    Validators,
)
from planetd.config import parse_config
from planetd.opml import OpmlError
from planetd.reload import (
    ReloadPlan,
    effective_config,
    list_fetched,
    listed_feeds,
    plan_reload,
)

HEAD = "[Planet]\nname = P\n"


def config(text: str, head: str = HEAD):  # type: ignore[no-untyped-def]
    return parse_config(head + text, "/planet/planet.ini")


def test_the_same_config_changes_nothing() -> None:
    """Reloading an unchanged file is an empty plan: nothing is polled, nothing re-rendered."""
    old = config("[https://a.example/feed]\nname = A\n")
    plan = plan_reload(old, config("[https://a.example/feed]\nname = A\n"))
    assert plan == ReloadPlan()
    assert plan.empty


def test_feeds_added_removed_and_changed() -> None:
    """A feed new to the file is added, one gone from it removed, one whose keys moved is
    changed (with its new keys), and the pages are re-rendered."""
    old = config("[https://a.example/]\nname = A\n[https://b.example/]\nname = B\n")
    new = config("[https://b.example/]\nname = Bee\n[https://c.example/]\nname = C\n")
    plan = plan_reload(old, new)
    assert [f.url for f in plan.added] == ["https://c.example/"]
    assert plan.removed == ("https://a.example/",)
    assert [(f.url, f.name) for f in plan.changed] == [("https://b.example/", "Bee")]
    assert plan.planet_keys == ()
    assert plan.rerender


def test_planet_keys_that_changed_and_those_only_a_restart_applies() -> None:
    """A changed ``[Planet]`` key is named and re-renders; ``listen`` and ``database`` are
    named as needing a restart, and on their own re-render nothing."""
    old = config("", HEAD + "items_per_page = 10\n")
    plan = plan_reload(old, config("", HEAD + "items_per_page = 20\n"))
    assert plan.planet_keys == ("items_per_page",)
    assert plan.rerender and plan.needs_restart == ()
    moved = plan_reload(old, config("", HEAD + "items_per_page = 10\nlisten = tcp:9\n"))
    assert moved.planet_keys == ("listen",)
    assert moved.needs_restart == ("listen",)
    assert not moved.rerender


def test_a_planet_wide_default_changes_every_feed_that_inherits_it() -> None:
    """``poll_interval`` in ``[Planet]`` is every feed's default: each feed without its own
    value is changed, one with its own is not."""
    feeds = "[https://a.example/]\n[https://b.example/]\npoll_interval = 5m\n"
    plan = plan_reload(config(feeds), config(feeds, HEAD + "poll_interval = 2h\n"))
    assert [f.url for f in plan.changed] == ["https://a.example/"]
    assert plan.changed[0].poll_interval == 7200


def test_template_dir_change_re_renders() -> None:
    """A new ``template_dir`` re-renders the pages."""
    plan = plan_reload(config(""), config("", HEAD + "template_dir = mine\n"))
    assert plan.planet_keys == ("template_dir",)
    assert plan.rerender


def test_reading_list_sections_are_lists_not_feeds() -> None:
    """A feed section with ``content_type = opml`` is a reading list, its other keys the
    defaults of its feeds; FOAF is reported as not read, with the reason."""
    parsed = config(
        "[http://www.techmeme.com/lb.opml]\ncontent_type = opml\npoll_interval = 2h\nface = x.png\n"
        "[https://example.org/foaf.rdf]\ncontent_type = foaf\n"
    )
    assert parsed.feeds == ()
    (reading_list,) = parsed.reading_lists
    assert reading_list.url == "http://www.techmeme.com/lb.opml"
    assert reading_list.content_type == "opml"
    assert reading_list.defaults.poll_interval == 7200
    assert reading_list.defaults.extra == {"face": "x.png"}
    assert reading_list.defaults.face == "x.png"
    assert [k for k, _ in parsed.ignored] == ["[https://example.org/foaf.rdf]"]
    assert "FOAF" in parsed.ignored[0][1]


OPML = b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>L</title></head><body>
  <outline text="Group">
    <outline text="  Alpha   Blog " type="rss" xmlUrl="https://a.example/feed"/>
    <outline title="Beta" xmlUrl="http://b.example/rss"/>
    <outline text="Again" xmlUrl="https://a.example/feed"/>
    <outline text="Local" xmlUrl="file:/etc/passwd"/>
    <outline text="No name" xmlUrl="https://c.example/atom"/>
  </outline>
</body></opml>"""


def test_listed_feeds_are_the_http_outlines_each_once() -> None:
    """Every http(s) outline of the list, nested ones included, named from its text (else
    title), each URL once; ``file:`` outlines are never read from a fetched list."""
    assert listed_feeds(OPML) == (
        ListedFeed("https://a.example/feed", "Alpha Blog"),
        ListedFeed("http://b.example/rss", "Beta"),
        ListedFeed("https://c.example/atom", "No name"),
    )


def test_a_list_that_is_not_opml_raises() -> None:
    """A body that is not OPML is an error the shell reports; it never becomes zero feeds."""
    with pytest.raises(OpmlError):
        listed_feeds(b"<rss><channel/></rss>")


def test_effective_config_adds_listed_feeds_with_the_sections_defaults() -> None:
    """Each listed feed takes the list section's keys, its own URL and name, and names its
    list; a feed the file has a section for keeps that section; a list that is no longer
    in the config contributes nothing."""
    parsed = config(
        "[https://a.example/feed]\nname = Own section\n"
        "[https://l.example/list.opml]\ncontent_type = opml\npoll_interval = 3h\n"
    )
    listed = {
        FeedURL("https://l.example/list.opml"): (
            ListedFeed("https://a.example/feed", "From list"),
            ListedFeed("https://b.example/feed", "Bee"),
            ListedFeed("https://c.example/feed", ""),
        ),
        FeedURL("https://gone.example/list.opml"): (ListedFeed("https://d.example/", "D"),),
    }
    feeds = effective_config(parsed, listed).feeds
    assert [(f.url, f.name, f.reading_list) for f in feeds] == [
        ("https://a.example/feed", "Own section", None),
        ("https://b.example/feed", "Bee", "https://l.example/list.opml"),
        ("https://c.example/feed", "https://c.example/feed", "https://l.example/list.opml"),
    ]
    assert feeds[1].poll_interval == 3 * 3600


def test_a_feed_leaving_a_list_is_removed_like_a_reload() -> None:
    """A list that drops a feed plans its removal exactly as an edited file would."""
    parsed = config("[https://l.example/list.opml]\ncontent_type = opml\n")
    url = FeedURL("https://l.example/list.opml")
    both = (ListedFeed("https://a.example/", "A"), ListedFeed("https://b.example/", "B"))
    old = effective_config(parsed, {url: both})
    new = effective_config(parsed, {url: both[:1]})
    plan = plan_reload(old, new)
    assert plan.removed == ("https://b.example/",)
    assert plan.added == () and plan.changed == ()


LIST = FeedURL("https://l.example/list.opml")
WHEN = datetime(2026, 7, 4, tzinfo=timezone.utc)
KNOWN = ReadingListState(
    url=LIST, feeds=(ListedFeed("https://a.example/", "A"),), validators=Validators(etag='"1"')
)


def test_a_list_read_anew_takes_its_feeds_and_validators() -> None:
    """A 200 read as OPML replaces the list's feeds and validators and clears its error."""
    fetched = FetchResult(kind=FetchKind.OK, http_status=200, validators=Validators(etag='"2"'))
    feeds = (ListedFeed("https://b.example/", "B"),)
    state = list_fetched(attrs.evolve(KNOWN, last_error="x"), fetched, feeds, None, WHEN)
    assert state == ReadingListState(
        url=LIST, feeds=feeds, validators=Validators(etag='"2"'), fetched_at=WHEN
    )


@pytest.mark.parametrize(
    ("fetched", "error", "why"),
    [
        (FetchResult(kind=FetchKind.FAILED, http_status=404, error="HTTP 404"), None, "HTTP 404"),
        (FetchResult(kind=FetchKind.GONE, http_status=410), None, "gone"),
        (FetchResult(kind=FetchKind.OK, validators=Validators(etag='"3"')), "not OPML", "not OPML"),
    ],
)
def test_a_list_that_fails_keeps_its_feeds_and_validators(
    fetched: FetchResult, error: str | None, why: str
) -> None:
    """A list that fails, is gone or is not OPML keeps the feeds it last named (nobody is
    unsubscribed by an outage) and its validators, and says why."""
    state = list_fetched(KNOWN, fetched, None, error, WHEN)
    assert state.feeds == KNOWN.feeds
    assert state.validators == KNOWN.validators
    assert state.last_error == why


def test_an_unchanged_list_keeps_its_feeds() -> None:
    """A 304 keeps the feeds and takes the answer's validators."""
    fetched = FetchResult(kind=FetchKind.NOT_MODIFIED, validators=Validators(etag='"1"'))
    state = list_fetched(KNOWN, fetched, None, None, WHEN)
    assert (state.feeds, state.last_error, state.fetched_at) == (KNOWN.feeds, None, WHEN)
