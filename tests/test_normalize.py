"""The entry rules readers notice: stable ids, and dates that never jump."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from builders import parsed, utc
from planetd.boundaries import EntryKey, FeedURL, FutureDates, Hidden, ParsedEntry
from planetd.normalize import FUTURE_TOLERANCE, EntryRow, ExistingEntry, entry_id, merge_entry

FEED = FeedURL("https://blog.example.org/feed")
NOW = utc(2026, 7, 4, 12, 0)
LATER = NOW + timedelta(days=3)
CLAMP = FutureDates.CLAMP


def stored_as(row: EntryRow) -> ExistingEntry:
    """What the store hands back for ``row`` on the next poll."""
    return ExistingEntry(
        published=row.published,
        first_seen=row.first_seen,
        raw_hash=row.raw_hash,
        hidden=row.hidden,
    )


def merged(
    entry: ParsedEntry,
    existing: ExistingEntry | None = None,
    now: datetime = NOW,
    policy: FutureDates = CLAMP,
) -> EntryRow:
    """``merge_entry`` for a row the policy keeps."""
    row = merge_entry(FEED, entry, existing, now, policy)
    assert row is not None
    return row


# -- identity ----------------------------------------------------------------------------


def test_entry_id_is_stable_short_and_url_safe() -> None:
    """The API id of an entry is 24 hex characters, and the same on every call, run and
    release (pinned here: links and cursors that users saved must keep working)."""
    first = entry_id(FEED, EntryKey("tag:example.org,2026:1"))
    assert first == entry_id(FEED, EntryKey("tag:example.org,2026:1"))
    assert first == "c8540f0939aa289fca3e17c0"


def test_entry_id_differs_per_feed_and_per_key() -> None:
    """The same key in two feeds, or two keys in one feed, are different entries."""
    one = entry_id(FEED, EntryKey("1"))
    assert one != entry_id(FeedURL("https://other.example/feed"), EntryKey("1"))
    assert one != entry_id(FEED, EntryKey("2"))
    # The separator keeps the feed URL and the key apart.
    assert entry_id(FeedURL("ab"), EntryKey("c")) != entry_id(FeedURL("a"), EntryKey("bc"))


def test_entry_id_survives_keys_that_are_not_valid_unicode() -> None:
    """A feed id holding a lone surrogate (feedparser can yield one) still gets an id."""
    assert len(entry_id(FEED, EntryKey("bad\ud800id"))) == 24


def test_merged_row_carries_the_parsed_fields() -> None:
    """A new entry's row has its id, key, hash, title, link, author, dates, content, text."""
    entry = parsed(
        "k",
        utc(2026, 7, 1),
        author="Jane",
        updated=utc(2026, 7, 2),
        raw_hash="h1",
    )
    row = merged(entry)
    assert row.id == entry_id(FEED, EntryKey("k"))
    assert (row.key, row.raw_hash, row.title, row.link, row.author) == (
        "k",
        "h1",
        "Title k",
        "https://blog.example.org/k",
        "Jane",
    )
    assert row.published == utc(2026, 7, 1)
    assert row.updated == utc(2026, 7, 2)
    assert row.first_seen == NOW
    assert (row.content_html, row.text) == ("<p>k</p>", "Title k\nk")
    assert row.hidden is None


# -- dates -------------------------------------------------------------------------------


def test_an_entry_without_a_date_is_dated_when_first_seen() -> None:
    """No published or updated date: the entry is dated the moment planetd first saw it."""
    row = merged(parsed("k"))
    assert row.published == row.first_seen == NOW


def test_an_undated_entry_never_moves_on_later_polls() -> None:
    """Re-polled days later, an undated entry keeps its first-seen date: never re-dated."""
    first = merged(parsed("k"))
    again = merged(parsed("k"), stored_as(first), now=LATER)
    assert again.published == NOW
    assert again.first_seen == NOW


def test_updated_stands_in_for_a_missing_published() -> None:
    """With no published date, the updated date dates the entry."""
    assert merged(parsed("k", updated=utc(2026, 7, 1))).published == utc(2026, 7, 1)


def test_an_earlier_date_from_the_feed_moves_the_entry_earlier() -> None:
    """A feed that later gives an undated entry its real (earlier) date moves it back."""
    first = merged(parsed("k"))
    again = merged(parsed("k", utc(2026, 6, 1)), stored_as(first), now=LATER)
    assert again.published == utc(2026, 6, 1)
    assert again.first_seen == NOW


def test_a_later_date_does_not_re_date_the_entry() -> None:
    """A feed that stamps every entry with the fetch time does not push old posts to the top."""
    first = merged(parsed("k", utc(2026, 7, 1)))
    again = merged(parsed("k", LATER), stored_as(first), now=LATER)
    assert again.published == utc(2026, 7, 1)


def test_a_stored_entry_keeps_its_hidden_reason() -> None:
    """An entry hidden when first stored (flood, duplicate) stays hidden when updated."""
    first = attrs.evolve(merged(parsed("k", utc(2026, 7, 1))), hidden=Hidden.FLOOD)
    assert merged(parsed("k"), stored_as(first)).hidden is Hidden.FLOOD


FUTURE = NOW + timedelta(days=30)


def test_future_dates_clamp_to_first_seen_by_default() -> None:
    """The default policy: a post dated a month ahead is dated when it was first seen."""
    assert merged(parsed("k", FUTURE)).published == NOW


def test_clamped_future_entry_does_not_creep_forward() -> None:
    """Each poll clamps to its own 'now'; the stored (earlier) clamp wins, so the entry
    never climbs the river while its date is still ahead."""
    first = merged(parsed("k", FUTURE))
    again = merged(parsed("k", FUTURE), stored_as(first), now=LATER)
    assert again.published == NOW


def test_future_dates_keep_leaves_the_date_alone() -> None:
    """``future_dates = keep``: the feed's future date is stored as given."""
    assert merged(parsed("k", FUTURE), policy=FutureDates.KEEP).published == FUTURE


def test_future_dates_ignore_date_dates_by_first_seen() -> None:
    """``ignore_date``: a future date is dropped, so the entry is dated by first sight,
    and on later polls keeps its stored date."""
    first = merged(parsed("k", FUTURE), policy=FutureDates.IGNORE_DATE)
    assert first.published == NOW
    again = merged(parsed("k", FUTURE), stored_as(first), LATER, FutureDates.IGNORE_DATE)
    assert again.published == NOW


def test_future_dates_ignore_entry_drops_a_new_future_entry() -> None:
    """``ignore_entry``: a new entry dated in the future is not stored at all."""
    assert merge_entry(FEED, parsed("k", FUTURE), None, NOW, FutureDates.IGNORE_ENTRY) is None


def test_future_dates_ignore_entry_keeps_a_stored_entry_at_its_date() -> None:
    """``ignore_entry``: an entry already stored that the feed re-dates into the future
    is kept, at its stored date (it is never deleted by a later poll)."""
    first = merged(parsed("k", utc(2026, 7, 1)), policy=FutureDates.IGNORE_ENTRY)
    again = merged(parsed("k", FUTURE), stored_as(first), LATER, FutureDates.IGNORE_ENTRY)
    assert again.published == utc(2026, 7, 1)


@pytest.mark.parametrize("policy", list(FutureDates))
def test_clock_skew_within_tolerance_is_not_a_future_date(policy: FutureDates) -> None:
    """A date up to FUTURE_TOLERANCE ahead is clock skew: every policy keeps it as given."""
    skewed = NOW + FUTURE_TOLERANCE
    assert merged(parsed("k", skewed), policy=policy).published == skewed


@pytest.mark.parametrize("policy", list(FutureDates))
def test_just_past_the_tolerance_is_a_future_date(policy: FutureDates) -> None:
    """One second beyond FUTURE_TOLERANCE, the policy applies."""
    ahead = NOW + FUTURE_TOLERANCE + timedelta(seconds=1)
    row = merge_entry(FEED, parsed("k", ahead), None, NOW, policy)
    expected = {
        FutureDates.KEEP: ahead,
        FutureDates.IGNORE_DATE: NOW,
        FutureDates.CLAMP: NOW,
        FutureDates.IGNORE_ENTRY: None,
    }[policy]
    assert (row.published if row else None) == expected


def test_a_future_updated_date_counts_as_the_date() -> None:
    """With no published date, a future updated date is what the policy judges."""
    assert merged(parsed("k", updated=FUTURE)).published == NOW


# -- properties --------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)
)
optional_moments = st.none() | moments
parsed_entries = st.builds(
    lambda published, updated: parsed("k", published, updated=updated),
    optional_moments,
    optional_moments,
)


@given(
    entry=parsed_entries,
    now=moments,
    later=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650)),
    policy=st.sampled_from(FutureDates),
)
def test_merging_is_idempotent(
    entry: ParsedEntry, now: datetime, later: timedelta, policy: FutureDates
) -> None:
    """Merging an entry into what was stored for it, at once or any time later, changes
    nothing: re-polling an unchanged feed never rewrites dates."""
    first = merge_entry(FEED, entry, None, now, policy)
    if first is None:
        return
    assert merge_entry(FEED, entry, stored_as(first), now, policy) == first
    assert merge_entry(FEED, entry, stored_as(first), now + later, policy) == first


@given(
    first_entry=parsed_entries,
    later_entries=st.lists(
        st.tuples(
            parsed_entries,
            st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
        ),
        max_size=6,
    ),
    now=moments,
    policy=st.sampled_from(FutureDates),
)
def test_published_never_moves_later_than_first_stored(
    first_entry: ParsedEntry,
    later_entries: list[tuple[ParsedEntry, timedelta]],
    now: datetime,
    policy: FutureDates,
) -> None:
    """Whatever dates a feed sends on later polls, an entry never climbs the river: its
    published date is never later than when first stored, and first_seen never moves."""
    row = merge_entry(FEED, first_entry, None, now, policy)
    if row is None:
        return
    first = row
    for entry, step in later_entries:
        now += step
        row = merged(entry, stored_as(row), now, policy)
        assert row.published <= first.published
        assert row.first_seen == first.first_seen
