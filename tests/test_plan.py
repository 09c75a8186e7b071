"""The entry planner: what one poll writes, decided without a database.

New or updated, renamed ids, anti-flood, duplicates across feeds, expunged
entries and retention: each rule is checked on plain values here; the store
only executes the plan (tests/test_store.py checks that it does).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import attrs
from hypothesis import given
from hypothesis import strategies as st

from builders import feed_config, parsed, utc
from planetd.boundaries import (
    EntryKey,
    FeedConfig,
    FutureDates,
    Hidden,
    ParsedEntry,
    PollRecord,
)
from planetd.normalize import EntryRow, ExistingEntry, entry_id, merge_entry
from planetd.plan import (
    EntryPlan,
    StoredFeed,
    StoredRow,
    cross_feed_questions,
    flood_hidden,
    matches_link_of,
    plan_entries,
)

FEED = feed_config("https://a.example/feed")
NOW = utc(2026, 7, 4, 12, 0)
LATER = NOW + timedelta(hours=1)


def day(n: int) -> datetime:
    """Noon UTC on day ``n`` of June 2026."""
    return utc(2026, 6, n, 12, 0)


def merged(entry: ParsedEntry, now: datetime = NOW) -> EntryRow:
    """The row ``merge_entry`` makes for a new entry of FEED."""
    row = merge_entry(FEED.url, entry, None, now, FutureDates.CLAMP)
    assert row is not None
    return row


def stored_row(row: EntryRow) -> StoredRow:
    """What the store reads back for a written ``row``."""
    return StoredRow(
        id=row.id,
        link=row.link,
        entry=ExistingEntry(
            published=row.published,
            first_seen=row.first_seen,
            raw_hash=row.raw_hash,
            hidden=row.hidden,
        ),
    )


def snapshot(
    rows: Iterable[EntryRow] = (),
    *,
    expunged: Iterable[str] = (),
    keys: Iterable[str] = (),
    links: Iterable[str] = (),
) -> StoredFeed:
    """A feed that holds ``rows``; ``keys``/``links`` are held by another active feed."""
    return StoredFeed(
        entries={row.key: stored_row(row) for row in rows},
        expunged=frozenset(EntryKey(k) for k in expunged),
        elsewhere_keys=frozenset(EntryKey(k) for k in keys),
        elsewhere_links=frozenset(links),
    )


def after(stored: StoredFeed, plan: EntryPlan) -> StoredFeed:
    """The snapshot the next poll reads once ``plan`` is written."""
    entries = dict(stored.entries)
    for row in (*plan.updates, *plan.inserts):
        entries[row.key] = stored_row(row)
    for key in plan.expunge:
        del entries[key]
    return attrs.evolve(stored, entries=entries, expunged=stored.expunged | frozenset(plan.expunge))


def plan(
    *entries: ParsedEntry,
    stored: StoredFeed | None = None,
    feed: FeedConfig = FEED,
    now: datetime = NOW,
) -> EntryPlan:
    """The plan for a poll of ``feed`` at ``now`` that delivered ``entries``."""
    return plan_entries(feed, stored or snapshot(), entries, now)


def keys_of(rows: Iterable[EntryRow]) -> list[str]:
    """The keys of planned rows, in plan order."""
    return [row.key for row in rows]


# -- new, updated, unchanged -------------------------------------------------------------


def test_entries_of_a_first_poll_are_all_inserted() -> None:
    """Every entry of a feed's first poll is new: inserted, shown, counted as new."""
    result = plan(parsed("one", day(1)), parsed("two", day(2)))
    assert keys_of(result.inserts) == ["one", "two"]
    assert [row.hidden for row in result.inserts] == [None, None]
    assert (result.updates, result.expunge) == ((), ())
    ids = tuple(row.id for row in result.inserts)
    assert result.record == PollRecord(new_entries=2, updated_entries=0, new_ids=ids)


def test_a_stored_entry_with_new_content_is_updated() -> None:
    """An entry already stored under its key is updated in place: same id, first seen
    when it was, never re-dated later, counted as updated."""
    first = merged(parsed("one", day(1)))
    edited = parsed("one", day(5), raw_hash="v2", title="Edited")
    result = plan(edited, stored=snapshot([first]), now=LATER)
    (row,) = result.updates
    assert (row.id, row.title, row.published, row.first_seen) == (
        first.id,
        "Edited",
        day(1),
        NOW,
    )
    assert result.inserts == ()
    assert result.record == PollRecord(new_entries=0, updated_entries=1)


def test_an_unchanged_entry_is_left_alone() -> None:
    """An entry the parser marked unchanged (same raw hash) is neither inserted nor updated."""
    first = merged(parsed("one", day(1)))
    unchanged = parsed("one", day(1), content_html="", text="", changed=False)
    assert plan(unchanged, stored=snapshot([first])) == EntryPlan()


def test_an_updated_entry_keeps_its_hidden_reason() -> None:
    """An entry hidden when first stored (here by the anti-flood) stays hidden when updated."""
    first = attrs.evolve(merged(parsed("old", day(1))), hidden=Hidden.FLOOD)
    result = plan(parsed("old", day(1), raw_hash="edited"), stored=snapshot([first]))
    assert [row.hidden for row in result.updates] == [Hidden.FLOOD]


def test_a_damaged_stored_row_counts_as_seen_now() -> None:
    """A stored row whose dates could not be read is updated (not inserted twice), as
    first seen at this poll, with the date the feed gives."""
    damaged = StoredFeed(
        entries={
            EntryKey("bad"): StoredRow(
                id=entry_id(FEED.url, EntryKey("bad")), link=None, entry=None
            )
        }
    )
    result = plan(parsed("bad", day(1), raw_hash="again"), stored=damaged, now=LATER)
    (row,) = result.updates
    assert (row.published, row.first_seen, row.hidden) == (day(1), LATER, None)
    assert result.record == PollRecord(new_entries=0, updated_entries=1)


def test_a_poll_without_entries_plans_nothing() -> None:
    """A failed or not-modified poll delivers no entries: nothing is written, and retention
    waits for a poll that brings entries."""
    capped = attrs.evolve(FEED, cache_keep_entries=1)
    stored = snapshot([merged(parsed(f"d{n}", day(n))) for n in (1, 2, 3)])
    assert plan_entries(capped, stored, (), NOW) == EntryPlan()
    assert EntryPlan().record == PollRecord()


# -- renamed ids ---------------------------------------------------------------------------


def test_a_renamed_entry_is_matched_by_its_unique_link() -> None:
    """A feed that minted a fresh id for a post it already delivered: the entry is the
    stored one (same id, first key), updated, not a second entry."""
    first = merged(parsed("id-fetch1", day(1), link="https://a.example/p"))
    again = parsed("id-fetch2", day(1), link="https://a.example/p", raw_hash="h2")
    result = plan(again, stored=snapshot([first]), now=LATER)
    (row,) = result.updates
    assert (row.key, row.id, row.raw_hash, row.first_seen) == ("id-fetch1", first.id, "h2", NOW)
    assert result.inserts == ()


def test_a_link_shared_in_the_document_matches_nothing() -> None:
    """Two new ids linking to the same page (a blog's home page) are not renamed onto the
    stored entry with that link: both are new entries."""
    home = "https://a.example/"
    first = merged(parsed("x", day(1), link=home))
    result = plan(
        parsed("y", day(2), link=home), parsed("z", day(3), link=home), stored=snapshot([first])
    )
    assert keys_of(result.inserts) == ["y", "z"]
    assert result.updates == ()


def test_a_renamed_entry_follows_the_future_dates_policy() -> None:
    """Under ignore_entry, a renamed entry re-dated far ahead is dropped like any new
    future entry: the stored one keeps its date and nothing is written."""
    strict = attrs.evolve(FEED, future_dates=FutureDates.IGNORE_ENTRY)
    first = merged(parsed("old-id", day(1), link="https://a.example/p"))
    far = parsed("new-id", NOW + timedelta(days=400), link="https://a.example/p", raw_hash="h2")
    assert plan(far, stored=snapshot([first]), feed=strict, now=LATER) == EntryPlan()


# -- anti-flood ------------------------------------------------------------------------------


def test_a_first_delivery_hides_all_but_the_newest() -> None:
    """new_feed_items = 2: of a new feed's backlog the two newest are inserted shown, the
    rest hidden as flood."""
    capped = attrs.evolve(FEED, new_feed_items=2)
    result = plan(*(parsed(f"d{n}", day(n)) for n in range(1, 6)), feed=capped)
    assert {row.key: row.hidden for row in result.inserts} == {
        "d1": Hidden.FLOOD,
        "d2": Hidden.FLOOD,
        "d3": Hidden.FLOOD,
        "d4": None,
        "d5": None,
    }


def test_undated_entries_of_a_first_delivery_sink_to_the_oldest_dated_one() -> None:
    """A feed just added with an undated "About" page: the page takes the document's oldest
    date, not "now", so it does not top the river above the feed's real posts; its first
    sight is still now."""
    result = plan(parsed("about"), parsed("d3", day(3)), parsed("d5", day(5)))
    dates = {row.key: row.published for row in result.inserts}
    assert dates == {"about": day(3), "d3": day(3), "d5": day(5)}
    assert {row.first_seen for row in result.inserts} == {NOW}


def test_undated_entries_sink_before_the_flood_cap_is_applied() -> None:
    """With new_feed_items = 1 the newest real post shows, not the undated page."""
    capped = attrs.evolve(FEED, new_feed_items=1)
    result = plan(parsed("about"), parsed("d3", day(3)), parsed("d5", day(5)), feed=capped)
    assert {row.key: row.hidden for row in result.inserts} == {
        "about": Hidden.FLOOD,
        "d3": Hidden.FLOOD,
        "d5": None,
    }


def test_undated_entries_without_dated_neighbours_or_after_the_first_poll_are_dated_now() -> None:
    """A document with no dated entry gives nothing to go by: its entries are dated now. And
    once a feed holds entries, an undated newcomer is new, so it is dated when first seen."""
    alone = plan(parsed("a"), parsed("b"))
    assert {row.published for row in alone.inserts} == {NOW}
    later = plan(
        parsed("new"),
        parsed("d5", day(5)),
        stored=after(snapshot(), plan(parsed("d5", day(5)))),
        now=LATER,
    )
    assert {row.key: row.published for row in later.inserts} == {"new": LATER}


def test_flood_applies_at_the_first_delivery_only() -> None:
    """Once a feed holds entries, however many new ones a poll brings all show."""
    capped = attrs.evolve(FEED, new_feed_items=1)
    first = plan(parsed("d1", day(1)), feed=capped)
    later = plan(
        *(parsed(f"d{n}", day(n)) for n in (2, 3, 4)),
        stored=after(snapshot(), first),
        feed=capped,
        now=LATER,
    )
    assert [row.hidden for row in later.inserts] == [None, None, None]


def test_flood_outranks_duplicate() -> None:
    """A backlog entry that is also another feed's post is hidden as flood, the first reason."""
    capped = attrs.evolve(FEED, new_feed_items=1)
    result = plan(
        parsed("old", day(1)), parsed("new", day(2)), feed=capped, stored=snapshot(keys=["old"])
    )
    assert {row.key: row.hidden for row in result.inserts} == {"old": Hidden.FLOOD, "new": None}


# -- duplicates across feeds -------------------------------------------------------------------


def test_a_post_another_feed_holds_by_key_is_a_duplicate() -> None:
    """A new entry whose id another active feed already holds is inserted hidden as duplicate."""
    result = plan(
        parsed("tag:post", day(1)), parsed("tag:mine", day(1)), stored=snapshot(keys=["tag:post"])
    )
    assert {row.key: row.hidden for row in result.inserts} == {
        "tag:post": Hidden.DUPLICATE,
        "tag:mine": None,
    }


def test_a_post_another_feed_holds_by_link_is_a_duplicate() -> None:
    """Different id, same link as another feed's entry: the same post, hidden as duplicate."""
    copy = parsed("b-id", day(1), link="https://blog.example/post")
    result = plan(copy, stored=snapshot(links=["https://blog.example/post"]))
    assert [row.hidden for row in result.inserts] == [Hidden.DUPLICATE]


def test_content_hash_keys_are_never_duplicates() -> None:
    """A key made from content (no id, no link) names no post across feeds: even when
    another feed holds the same hash key, the entry shows; nor is it asked about."""
    untitled = parsed("hash:abc", day(1), link=None)
    assert [row.hidden for row in plan(untitled, stored=snapshot(keys=["hash:abc"])).inserts] == [
        None
    ]
    assert cross_feed_questions([untitled]) == (frozenset(), frozenset())


def test_only_new_entries_can_be_duplicates() -> None:
    """An entry this feed already holds is updated as it is, even if another feed has it too."""
    first = merged(parsed("tag:post", day(1)))
    result = plan(
        parsed("tag:post", day(1), raw_hash="v2"), stored=snapshot([first], keys=["tag:post"])
    )
    assert [row.hidden for row in result.updates] == [None]


def test_cross_feed_questions_are_the_changed_entries_keys_and_links() -> None:
    """The store is asked about the keys and links of entries with new content only."""
    entries = [
        parsed("a", link="https://x.example/a"),
        parsed("b", link=None),
        parsed("c", link="https://x.example/c", changed=False),
    ]
    assert cross_feed_questions(entries) == (
        frozenset({EntryKey("a"), EntryKey("b")}),
        frozenset({"https://x.example/a"}),
    )


# -- expunged and retention --------------------------------------------------------------------


def test_an_expunged_entry_is_never_re_added() -> None:
    """An entry retention expunged, still carried by the feed, is not inserted again."""
    result = plan(parsed("d1", day(1)), parsed("d9", day(9)), stored=snapshot(expunged=["d1"]))
    assert keys_of(result.inserts) == ["d9"]


def test_retention_expunges_the_oldest_beyond_the_cap() -> None:
    """cache_keep_entries = 3: after the inserts, the feed's oldest entries beyond three
    are expunged, stored and new alike, newest of them first."""
    kept = attrs.evolve(FEED, cache_keep_entries=3)
    stored = snapshot([merged(parsed(f"d{n}", day(n))) for n in (1, 4)])
    result = plan(*(parsed(f"d{n}", day(n)) for n in (2, 3, 5)), stored=stored, feed=kept)
    assert result.expunge == ("d2", "d1")
    assert keys_of(result.inserts) == ["d2", "d3", "d5"]


def test_retention_breaks_date_ties_by_id() -> None:
    """Entries of the same date rank by id, as the river orders them: the lowest ids go."""
    kept = attrs.evolve(FEED, cache_keep_entries=2)
    entries = [parsed(k, day(1)) for k in ("a", "b", "c", "d")]
    result = plan(*entries, feed=kept)
    by_id = sorted((entry_id(FEED.url, e.key), e.key) for e in entries)
    assert result.expunge == (by_id[1][1], by_id[0][1])


def test_retention_ranks_an_updated_entry_by_its_new_date() -> None:
    """An update that moves an entry earlier (the feed gave its real date) counts at the
    earlier date when the oldest are chosen."""
    kept = attrs.evolve(FEED, cache_keep_entries=1)
    undated = merged(parsed("undated"))  # dated NOW, when first seen
    older = merged(parsed("older", day(2)))
    stored = snapshot([undated, older])
    result = plan(parsed("undated", day(1), raw_hash="dated"), stored=stored, feed=kept, now=LATER)
    assert result.expunge == ("undated",)


def test_without_a_cap_nothing_is_expunged() -> None:
    """No cache_keep_entries: the archive is kept whole."""
    result = plan(*(parsed(f"k{n}", day(1 + n % 28)) for n in range(100)))
    assert result.expunge == ()


@given(
    stored_days=st.lists(st.integers(1, 28), max_size=8),
    new_days=st.lists(st.integers(1, 28), min_size=1, max_size=8),
    keep=st.integers(0, 10),
)
def test_retention_keeps_exactly_the_cap(
    stored_days: list[int], new_days: list[int], keep: int
) -> None:
    """Whatever is stored and delivered, retention leaves exactly min(total, cap) entries,
    and every one it keeps is at least as new as every one it expunges."""
    kept = attrs.evolve(FEED, cache_keep_entries=keep)
    stored = snapshot([merged(parsed(f"s{i}", day(d))) for i, d in enumerate(stored_days)])
    result = plan(
        *(parsed(f"n{i}", day(d)) for i, d in enumerate(new_days)), stored=stored, feed=kept
    )
    final = after(stored, result).entries
    total = len(stored_days) + len(new_days)
    assert len(final) == min(total, keep)
    assert len(result.expunge) == total - len(final)
    dates = {row.key: row.published for row in result.inserts}
    dates.update({k: r.entry.published for k, r in stored.entries.items() if r.entry})
    for expunged in result.expunge:
        assert all(dates[expunged] <= dates[k] for k in final)


# -- future dates ------------------------------------------------------------------------------


def test_the_future_dates_policy_passes_through() -> None:
    """A new entry dated a month ahead: clamp dates it now, keep stores the date,
    ignore_entry plans nothing for it."""
    ahead = NOW + timedelta(days=30)
    entry = parsed("future", ahead)
    policies = {
        FutureDates.CLAMP: NOW,
        FutureDates.KEEP: ahead,
        FutureDates.IGNORE_DATE: NOW,
    }
    for policy, expected in policies.items():
        (row,) = plan(entry, feed=attrs.evolve(FEED, future_dates=policy)).inserts
        assert row.published == expected
    ignoring = attrs.evolve(FEED, future_dates=FutureDates.IGNORE_ENTRY)
    assert plan(entry, feed=ignoring) == EntryPlan()


# -- anti-flood: the cap on its own ------------------------------------------------------------


def rows(*days: int) -> list[EntryRow]:
    """One row per day of July 2026, keyed ``d<day>``."""
    return [merged(parsed(f"d{day:02}", utc(2026, 7, day))) for day in days]


def test_no_cap_hides_nothing() -> None:
    """Without new_feed_items, a new feed's whole backlog shows."""
    assert flood_hidden(rows(1, 2, 3), None) == frozenset()


def test_a_feed_within_its_cap_hides_nothing() -> None:
    """A new feed with no more entries than new_feed_items shows them all."""
    assert flood_hidden(rows(1, 2), 2) == frozenset()


def test_a_new_feed_shows_only_its_newest_entries() -> None:
    """new_feed_items = 2: the two newest show, every older one is hidden, whatever the
    document order."""
    assert flood_hidden(rows(3, 1, 5, 2, 4), 2) == {"d01", "d02", "d03"}


def test_zero_new_feed_items_hides_the_whole_backlog() -> None:
    """new_feed_items = 0: nothing of a new feed's backlog reaches the river."""
    assert flood_hidden(rows(1, 2), 0) == {"d01", "d02"}


def test_flood_ties_on_date_are_broken_by_key() -> None:
    """Entries with the same date are ranked by key, so the choice is the same every run."""
    same = [merged(parsed(k, utc(2026, 7, 1))) for k in ("b", "a", "c")]
    assert flood_hidden(same, 1) == {"a", "b"}


# -- renamed ids: the link rule on its own -------------------------------------------------


def test_fresh_id_with_a_known_unique_link_is_the_old_entry() -> None:
    """A feed that mints new ids each fetch: a new key whose link names one stored entry
    is matched to that entry."""
    fresh = merged(parsed("new-id", link="https://blog.example.org/post"))
    assert matches_link_of([fresh], {"https://blog.example.org/post": EntryKey("old-id")}) == {
        "new-id": "old-id"
    }


def test_links_shared_within_the_document_are_not_matched() -> None:
    """Feeds linking every entry to their home page are not merged into one entry."""
    home = "https://blog.example.org/"
    both = [merged(parsed(k, link=home)) for k in ("a", "b")]
    assert matches_link_of(both, {home: EntryKey("old")}) == {}


def test_entries_without_links_or_unknown_links_are_not_matched() -> None:
    """No link, a link never stored, or the same key as stored: nothing to rename."""
    candidates = [
        merged(parsed("a", link=None)),
        merged(parsed("b", link="https://blog.example.org/unseen")),
        merged(parsed("c", link="https://blog.example.org/c")),
    ]
    existing = {"https://blog.example.org/c": EntryKey("c")}
    assert matches_link_of(candidates, existing) == {}
