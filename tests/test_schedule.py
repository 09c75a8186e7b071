"""Tests for the schedule policy: when a feed is polled next, and why."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from twisted.internet.task import Clock

from planetd.boundaries import FeedState, FeedStatus, FeedURL, FetchKind, PlanetConfig
from planetd.hints import parse_retry_after
from planetd.schedule import (
    JITTER_FRACTION,
    STARTUP_MAX_WINDOW,
    Bounds,
    is_due,
    next_poll_at,
    next_poll_delay,
    spread_due,
    startup_delays,
    startup_window,
    to_poll,
)

NOW = datetime(2026, 7, 4, 12, 0, 0, tzinfo=timezone.utc)
HOUR = 3600.0
DAY = 86400.0
DEFAULT = Bounds(min_interval=300.0, max_interval=DAY)
LIVE_KINDS = [k for k in FetchKind if k is not FetchKind.GONE]


def http_date(when: datetime) -> str:
    """``when`` as an HTTP date, the way servers send it."""
    return format_datetime(when, usegmt=True)


def delay(
    kind: FetchKind = FetchKind.OK,
    *,
    interval: float = HOUR,
    bounds: Bounds = DEFAULT,
    failures: int = 0,
    retry_after: float | None = None,
    fresh_for: float | None = None,
    feed_ttl: float | None = None,
    jitter: float = 0.5,
) -> float | None:
    """``next_poll_delay`` with the defaults of a planet polling hourly."""
    return next_poll_delay(
        interval=interval,
        bounds=bounds,
        kind=kind,
        consecutive_failures=failures,
        retry_after=retry_after,
        fresh_for=fresh_for,
        feed_ttl=feed_ttl,
        jitter=jitter,
    )


def live_delay(*args: object, **kwargs: object) -> float:
    """``delay`` for an outcome that always has a next poll."""
    result = delay(*args, **kwargs)  # type: ignore[arg-type]
    assert result is not None
    return result


# Strategies -----------------------------------------------------------------

seconds = st.floats(min_value=1.0, max_value=30 * DAY, allow_nan=False)
maybe_hint = st.none() | st.floats(min_value=-DAY, max_value=365 * DAY, allow_nan=False)
jitters = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)
failure_counts = st.integers(min_value=0, max_value=2000)


@st.composite
def bounds_strategy(draw: st.DrawFn) -> Bounds:
    """Any sane planet bounds, from a one-second floor to a week-long ceiling."""
    low = draw(st.floats(min_value=1.0, max_value=DAY))
    high = draw(st.floats(min_value=low, max_value=7 * DAY))
    return Bounds(min_interval=low, max_interval=high)


bounds_st = bounds_strategy()


# Bounds ---------------------------------------------------------------------


def test_bounds_from_config_uses_the_planet_keys() -> None:
    """The floor and ceiling come from the planet's min_interval and max_interval."""
    config = PlanetConfig(path="planet.ini", min_interval=1.0, max_interval=60.0)
    assert Bounds.from_config(config) == Bounds(min_interval=1.0, max_interval=60.0)


@pytest.mark.parametrize(
    ("low", "high"),
    [(0.0, 10.0), (-1.0, 10.0), (float("nan"), 10.0), (10.0, 5.0), (1.0, float("inf"))],
)
def test_bounds_reject_a_floor_above_the_ceiling_or_nonsense(low: float, high: float) -> None:
    """Bounds that could schedule a poll at once, never, or nowhere are a bug, not a policy."""
    with pytest.raises(ValueError, match="interval"):
        Bounds(min_interval=low, max_interval=high)


# next_poll_delay: plain cases -----------------------------------------------


def test_a_good_poll_is_followed_by_one_interval_later() -> None:
    """A feed that answers 200 is polled again after its interval (jitter at mid-window)."""
    assert delay(FetchKind.OK) == pytest.approx(HOUR)


def test_a_not_modified_poll_keeps_the_interval() -> None:
    """A feed that answers 304 is polled again after its interval, like a 200."""
    assert delay(FetchKind.NOT_MODIFIED) == pytest.approx(HOUR)


def test_jitter_spreads_ten_percent_either_side_of_the_interval() -> None:
    """Feeds with the same interval drift apart: jitter moves a poll by up to ±10%."""
    assert delay(jitter=0.0) == pytest.approx(HOUR * (1 - JITTER_FRACTION))
    assert delay(jitter=0.999999) == pytest.approx(HOUR * (1 + JITTER_FRACTION))


def test_an_interval_below_the_floor_is_raised_to_it() -> None:
    """A feed configured to poll every 10 s still waits min_interval (5 min by default)."""
    assert live_delay(interval=10.0, jitter=0.0) == pytest.approx(300.0)


@pytest.mark.parametrize("interval", [0.0, -5.0, float("nan")])
def test_a_nonsense_interval_polls_as_often_as_the_floor_allows(interval: float) -> None:
    """An interval that is zero, negative or NaN is read as 'as often as allowed'."""
    assert live_delay(interval=interval, jitter=0.0) == pytest.approx(300.0)


def test_an_interval_above_the_ceiling_is_lowered_to_it() -> None:
    """A feed configured to poll weekly is still polled once a max_interval (a day)."""
    assert live_delay(interval=7 * DAY, jitter=0.999999) == pytest.approx(DAY)


def test_a_gone_feed_is_never_polled_again() -> None:
    """After 410 Gone there is no next poll at all, whatever else the server said."""
    assert delay(FetchKind.GONE, retry_after=60.0, failures=3) is None


@pytest.mark.parametrize("jitter", [-0.1, 1.5, float("nan")])
def test_a_jitter_draw_outside_the_unit_interval_is_a_bug(jitter: float) -> None:
    """The caller must draw jitter in [0, 1); anything else is refused loudly."""
    with pytest.raises(ValueError, match="jitter"):
        delay(jitter=jitter)


# next_poll_delay: hints -------------------------------------------------------


def test_max_age_longer_than_the_interval_delays_the_next_poll() -> None:
    """A body fresh for 3 h is not fetched again after 1 h, and never before the 3 h."""
    assert live_delay(fresh_for=3 * HOUR, jitter=0.0) == pytest.approx(3 * HOUR)
    assert live_delay(fresh_for=3 * HOUR, jitter=0.5) == pytest.approx(3 * HOUR * 1.05)


def test_a_hint_shorter_than_the_interval_changes_nothing() -> None:
    """A server saying 'fresh for a minute' does not make an hourly feed poll sooner."""
    assert delay(fresh_for=60.0, retry_after=60.0, feed_ttl=60.0) == delay()


def test_the_feed_ttl_delays_the_next_poll() -> None:
    """A feed whose <ttl> is a day is polled daily, not hourly."""
    assert live_delay(feed_ttl=DAY, jitter=0.0) == pytest.approx(DAY * (1 - JITTER_FRACTION))


def test_a_throttled_feed_waits_for_retry_after() -> None:
    """A 429 or 503 with Retry-After: 2 h is retried after 2 h, not after the hourly interval."""
    assert live_delay(FetchKind.THROTTLED, retry_after=2 * HOUR, jitter=0.0) == 2 * HOUR


def test_a_throttled_feed_without_retry_after_keeps_its_interval() -> None:
    """A 429 without Retry-After is not a failure: no backoff, just the interval."""
    assert delay(FetchKind.THROTTLED, failures=5) == pytest.approx(HOUR)


def test_retry_after_beyond_the_ceiling_is_capped() -> None:
    """A server asking for a week's pause is still polled once a max_interval."""
    assert live_delay(FetchKind.THROTTLED, retry_after=7 * DAY, jitter=0.999) <= DAY


def test_retry_after_below_the_floor_is_raised() -> None:
    """Retry-After: 1 never makes us poll sooner than min_interval."""
    assert live_delay(FetchKind.THROTTLED, retry_after=1.0, interval=1.0, jitter=0.0) == 300.0


# next_poll_delay: failures ---------------------------------------------------


def test_failures_back_off_exponentially_from_the_interval() -> None:
    """The first failure retries on the normal schedule, each further one doubles the wait."""
    waits = [live_delay(FetchKind.FAILED, failures=n) for n in range(1, 6)]
    assert waits == pytest.approx([HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, 16 * HOUR])


def test_backoff_is_capped_but_never_gives_up() -> None:
    """A feed failing for months is still tried once a max_interval, spread by jitter."""
    assert live_delay(FetchKind.FAILED, failures=10_000, jitter=0.0) == pytest.approx(0.9 * DAY)
    assert live_delay(FetchKind.FAILED, failures=10_000, jitter=0.999999) == pytest.approx(DAY)


def test_a_failure_counted_as_zero_is_a_first_failure() -> None:
    """A caller that forgot to count this failure still gets the first-failure wait."""
    assert delay(FetchKind.FAILED, failures=0) == delay(FetchKind.FAILED, failures=1)


def test_a_failure_still_honours_retry_after() -> None:
    """A 500 that says Retry-After: 6 h is not retried after one hour."""
    assert live_delay(FetchKind.FAILED, failures=1, retry_after=6 * HOUR, jitter=0.0) == 6 * HOUR


# next_poll_delay: properties --------------------------------------------------


@given(
    interval=seconds | st.just(0.0),
    bounds=bounds_st,
    kind=st.sampled_from(LIVE_KINDS),
    failures=failure_counts,
    retry_after=maybe_hint,
    fresh_for=maybe_hint,
    feed_ttl=maybe_hint,
    jitter=jitters,
)
def test_every_delay_lies_within_the_bounds(
    interval: float,
    bounds: Bounds,
    kind: FetchKind,
    failures: int,
    retry_after: float | None,
    fresh_for: float | None,
    feed_ttl: float | None,
    jitter: float,
) -> None:
    """Every outcome but 410 schedules the next poll between the floor and the ceiling."""
    result = next_poll_delay(
        interval=interval,
        bounds=bounds,
        kind=kind,
        consecutive_failures=failures,
        retry_after=retry_after,
        fresh_for=fresh_for,
        feed_ttl=feed_ttl,
        jitter=jitter,
    )
    assert result is not None
    assert bounds.min_interval <= result <= bounds.max_interval


@given(
    interval=seconds,
    bounds=bounds_st,
    failures=failure_counts,
    hint=st.floats(min_value=0.0, max_value=365 * DAY),
    jitter=jitters,
)
def test_gone_is_never_polled(
    interval: float, bounds: Bounds, failures: int, hint: float, jitter: float
) -> None:
    """A 410 Gone has no next poll, whatever the interval, failures or hints."""
    assert (
        next_poll_delay(
            interval=interval,
            bounds=bounds,
            kind=FetchKind.GONE,
            consecutive_failures=failures,
            retry_after=hint,
            fresh_for=hint,
            feed_ttl=hint,
            jitter=jitter,
        )
        is None
    )


@given(
    interval=seconds,
    bounds=bounds_st,
    kind=st.sampled_from(LIVE_KINDS),
    failures=failure_counts,
    slot=st.sampled_from(["retry_after", "fresh_for", "feed_ttl"]),
    hint=st.floats(min_value=-DAY, max_value=365 * DAY) | st.just(float("inf")),
    jitter=jitters,
)
def test_hints_only_ever_push_the_next_poll_later(
    interval: float,
    bounds: Bounds,
    kind: FetchKind,
    failures: int,
    slot: str,
    hint: float,
    jitter: float,
) -> None:
    """Any server hint, of any size, makes the next poll later or leaves it; never earlier."""
    common = {
        "interval": interval,
        "bounds": bounds,
        "kind": kind,
        "consecutive_failures": failures,
        "jitter": jitter,
    }
    without = next_poll_delay(**common)  # type: ignore[arg-type]
    with_hint = next_poll_delay(**common, **{slot: hint})  # type: ignore[arg-type]
    assert without is not None
    assert with_hint is not None
    assert with_hint >= without


@given(
    interval=seconds,
    bounds=bounds_st,
    kind=st.sampled_from(LIVE_KINDS),
    hint=seconds,
    jitter=jitters,
)
def test_a_hint_within_the_bounds_is_never_undercut(
    interval: float, bounds: Bounds, kind: FetchKind, hint: float, jitter: float
) -> None:
    """Jitter never brings a poll before the time a server asked for (below the ceiling's band)."""
    result = live_delay(kind, interval=interval, bounds=bounds, retry_after=hint, jitter=jitter)
    assert result >= min(hint, (1 - JITTER_FRACTION) * bounds.max_interval)


@given(
    interval=seconds,
    bounds=bounds_st,
    failures=st.integers(min_value=0, max_value=200),
    hint=maybe_hint,
    jitter=jitters,
)
def test_backoff_grows_with_every_failure_and_stays_capped(
    interval: float, bounds: Bounds, failures: int, hint: float | None, jitter: float
) -> None:
    """One more failure in a row never brings the next poll earlier; the ceiling still holds."""
    now = live_delay(
        FetchKind.FAILED,
        interval=interval,
        bounds=bounds,
        failures=failures,
        retry_after=hint,
        jitter=jitter,
    )
    then = live_delay(
        FetchKind.FAILED,
        interval=interval,
        bounds=bounds,
        failures=failures + 1,
        retry_after=hint,
        jitter=jitter,
    )
    assert now <= then <= bounds.max_interval


@given(
    interval=seconds,
    bounds=bounds_st,
    failures=failure_counts,
    fresh_for=maybe_hint,
    feed_ttl=maybe_hint,
    jitter=jitters,
)
def test_a_failing_feed_is_never_polled_sooner_than_a_healthy_one(
    interval: float,
    bounds: Bounds,
    failures: int,
    fresh_for: float | None,
    feed_ttl: float | None,
    jitter: float,
) -> None:
    """Failures never make planetd hit a server more often than success would."""
    hints = {"interval": interval, "bounds": bounds, "fresh_for": fresh_for, "feed_ttl": feed_ttl}
    healthy = live_delay(FetchKind.OK, jitter=jitter, **hints)
    failing = live_delay(FetchKind.FAILED, failures=failures, jitter=jitter, **hints)
    assert failing >= healthy


@given(bounds=bounds_st, share=st.floats(min_value=0.0, max_value=1.0), jitter=jitters)
def test_jitter_stays_within_ten_percent_of_the_interval(
    bounds: Bounds, share: float, jitter: float
) -> None:
    """Without hints, an interval well inside the bounds is kept to within ±10%."""
    low, high = bounds.min_interval / 0.9, bounds.max_interval / 1.1
    assume(low <= high)
    interval = low + share * (high - low)
    result = live_delay(interval=interval, bounds=bounds, jitter=jitter)
    assert 0.9 * interval * (1 - 1e-12) <= result <= 1.1 * interval * (1 + 1e-12)


@given(
    bounds=bounds_st,
    interval=seconds,
    kind=st.sampled_from(LIVE_KINDS),
    failures=failure_counts,
    hint=maybe_hint,
)
def test_different_jitter_draws_never_poll_in_lockstep(
    bounds: Bounds, interval: float, kind: FetchKind, failures: int, hint: float | None
) -> None:
    """Two feeds with the same outcome but different jitter draws poll at different times
    (whenever the bounds leave room between floor and ceiling)."""
    assume(bounds.max_interval >= bounds.min_interval * 1.001)
    common = {
        "interval": interval,
        "bounds": bounds,
        "failures": failures,
        "retry_after": hint,
    }
    assert live_delay(kind, jitter=0.0, **common) < live_delay(kind, jitter=0.5, **common)


# next_poll_at -----------------------------------------------------------------


def test_next_poll_at_adds_the_delay_to_now() -> None:
    """The stored next_poll_at is now plus the delay; a gone feed stores none."""
    assert next_poll_at(NOW, 90.0) == NOW + timedelta(seconds=90)
    assert next_poll_at(NOW, None) is None


def test_a_naive_now_is_a_bug() -> None:
    """Every time planetd reasons about is timezone-aware UTC; a naive one is refused."""
    with pytest.raises(ValueError, match="timezone-aware"):
        next_poll_at(datetime(2026, 7, 4, 12, 0), 1.0)


# Startup ----------------------------------------------------------------------


def test_startup_window_grows_with_the_feed_count_up_to_ten_seconds() -> None:
    """A few due feeds start within a fraction of a second; thousands within ten seconds."""
    assert startup_window(0) == 0.0
    assert startup_window(4) == pytest.approx(0.2)
    assert startup_window(10_000) == STARTUP_MAX_WINDOW


@given(
    count=st.integers(min_value=1, max_value=2000),
    window=st.none() | st.floats(min_value=0.001, max_value=60.0),
    seed=st.integers(),
)
def test_due_feeds_start_within_the_window_each_at_its_own_instant(
    count: int, window: float | None, seed: int
) -> None:
    """After a start, N due feeds are all polled within the window, no two at the same instant."""
    urls = [f"https://example.org/{n}.xml" for n in range(count)]
    offsets = spread_due(urls, random.Random(seed).random, window)
    limit = startup_window(count) if window is None else window
    assert set(offsets) == set(urls)
    assert all(0.0 <= offset < limit for offset in offsets.values())
    assert len(set(offsets.values())) == count


def test_spread_is_reproducible_from_the_seed() -> None:
    """The same jitter source gives the same start times, so a test can predict them."""
    urls = ["a", "b", "c"]
    assert spread_due(urls, random.Random(7).random) == spread_due(urls, random.Random(7).random)


def test_nothing_due_spreads_nothing() -> None:
    """With no due feed there is nothing to start."""
    assert spread_due([], random.Random(0).random) == {}


def state(name: str, status: FeedStatus, next_at: datetime | None) -> FeedState:
    """A stored feed named ``name`` with the given status and next poll."""
    return FeedState(url=FeedURL(name), name=name, status=status, next_poll_at=next_at)


def test_to_poll_chooses_due_feeds_all_but_gone_or_everything() -> None:
    """``planetd poll`` polls the due feeds; ``--all`` every feed but the gone ones;
    ``--include-gone`` the gone ones too; the config's order is kept."""
    states = [
        state("late", FeedStatus.OK, NOW - timedelta(hours=3)),
        state("gone", FeedStatus.GONE, None),
        state("soon", FeedStatus.OK, NOW + timedelta(minutes=1)),
        state("new", FeedStatus.PENDING, None),
    ]
    due = to_poll(states, NOW, poll_all=False, include_gone=False)
    every = to_poll(states, NOW, poll_all=True, include_gone=False)
    with_gone = to_poll(states, NOW, poll_all=False, include_gone=True)
    assert due == ["late", "new"]
    assert every == [s.url for s in states if s.status is not FeedStatus.GONE]
    assert with_gone == [s.url for s in states]


def test_is_due_for_pending_past_and_future_and_gone_feeds() -> None:
    """A never-polled feed is due at once, an overdue one is due, a future or gone one is not."""
    assert is_due(state("new", FeedStatus.PENDING, None), NOW)
    assert is_due(state("late", FeedStatus.OK, NOW - timedelta(hours=3)), NOW)
    assert is_due(state("now", FeedStatus.FAILING, NOW), NOW)
    assert not is_due(state("soon", FeedStatus.OK, NOW + timedelta(minutes=1)), NOW)
    assert not is_due(state("gone", FeedStatus.GONE, None), NOW)
    assert not is_due(state("gone-dated", FeedStatus.GONE, NOW - timedelta(days=1)), NOW)


def test_startup_spreads_due_feeds_keeps_future_ones_and_drops_gone_ones() -> None:
    """After a restart, overdue and new feeds start within seconds, the others keep their
    stored next poll, and gone feeds are never scheduled."""
    states = [
        state("new", FeedStatus.PENDING, None),
        state("late", FeedStatus.OK, NOW - timedelta(hours=3)),
        state("soon", FeedStatus.OK, NOW + timedelta(minutes=10)),
        state("gone", FeedStatus.GONE, None),
        state("gone-dated", FeedStatus.GONE, NOW - timedelta(days=1)),
    ]
    delays = startup_delays(states, NOW, random.Random(1).random)
    assert set(delays) == {"new", "late", "soon"}
    assert delays[FeedURL("soon")] == 600.0
    assert 0.0 <= delays[FeedURL("new")] < delays[FeedURL("late")] < startup_window(2)


# The schedule over time, on a Clock -------------------------------------------


def test_a_feed_polled_on_a_clock_follows_its_outcomes() -> None:
    """Driven by callLater: ok → 1 h, fail → 1 h, fail again → 2 h, ok → 1 h, 429 with a
    Retry-After date 2 h ahead → 2 h plus upward jitter, ok → 1 h, 410 → no more polls."""
    clock = Clock()
    epoch = NOW

    def retry_after_2h(moment: datetime) -> float | None:
        return parse_retry_after(http_date(moment + timedelta(hours=2)), moment)

    outcomes = [
        (FetchKind.OK, None),
        (FetchKind.FAILED, None),
        (FetchKind.FAILED, None),
        (FetchKind.OK, None),
        (FetchKind.THROTTLED, retry_after_2h),
        (FetchKind.OK, None),
        (FetchKind.GONE, None),
    ]
    fired: list[float] = []
    failures = 0

    def poll() -> None:
        nonlocal failures
        fired.append(clock.seconds())
        kind, hint = outcomes[len(fired) - 1]
        moment = epoch + timedelta(seconds=clock.seconds())
        failures = failures + 1 if kind is FetchKind.FAILED else 0
        wait = next_poll_delay(
            interval=HOUR,
            bounds=DEFAULT,
            kind=kind,
            consecutive_failures=failures,
            retry_after=hint(moment) if hint else None,
            jitter=0.5,
        )
        if wait is not None:
            clock.callLater(wait, poll)

    clock.callLater(0, poll)
    while calls := clock.getDelayedCalls():
        clock.advance(calls[0].getTime() - clock.seconds())
    throttled_wait = 2 * HOUR * (1 + JITTER_FRACTION / 2)
    expected_gaps = [HOUR, HOUR, 2 * HOUR, HOUR, throttled_wait, HOUR]
    expected = [0.0]
    for gap in expected_gaps:
        expected.append(expected[-1] + gap)
    assert fired == pytest.approx(expected)
    assert clock.getDelayedCalls() == []
