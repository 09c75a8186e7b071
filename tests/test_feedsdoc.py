"""``/api/feeds`` built incrementally: the same bytes as a full build, made only for the
feeds that changed; feed states reused while their rows are unchanged."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import attrs

from builders import utc
from planetd.boundaries import FeedState, FeedStatus, FeedURL, PollOutcome, Validators
from planetd.config import parse_config
from planetd.feedsdoc import FeedsDocument, FeedViews
from planetd.river import feed_views
from planetd.shapes import feeds_document
from planetd.statememo import FeedStateMemo
from planetd.store import ThreadLocalDatabases, open_database

NOW = utc(2026, 7, 4, 12, 0)

CONFIG_TEXT = """[Planet]
activity_threshold = 30
[https://a.example/feed]
name = Ärger & "quotes"
[https://b.example/feed]
name = Bravo
[https://c.example/feed]
name = charlie
"""


def states() -> list[FeedState]:
    return [
        FeedState(
            url=FeedURL("https://a.example/feed"),
            name="stored name",
            status=FeedStatus.OK,
            http_status=200,
            last_polled_at=NOW - timedelta(minutes=5),
            last_success_at=NOW - timedelta(minutes=5),
            next_poll_at=NOW + timedelta(minutes=90),
            latest_entry_at=NOW - timedelta(days=29, hours=23),
            entry_count=4,
            parser="lxml",
        ),
        FeedState(
            url=FeedURL("https://b.example/feed"),
            name="Bravo",
            status=FeedStatus.FAILING,
            last_error="timed out \ud800 with a lone surrogate",
            consecutive_failures=3,
        ),
        FeedState(url=FeedURL("https://old.example/feed"), name="Not configured any more"),
    ]


def test_the_incremental_document_is_the_full_one_byte_for_byte(tmp_path: Path) -> None:
    """Whatever the feeds hold (configured names, failures, a lone surrogate, feeds no
    longer configured), the incremental build gives exactly ``feeds_document``'s bytes,
    the first time and after changes."""
    config = parse_config(CONFIG_TEXT, str(tmp_path / "p.ini"))
    document = FeedsDocument(config)
    now_states = states()
    assert document.build(now_states, NOW) == feeds_document(now_states, config, NOW)
    now_states[1] = attrs.evolve(now_states[1], status=FeedStatus.OK, last_error=None)
    assert document.build(now_states, NOW) == feeds_document(now_states, config, NOW)
    assert document.build([], NOW) == feeds_document([], config, NOW) == b'{"feeds":[]}'


def test_only_changed_feeds_are_encoded_again(tmp_path: Path) -> None:
    """A feed whose state is the same object keeps its bytes; a new state (a poll) is
    encoded again, and so is a feed whose inactivity flips as the clock moves on."""
    config = parse_config(CONFIG_TEXT, str(tmp_path / "p.ini"))
    document = FeedsDocument(config)
    now_states = states()
    document.build(now_states, NOW)
    assert document.encoded == 3
    document.build(now_states, NOW + timedelta(minutes=1))
    assert document.encoded == 3
    now_states[2] = attrs.evolve(now_states[2], status=FeedStatus.GONE)
    document.build(now_states, NOW)
    assert document.encoded == 4
    later = NOW + timedelta(hours=2)  # feed a's newest entry is now 30 days old: inactive
    body = document.build(now_states, later)
    assert document.encoded == 5
    assert body == feeds_document(now_states, config, later)
    assert b'"inactive":true' in body


def test_the_memo_hands_back_the_same_state_for_an_unchanged_row(tmp_path: Path) -> None:
    """Read through the reader connections' shared memo, an unchanged feed comes back as the
    very same object, a polled one as a new one, and the list equals (order included) what
    a connection without the memo reads."""
    config = parse_config(CONFIG_TEXT, str(tmp_path / "p.ini"))
    path = str(tmp_path / "p.sqlite")
    writer = open_database(path)
    readers = ThreadLocalDatabases(path)
    try:
        writer.sync_feeds(config.feeds, NOW)
        reader = readers.get()
        first = reader.feed_states()
        assert first == writer.feed_states()
        again = reader.feed_states()
        assert all(a is b for a, b in zip(first, again, strict=True))
        polled = FeedState(
            url=config.feeds[1].url,
            name="Bravo",
            status=FeedStatus.OK,
            validators=Validators(etag='"x"'),
        )
        writer.record_poll(config.feeds[1], PollOutcome(state=polled), NOW)
        third = reader.feed_states()
        assert third == writer.feed_states()
        changed = [s.url for a, s in zip(first, third, strict=True) if a is not s]
        assert changed == [config.feeds[1].url]
        assert [s.name for s in third] == ["Bravo", "charlie", 'Ärger & "quotes"']
    finally:
        readers.close_all()
        writer.close()


def test_a_damaged_row_is_skipped_and_not_remembered() -> None:
    """A row the store cannot read is left out of the list, never fatal; a good row is
    made once and then reused."""
    memo = FeedStateMemo()
    made: list[str] = []

    def make(row: tuple[str, ...]) -> FeedState:
        made.append(row[0])
        if row[1] == "damaged":
            raise ValueError("bad status")
        return FeedState(url=FeedURL(row[0]), name=row[1])

    rows = [("https://z/", "Zed"), ("https://bad/", "damaged"), ("https://a/", "alpha")]
    assert [s.name for s in memo.states(rows, make)] == ["alpha", "Zed"]
    assert [s.name for s in memo.states(rows, make)] == ["alpha", "Zed"]
    assert made == ["https://z/", "https://bad/", "https://a/", "https://bad/"]
    assert len(memo) == 2


def test_the_views_are_feed_views_and_made_again_only_when_they_differ(tmp_path: Path) -> None:
    """The pages' views equal ``feed_views``'s, first and after changes; a view is made
    again for a new state, a change of its hidden counts, or a relative time that the
    clock has moved ("5 min ago" to "6 min ago"), and reused otherwise."""
    config = parse_config(CONFIG_TEXT, str(tmp_path / "p.ini"))
    views = FeedViews(config)
    now_states = states()
    hidden = {now_states[0].url: {"flood": 2}}
    assert views.build(now_states, NOW, hidden) == feed_views(now_states, config, NOW, hidden)
    assert views.made == 3
    assert views.build(now_states, NOW + timedelta(seconds=20), hidden) == feed_views(
        now_states, config, NOW + timedelta(seconds=20), hidden
    )
    assert views.made == 3
    later = NOW + timedelta(minutes=1)  # feed a: "6 min ago"; b and c unchanged
    assert views.build(now_states, later, hidden) == feed_views(now_states, config, later, hidden)
    assert views.made == 4
    hidden = {now_states[0].url: {"flood": 3}}
    now_states[2] = attrs.evolve(now_states[2], http_status=500)
    assert views.build(now_states, later, hidden) == feed_views(now_states, config, later, hidden)
    assert views.made == 6
    assert views.build(now_states[1:], later) == feed_views(now_states[1:], config, later)
