"""The live river's rules and its ring: what an event holds, what a resuming client missed,
the bytes on the wire, and the shell that keeps the ring and the streams (on a task.Clock)."""

from __future__ import annotations

import json

import attrs
import pytest
from twisted.internet.task import Clock
from twisted.web.test.requesthelper import DummyRequest

from builders import feed_config, parsed, utc
from planetd.boundaries import EntryID, FeedStatus, FetchKind, Hidden, PollReport
from planetd.changes import (
    HEARTBEAT,
    ChangeEvent,
    Resume,
    encode_event,
    encode_reset,
    epoch_of,
    event_id,
    events_for,
    opening,
    resume,
)
from planetd.config import ConfigError, parse_config
from planetd.livefeed import RETRY_AFTER, ChangeFeed, EventsResource
from planetd.plan import StoredFeed, plan_entries

EPOCH = "kx1"


def ids(*numbers: int) -> tuple[EntryID, ...]:
    return tuple(EntryID(f"{n:024x}") for n in numbers)


def ring(first: int, last: int) -> list[ChangeEvent]:
    """Events ``first`` to ``last`` of run EPOCH, one id each, as the shell keeps them."""
    return [ChangeEvent(EPOCH, n, ids(n)) for n in range(first, last + 1)]


# -- what an event holds ------------------------------------------------------------------


def test_a_change_without_new_visible_entries_makes_no_event() -> None:
    """A poll that stored nothing a reader may see publishes nothing."""
    assert events_for((), EPOCH, 7) == []


def test_a_change_makes_one_event_numbered_after_the_last() -> None:
    """One store change is one event, numbered after the newest, holding its ids in the
    order they were stored, each once."""
    [event] = events_for([*ids(3, 1), *ids(3)], EPOCH, 7)
    assert event == ChangeEvent(EPOCH, 8, ids(3, 1))
    assert event.id == f"{EPOCH}-8"


def test_a_large_change_is_split_into_bounded_events() -> None:
    """A first poll of a big feed sends several events of at most ``per_event`` ids, so no
    event line grows without bound; together they hold every id once, in order."""
    events = events_for(ids(*range(1, 251)), EPOCH, 0, per_event=100)
    assert [(e.number, len(e.entry_ids)) for e in events] == [(1, 100), (2, 100), (3, 50)]
    assert sum((e.entry_ids for e in events), ()) == ids(*range(1, 251))


def test_only_entries_stored_visible_are_new_ids() -> None:
    """The ids a poll reports for the live river are those of the entries it stored shown:
    the anti-flood's hidden backlog is never announced."""
    feed = feed_config("https://a.example/feed", new_feed_items=2)
    entries = [parsed(f"d{n}", utc(2026, 7, n)) for n in range(1, 6)]
    plan = plan_entries(feed, StoredFeed(), entries, utc(2026, 7, 6))
    shown = [row.id for row in plan.inserts if row.hidden is None]
    assert len(shown) == 2 and {r.hidden for r in plan.inserts} == {None, Hidden.FLOOD}
    assert plan.record.new_ids == tuple(shown)
    assert plan.record.new_entries == 5


# -- resuming -------------------------------------------------------------------------


def test_a_client_without_an_id_starts_from_now() -> None:
    """A first connection with no id gets live events only: nothing replayed, no reset."""
    assert resume(None, ring(1, 5), EPOCH, 5) == Resume()
    assert resume("", ring(1, 5), EPOCH, 5) == Resume()


def test_a_client_gets_exactly_the_events_after_its_id() -> None:
    """A browser reconnecting with Last-Event-ID 3 gets events 4 and 5, in order."""
    assert resume(f"{EPOCH}-3", ring(1, 5), EPOCH, 5) == Resume(missed=tuple(ring(4, 5)))


def test_a_client_that_is_current_gets_nothing() -> None:
    """Resuming from the newest event (or from 0 before any event) replays nothing."""
    assert resume(f"{EPOCH}-5", ring(1, 5), EPOCH, 5) == Resume()
    assert resume(f"{EPOCH}-0", [], EPOCH, 0) == Resume()


def test_the_oldest_kept_event_is_still_resumable() -> None:
    """The ring holds 11 to 20: a client at 10 missed only kept events and gets them all."""
    assert resume(f"{EPOCH}-10", ring(11, 20), EPOCH, 20) == Resume(missed=tuple(ring(11, 20)))


def test_a_client_that_missed_events_no_longer_kept_must_reload() -> None:
    """The ring holds 11 to 20: a client at 9 missed event 10, which is gone: a reset."""
    assert resume(f"{EPOCH}-9", ring(11, 20), EPOCH, 20) == Resume(reset=True)


@pytest.mark.parametrize(
    "last",
    ["other-3", f"{EPOCH}-6", f"{EPOCH}-x", "garbage", f"{EPOCH}-3-4", f"{EPOCH}-" + "9" * 40],
)
def test_an_id_not_of_this_run_resets(last: str) -> None:
    """An id of an earlier run (a restart), ahead of the newest event, or garbled never
    passes for a place in this run's feed: the page is told to reload."""
    assert resume(last, ring(1, 5), EPOCH, 5) == Resume(reset=True)


def test_runs_have_distinct_epochs() -> None:
    """Two runs started a millisecond apart name their events differently."""
    assert epoch_of(1_780_000_000.000) != epoch_of(1_780_000_000.001)
    assert epoch_of(0) == "0"
    assert all((c.isalnum() and c.islower()) or c.isdigit() for c in epoch_of(1_780_000_000.5))


# -- on the wire ------------------------------------------------------------------------


def test_an_event_on_the_wire() -> None:
    """An entries event is its id, its name and one line of JSON with the ids, ended by a
    blank line (the text/event-stream framing)."""
    wire = encode_event(ChangeEvent(EPOCH, 4, ids(1, 2)))
    lines = wire.decode().split("\n")
    assert lines[:2] == [f"id: {EPOCH}-4", "event: entries"]
    assert json.loads(lines[2].removeprefix("data: ")) == {"ids": list(ids(1, 2))}
    assert wire.endswith(b"\n\n") and wire.count(b"\n\n") == 1


def test_a_reset_carries_the_current_id() -> None:
    """A reset moves the browser's Last-Event-ID to now, so its next reconnect is not reset
    again."""
    assert encode_reset(EPOCH, 9) == f"id: {EPOCH}-9\nevent: reset\ndata: {{}}\n\n".encode()


def test_heartbeats_and_the_opening_are_comments() -> None:
    """The heartbeat is a comment (a browser dispatches nothing for it); the opening sets
    the reconnect delay."""
    assert HEARTBEAT.startswith(b":") and HEARTBEAT.endswith(b"\n\n")
    assert opening(5000).startswith(b"retry: 5000\n")


# -- the shell on a clock -----------------------------------------------------------------


def report(*new: EntryID) -> PollReport:
    return PollReport(
        url=feed_config().url,
        status=FeedStatus.OK,
        fetch_kind=FetchKind.OK,
        http_status=200,
        parsed=True,
        new_entries=len(new),
        elapsed=0.1,
        error=None,
        not_modified=False,
        new_ids=new,
    )


def open_stream(feed: ChangeFeed, last: str | None = None) -> DummyRequest:
    request = DummyRequest([b"events"])
    if last is not None:
        request.requestHeaders.setRawHeaders(b"last-event-id", [last.encode()])
    assert EventsResource(feed).render_GET(request) == 1  # NOT_DONE_YET
    return request


def written(request: DummyRequest) -> bytes:
    return b"".join(request.written)


def test_the_ring_keeps_its_stated_size_and_resets_a_client_behind_it() -> None:
    """Only ``ring_size`` events are kept: a client that missed more than that is reset,
    one within it gets what it missed."""
    feed = ChangeFeed(Clock(), ring_size=3)
    for n in range(1, 6):
        feed.polled(report(*ids(n)))
    assert feed.latest == 5 and feed.last_event_id == event_id(feed.epoch, 5)
    behind = open_stream(feed, event_id(feed.epoch, 1))
    assert b"event: reset" in written(behind) and b"event: entries" not in written(behind)
    within = open_stream(feed, event_id(feed.epoch, 3))
    assert written(within).count(b"event: entries") == 2
    assert f"id: {feed.epoch}-4".encode() in written(within)


def test_polls_with_nothing_new_publish_nothing() -> None:
    """A 304, a failure or a poll of known entries moves no event id."""
    feed = ChangeFeed(Clock())
    stream = open_stream(feed)
    feed.polled(report())
    assert feed.latest == 0 and b"event:" not in written(stream)


def test_heartbeat_runs_only_while_streams_are_open() -> None:
    """Every ``heartbeat`` seconds each open stream gets a comment; with no stream open no
    timer is left pending (nothing keeps an idle daemon busy)."""
    clock = Clock()
    feed = ChangeFeed(clock, heartbeat=15)
    assert clock.getDelayedCalls() == []
    first, second = open_stream(feed), open_stream(feed)
    clock.advance(14.9)
    assert HEARTBEAT not in written(first)
    clock.advance(0.2)
    assert HEARTBEAT in written(first) and HEARTBEAT in written(second)
    clock.advance(15)
    assert written(first).count(HEARTBEAT) == 2
    first.processingFailed(Exception("client went away"))  # notifyFinish errbacks
    second.finish()
    assert feed.open_streams == 0
    assert clock.getDelayedCalls() == []


def test_over_the_cap_a_client_is_told_to_come_back_later() -> None:
    """With ``max_streams`` streams open the next client gets a 503 with Retry-After and
    its request is finished, not held; a stream that ends frees its place."""
    feed = ChangeFeed(Clock(), max_streams=1)
    held = open_stream(feed)
    refused = DummyRequest([b"events"])
    body = EventsResource(feed).render_GET(refused)
    assert isinstance(body, bytes) and refused.responseCode == 503
    assert refused.responseHeaders.getRawHeaders(b"retry-after") == [str(RETRY_AFTER).encode()]
    held.finish()
    open_stream(feed)
    assert feed.open_streams == 1


def test_closing_ends_every_stream_and_refuses_new_ones() -> None:
    """At shutdown every open stream is finished (the client sees the end) and none opens."""
    clock = Clock()
    feed = ChangeFeed(clock)
    streams = [open_stream(feed) for _ in range(3)]
    feed.close()
    assert all(s.finished for s in streams)
    assert feed.open_streams == 0 and clock.getDelayedCalls() == []
    late = DummyRequest([b"events"])
    EventsResource(feed).render_GET(late)
    assert late.responseCode == 503


def test_a_stream_is_an_event_stream_never_cached() -> None:
    """``/events`` answers text/event-stream, no-store, and nothing a proxy may buffer."""
    request = open_stream(ChangeFeed(Clock()))
    headers = request.responseHeaders
    assert headers.getRawHeaders(b"content-type") == [b"text/event-stream; charset=utf-8"]
    assert headers.getRawHeaders(b"cache-control") == [b"no-store"]
    assert headers.getRawHeaders(b"x-accel-buffering") == [b"no"]
    assert headers.getRawHeaders(b"etag") is None


# -- config ---------------------------------------------------------------------------


def test_the_live_river_keys_are_read_and_checked() -> None:
    """``max_event_streams`` and ``event_heartbeat`` are planetd keys with defaults of 1000
    streams and 15 s; a heartbeat of zero is refused naming its line."""
    default = parse_config("[Planet]\nname = P\n", "/p/planet.ini")
    assert (default.max_event_streams, default.event_heartbeat) == (1000, 15.0)
    config = parse_config("[Planet]\nmax_event_streams = 3\nevent_heartbeat = 2s\n", "/p/x")
    assert (config.max_event_streams, config.event_heartbeat) == (3, 2.0)
    assert config.unknown == ()
    with pytest.raises(ConfigError) as raised:
        parse_config("[Planet]\nevent_heartbeat = 0\n", "/p/planet.ini")
    assert raised.value.line == 2 and raised.value.key == "event_heartbeat"


def test_poll_reports_carry_ids_without_breaking_old_callers() -> None:
    """``new_ids`` defaults to none, so a report built without it still publishes nothing."""
    plain = attrs.evolve(report(), new_ids=())
    feed = ChangeFeed(Clock())
    feed.polled(plain)
    assert feed.latest == 0
