"""What one poll means for a feed: status, failures, validators, redirects, next poll."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from builders import feed_config, parsed, utc
from planetd.boundaries import (
    FeedState,
    FeedStatus,
    FeedURL,
    FetchKind,
    FetchResult,
    ParsedFeed,
    PollOutcome,
    Validators,
)
from planetd.decide import decide_poll, needs_parse
from planetd.schedule import Bounds

NOW = utc(2026, 7, 4, 12, 0)
BEFORE = NOW - timedelta(hours=1)
HOUR = 3600.0
BOUNDS = Bounds(min_interval=300.0, max_interval=86400.0)
FEED = feed_config(name="Jane (configured)")
OLD = Validators(etag='"v1"', last_modified="Sat, 04 Jul 2026 10:00:00 GMT", body_hash="b1")
STATE = FeedState(
    url=FeedURL(FEED.url),
    name="Jane (stored)",
    link="https://blog.example.org/",
    title="Jane's old title",
    status=FeedStatus.OK,
    last_success_at=BEFORE,
    validators=OLD,
)


def decide(
    fetched: FetchResult,
    parsed_feed: ParsedFeed | None = None,
    state: FeedState = STATE,
    jitter: float = 0.5,
) -> PollOutcome:
    """``decide_poll`` for the hourly test feed at NOW."""
    return decide_poll(FEED, state, fetched, parsed_feed, now=NOW, bounds=BOUNDS, jitter=jitter)


def ok(**kw: object) -> FetchResult:
    """A 200 with new validators."""
    values: dict[str, object] = {
        "kind": FetchKind.OK,
        "http_status": 200,
        "body": b"<feed/>",
        "validators": Validators(etag='"v2"', body_hash="b2"),
    }
    values.update(kw)
    return FetchResult(**values)  # type: ignore[arg-type]


def delay_of(outcome: PollOutcome) -> float:
    """Seconds from NOW to the outcome's next poll."""
    assert outcome.state.next_poll_at is not None
    return (outcome.state.next_poll_at - NOW).total_seconds()


# -- needs_parse -------------------------------------------------------------------------


def test_a_new_body_needs_a_parse() -> None:
    """A 200 whose body differs from the last one is parsed."""
    assert needs_parse(STATE, ok())


def test_a_byte_identical_body_is_not_parsed_again() -> None:
    """A 200 whose body hash equals the stored one (servers without validators) is skipped."""
    assert not needs_parse(STATE, ok(validators=Validators(body_hash="b1")))


def test_a_body_without_a_hash_is_parsed() -> None:
    """When the fetcher gives no body hash, planetd cannot tell: it parses."""
    assert needs_parse(STATE, ok(validators=Validators()))


@pytest.mark.parametrize(
    "kind", [FetchKind.NOT_MODIFIED, FetchKind.FAILED, FetchKind.GONE, FetchKind.THROTTLED]
)
def test_only_a_200_is_parsed(kind: FetchKind) -> None:
    """A 304, a failure, a 410 or a 429/503 has no body to parse."""
    assert not needs_parse(STATE, FetchResult(kind=kind, validators=Validators(body_hash="x")))


# -- a good poll ---------------------------------------------------------------------------


def test_a_good_poll_records_success_and_the_feeds_entries() -> None:
    """A 200 that parses: status ok, success time now, the feed's own title and site link,
    its entries to write, the configured name, failures reset."""
    entries = (parsed("a"), parsed("b"))
    feed = ParsedFeed(title="Jane's Blog", link="https://jane.example/", entries=entries)
    failing = attrs.evolve(STATE, status=FeedStatus.FAILING, consecutive_failures=3)
    outcome = decide(ok(), feed, failing)
    state = outcome.state
    assert outcome.entries == entries
    assert state.status is FeedStatus.OK
    assert state.name == "Jane (configured)"
    assert state.title == "Jane's Blog"
    assert state.link == "https://jane.example/"
    assert state.http_status == 200
    assert state.last_polled_at == NOW
    assert state.last_success_at == NOW
    assert state.consecutive_failures == 0
    assert state.last_error is None


def test_validators_are_replaced_on_a_200() -> None:
    """A 200's validators replace the old ones wholly: an old Last-Modified the new
    response did not send must not be sent back to the server."""
    outcome = decide(ok(), ParsedFeed())
    assert outcome.state.validators == Validators(etag='"v2"', body_hash="b2")


def test_a_parse_warning_is_kept_for_the_operator() -> None:
    """A feed that parses with a bozo warning is ok, and the warning shows as last_error."""
    outcome = decide(ok(), ParsedFeed(warning="SAXParseException: mismatched tag"))
    assert outcome.state.status is FeedStatus.OK
    assert outcome.state.last_error == "SAXParseException: mismatched tag"


def test_a_feed_without_title_or_link_keeps_the_stored_ones() -> None:
    """A parse that finds no feed title or site link does not erase the known ones."""
    outcome = decide(ok(), ParsedFeed(title="", link=None))
    assert outcome.state.title == "Jane's old title"
    assert outcome.state.link == "https://blog.example.org/"


def test_an_unchanged_body_is_a_success_with_no_entries() -> None:
    """A 200 with the same body (not parsed) counts as a good poll and writes no entries."""
    outcome = decide(ok(validators=Validators(body_hash="b1")), None)
    assert outcome.entries == ()
    assert outcome.state.status is FeedStatus.OK
    assert outcome.state.last_success_at == NOW
    assert outcome.state.title == "Jane's old title"
    assert outcome.state.last_error is None


def test_a_304_is_a_success_with_merged_validators() -> None:
    """A 304 keeps the feed ok; a validator it sends replaces the old one, those it omits
    are kept, so the next request is still conditional."""
    fetched = FetchResult(
        kind=FetchKind.NOT_MODIFIED, http_status=304, validators=Validators(etag='"v3"')
    )
    failing = attrs.evolve(STATE, status=FeedStatus.FAILING, consecutive_failures=2)
    outcome = decide(fetched, None, failing)
    state = outcome.state
    assert outcome.entries == ()
    assert state.status is FeedStatus.OK
    assert state.http_status == 304
    assert state.last_success_at == NOW
    assert state.consecutive_failures == 0
    assert state.validators == Validators(
        etag='"v3"', last_modified=OLD.last_modified, body_hash="b1"
    )


def test_a_304_with_no_validators_keeps_every_old_one() -> None:
    """A bare 304 leaves the stored validators exactly as they were."""
    outcome = decide(FetchResult(kind=FetchKind.NOT_MODIFIED, http_status=304))
    assert outcome.state.validators == OLD


def test_a_304_with_every_validator_takes_the_new_ones() -> None:
    """A 304 that sends all three validators replaces all three."""
    new = Validators(etag='"n"', last_modified="Sun, 05 Jul 2026 00:00:00 GMT", body_hash="n")
    outcome = decide(FetchResult(kind=FetchKind.NOT_MODIFIED, http_status=304, validators=new))
    assert outcome.state.validators == new


# -- failures --------------------------------------------------------------------------------


def test_a_failed_fetch_is_counted_and_keeps_the_old_data() -> None:
    """A timeout: status failing, the error kept, failures counted, validators and the last
    success time unchanged, no entries written."""
    fetched = FetchResult(kind=FetchKind.FAILED, error="timed out after 30s")
    outcome = decide(fetched)
    state = outcome.state
    assert outcome.entries == ()
    assert state.status is FeedStatus.FAILING
    assert state.last_error == "timed out after 30s"
    assert state.consecutive_failures == 1
    assert state.validators == OLD
    assert state.last_success_at == BEFORE
    assert state.last_polled_at == NOW
    assert state.title == "Jane's old title"


def test_a_failure_without_a_message_still_says_it_failed() -> None:
    """A failure the fetcher did not describe is stored as 'failed', never as null."""
    outcome = decide(FetchResult(kind=FetchKind.FAILED, http_status=500))
    assert outcome.state.last_error == "failed"
    assert outcome.state.http_status == 500


def test_failures_add_up_and_back_off() -> None:
    """Each failure in a row adds one to the count and the next poll comes later."""
    fetched = FetchResult(kind=FetchKind.FAILED, error="refused")
    once = decide(fetched, jitter=0.0)
    twice = decide(fetched, state=once.state, jitter=0.0)
    assert twice.state.consecutive_failures == 2
    assert delay_of(twice) > delay_of(once)


def test_a_good_poll_resets_the_failure_count() -> None:
    """After failures, one good poll sets the count back to zero and clears the error."""
    failing = attrs.evolve(
        STATE, status=FeedStatus.FAILING, consecutive_failures=5, last_error="refused"
    )
    outcome = decide(ok(), ParsedFeed(), failing)
    assert outcome.state.consecutive_failures == 0
    assert outcome.state.last_error is None


def test_a_document_that_is_not_a_feed_is_a_failure() -> None:
    """A 200 whose body does not parse as a feed: failing, the parse error stored, old
    validators kept so the next poll fetches the body again."""
    outcome = decide(ok(), ParsedFeed(error="not a feed: no RSS, Atom or JSON feed found"))
    state = outcome.state
    assert outcome.entries == ()
    assert state.status is FeedStatus.FAILING
    assert state.last_error == "not a feed: no RSS, Atom or JSON feed found"
    assert state.consecutive_failures == 1
    assert state.validators == OLD
    assert state.http_status == 200


def test_a_410_marks_the_feed_gone_and_stops_polling() -> None:
    """410 Gone: status gone, a readable error, no next poll."""
    outcome = decide(FetchResult(kind=FetchKind.GONE, http_status=410))
    assert outcome.state.status is FeedStatus.GONE
    assert outcome.state.last_error == "the feed is gone (HTTP 410)"
    assert outcome.state.next_poll_at is None
    assert outcome.entries == ()


def test_a_gone_feed_keeps_the_fetchers_message() -> None:
    """When the fetcher explains the 410, that explanation is what the operator sees."""
    outcome = decide(FetchResult(kind=FetchKind.GONE, http_status=410, error="HTTP 410 Gone"))
    assert outcome.state.last_error == "HTTP 410 Gone"


@pytest.mark.parametrize("status", list(FeedStatus))
def test_throttling_is_not_a_failure(status: FeedStatus) -> None:
    """A 429/503: the status stays as it was, the failure count does not move, the code
    shows, and the next poll honours Retry-After."""
    before = attrs.evolve(STATE, status=status, consecutive_failures=2)
    fetched = FetchResult(kind=FetchKind.THROTTLED, http_status=429, retry_after=7200.0)
    outcome = decide(fetched, None, before)
    state = outcome.state
    assert state.status is status
    assert state.consecutive_failures == 2
    assert state.http_status == 429
    assert state.last_error == "throttled"
    assert state.validators == OLD
    assert delay_of(outcome) >= 7200.0
    assert outcome.entries == ()


def test_throttling_keeps_the_servers_reason() -> None:
    """A throttled fetch with an error text stores that text."""
    fetched = FetchResult(kind=FetchKind.THROTTLED, http_status=503, error="HTTP 503")
    assert decide(fetched).state.last_error == "HTTP 503"


# -- redirects -------------------------------------------------------------------------------


def test_a_permanent_redirect_is_recorded() -> None:
    """A 301/308 chain: the feed is polled at its new URL from now on."""
    outcome = decide(ok(moved_to="https://new.example/feed"), ParsedFeed())
    assert outcome.state.moved_to == "https://new.example/feed"
    assert outcome.state.url == FEED.url


@pytest.mark.parametrize(
    "fetched",
    [
        FetchResult(kind=FetchKind.NOT_MODIFIED, http_status=304),
        FetchResult(kind=FetchKind.FAILED, error="refused"),
        FetchResult(kind=FetchKind.THROTTLED, http_status=429),
    ],
)
def test_moved_to_is_kept_once_set(fetched: FetchResult) -> None:
    """A later poll at the new URL (which does not redirect again) keeps moved_to."""
    moved = attrs.evolve(STATE, moved_to="https://new.example/feed")
    assert decide(fetched, None, moved).state.moved_to == "https://new.example/feed"


def test_a_second_move_replaces_the_first() -> None:
    """If the new URL moves again, moved_to follows it."""
    moved = attrs.evolve(STATE, moved_to="https://new.example/feed")
    outcome = decide(ok(moved_to="https://newer.example/feed"), ParsedFeed(), moved)
    assert outcome.state.moved_to == "https://newer.example/feed"


# -- the next poll -----------------------------------------------------------------------------


def test_a_good_poll_is_next_due_about_one_interval_later() -> None:
    """An hourly feed is next polled within the jitter window around one hour."""
    assert delay_of(decide(ok(), ParsedFeed(), jitter=0.0)) == pytest.approx(0.9 * HOUR)
    assert delay_of(decide(ok(), ParsedFeed(), jitter=1.0)) == pytest.approx(1.1 * HOUR)


def test_the_feeds_ttl_pushes_the_next_poll_later() -> None:
    """A feed whose ttl says three hours is not polled again before three hours."""
    assert delay_of(decide(ok(), ParsedFeed(ttl=3 * HOUR), jitter=0.0)) >= 3 * HOUR


@given(
    kind=st.sampled_from([k for k in FetchKind if k is not FetchKind.GONE]),
    failures=st.integers(min_value=0, max_value=200),
    retry_after=st.none() | st.floats(min_value=0, max_value=1e9),
    fresh_for=st.none() | st.floats(min_value=0, max_value=1e9),
    ttl=st.none() | st.floats(min_value=0, max_value=1e9),
    jitter=st.floats(min_value=0, max_value=1),
)
def test_next_poll_always_lies_within_the_planets_bounds(
    kind: FetchKind,
    failures: int,
    retry_after: float | None,
    fresh_for: float | None,
    ttl: float | None,
    jitter: float,
) -> None:
    """Whatever the server says and however often the feed failed, the next poll is no
    sooner than min_interval and no later than max_interval from now."""
    state = attrs.evolve(STATE, consecutive_failures=failures)
    fetched = FetchResult(kind=kind, retry_after=retry_after, fresh_for=fresh_for)
    parsed_feed = ParsedFeed(ttl=ttl) if kind is FetchKind.OK else None
    delay = delay_of(decide(fetched, parsed_feed, state, jitter))
    assert BOUNDS.min_interval - 1e-6 <= delay <= BOUNDS.max_interval + 1e-6
