"""What the later capabilities keep in the store reads back the same on SQLite and on
PostgreSQL: WebSub subscriptions, the queue of suggested feeds, the parser column, and the
narrowed reads of groups and of one planet of several."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import test_store
from builders import parsed
from planetd.boundaries import (
    FeedStatus,
    FeedURL,
    Hidden,
    PollOutcome,
    Preview,
    Submission,
    SubmissionForm,
    SubmissionState,
    Subscription,
    WebSubState,
)
from planetd.store import Database
from test_store import A, B, ok_state

NOW = datetime(2026, 7, 4, 12, tzinfo=timezone.utc)
#: The store subscribed to A and B, on in-memory SQLite and on a new PostgreSQL database.
db = test_store.db


def test_a_subscription_is_saved_replaced_and_forgotten(db: Database) -> None:
    """A WebSub subscription reads back field for field; saving again replaces it (one row
    per feed); forgetting it removes it."""
    sub = Subscription(
        feed_url=A.url,
        hub="https://hub.example/",
        topic="https://a.example/self",
        secret="s" * 32,
        callback_id="c" * 24,
        requested_at=NOW,
    )
    db.save_subscription(sub)
    assert db.websub_states() == {A.url: sub}
    active = Subscription(
        feed_url=A.url,
        hub=sub.hub,
        topic=sub.topic,
        secret=sub.secret,
        callback_id=sub.callback_id,
        state=WebSubState.ACTIVE,
        requested_at=NOW,
        lease_expires_at=NOW + timedelta(days=1),
        last_push_at=NOW,
        pushes_accepted=3,
        pushes_rejected=1,
        last_error="late",
    )
    db.save_subscription(active)
    assert db.subscriptions() == [active]
    db.forget_subscription(A.url)
    assert db.subscriptions() == []


def test_the_queue_of_suggestions_adds_finds_and_decides(db: Database) -> None:
    """A suggestion gets the next number, is found by its URL, and keeps its decision and
    reason; the pending count follows."""
    queue = db.submission_queue()
    preview = Preview(parsed=True, title="Carol", entries=("One", "Two"))
    first = queue.add(
        SubmissionForm(url="https://c.example/feed", name="Carol", contact="c@example.org"),
        preview,
        NOW,
        10,
    )
    second = queue.add(
        SubmissionForm(url="https://d.example/feed", name="Dan", contact="d@example.org"),
        Preview(error="timed out"),
        NOW,
        10,
    )
    assert second.id == first.id + 1
    assert queue.pending() == 2
    found = queue.find("https://c.example/feed")
    assert isinstance(found, Submission) and found.preview == preview
    decided = queue.decide(second.id, SubmissionState.REJECTED, "not a feed", NOW)
    assert decided is not None and decided.reason == "not a feed"
    assert queue.pending() == 1
    assert [s.form.name for s in queue.all(SubmissionState.REJECTED)] == ["Dan"]


def test_which_parser_read_a_feed_is_kept(db: Database) -> None:
    """The parser that read a feed's last document is stored with its state."""
    state = ok_state(A, NOW, parser="lxml")
    db.record_poll(A, PollOutcome(state=state, entries=(parsed("a1", NOW),)), NOW)
    states = {s.url: s for s in db.feed_states()}
    assert states[A.url].parser == "lxml" and states[B.url].parser is None
    assert states[A.url].status is FeedStatus.OK


def test_reads_narrowed_to_some_feeds_and_their_duplicates(db: Database) -> None:
    """A group's or a planet's feeds narrow the river (an empty set reads nothing); an
    entry named as shown shows although stored hidden; a copy hidden as a duplicate of
    another feed's post is found when that feed is not among a planet's."""
    db.record_poll(A, PollOutcome(state=ok_state(A), entries=(parsed("a1", NOW),)), NOW)
    copy = parsed("b1", NOW - timedelta(hours=1), link="https://blog.example.org/a1")
    db.record_poll(B, PollOutcome(state=ok_state(B), entries=(copy,)), NOW)
    everything = db.entries(limit=10, include_hidden=True)
    hidden = [e for e in everything if e.hidden is Hidden.DUPLICATE]
    assert [e.feed_url for e in hidden] == [B.url]
    assert [e.feed_url for e in db.entries(limit=10, feed_urls=[A.url])] == [A.url]
    assert db.entries(limit=10, feeds=[]) == []
    assert db.entries(limit=10, feeds=[B.url]) == []
    shown = db.entries(limit=10, feeds=[B.url], unhidden=[hidden[0].id])
    assert [e.id for e in shown] == [hidden[0].id]
    assert db.duplicates_alone_in([FeedURL(B.url)]) == [(hidden[0].id, B.url)]
    assert db.duplicates_alone_in([A.url, B.url]) == []
    assert db.duplicates_alone_in([]) == []
