"""When to poll a feed next: the schedule policy as pure functions.

Owns: turning one fetch's outcome and the server's hints (``Retry-After``,
``Cache-Control``, ``Expires``, RSS ``<ttl>``, ``sy:updatePeriod``, already
read into seconds by :mod:`planetd.hints`) into the delay before the next
poll, the backoff after failures, and the spread of the feeds that are due
when the daemon starts. It decides and never sequences: the poller calls it
after each fetch and arms a timer with the answer.

Must not import Twisted, treq, feedparser, or anything that reads a clock or a
random source. ``now`` (a timezone-aware UTC datetime) and jitter (a number in
``[0, 1)``, or a callable returning one, such as ``random.Random(seed).random``)
are always arguments, so every decision is reproducible in a test.

The policy, and why:

* **Our own interval** is the feed's ``poll_interval``, raised to
  ``min_interval`` if below it. After ``n`` consecutive failures it is
  ``interval * 2 ** (n - 1)``: the first failure retries on the feed's normal
  schedule and each further one doubles the wait. A failure therefore never
  makes us poll a server more often than success would (politeness first: a
  struggling host sees fewer requests, never more), and a transient blip
  costs at most one interval of freshness. There is no give-up: the wait is
  capped at ``max_interval``, so a broken feed is still tried daily.
* **Server hints only push later.** ``Retry-After``, the freshness lifetime
  (``Cache-Control: max-age``, else ``Expires``) and the feed's own ttl are
  each a floor: the next poll is never earlier than any of them (nor than our
  interval), apart from the ceiling below. They apply to every outcome
  except ``410 Gone``, so a failing feed also waits at least as long as it
  would after a success. A ``429``/``503`` (``THROTTLED``) is not a failure:
  it keeps our plain interval (no doubling) and follows ``Retry-After``.
* **Bounds always win.** Every delay lies in ``[min_interval, max_interval]``,
  even when a server asks for a week (``Retry-After`` included): a feed that
  said "come back in a month" is still polled once a ``max_interval``.
* **Jitter** spreads each poll over a window so feeds that started together
  drift apart instead of polling in lockstep. With ``B`` the larger of our
  interval and the hints, the window is ``[max(0.9 * interval, hints),
  1.1 * B]``: ±10% around our own interval, but only later than a server's
  hint, since polling before a ``Retry-After`` or ``max-age`` ends only earns
  another ``429`` or the same body. The window is then fitted into the bounds,
  with its lower edge never above ``0.9 * max_interval``, so feeds held at
  the ceiling (long backoffs, month-long hints) are spread too. Both edges
  grow with every input, so more failures or a longer hint never move a poll
  earlier for the same jitter draw.
* **Startup** spreads the due feeds over a short window (0.05 s per feed, at
  most 10 s), one slot per feed with a random place inside its slot: all are
  polled within seconds of the start, never all at the same instant.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

import attrs

from planetd.boundaries import FeedState, FeedStatus, FeedURL, FetchKind, PlanetConfig
from planetd.hints import require_aware

K = TypeVar("K", bound=Hashable)

#: A jitter source: each call returns a float in ``[0, 1)``.
Jitter = Callable[[], float]

#: How far jitter moves a poll around our own interval, as a fraction of it.
JITTER_FRACTION = 0.1

#: Startup spread: seconds of window per due feed, and the longest window.
STARTUP_STEP = 0.05
STARTUP_MAX_WINDOW = 10.0

# Doubling past this many failures cannot matter (2**60 seconds is longer than
# any ceiling) and keeps the float arithmetic finite.
_MAX_DOUBLINGS = 60


def _positive_finite(value: float) -> bool:
    return 0 < value < math.inf


@attrs.frozen
class Bounds:
    """The floor and ceiling, in seconds, that every scheduled delay lies within.

    Raises:
        ValueError: unless ``0 < min_interval <= max_interval`` and both are finite.
    """

    min_interval: float
    max_interval: float

    def __attrs_post_init__(self) -> None:
        if not _positive_finite(self.min_interval):
            raise ValueError(f"min_interval must be positive, got {self.min_interval!r}")
        if not (_positive_finite(self.max_interval) and self.max_interval >= self.min_interval):
            raise ValueError(
                f"max_interval must be at least min_interval ({self.min_interval!r}),"
                f" got {self.max_interval!r}"
            )

    @classmethod
    def from_config(cls, config: PlanetConfig) -> Bounds:
        """The bounds that a planet's ``min_interval`` and ``max_interval`` set."""
        return cls(min_interval=config.min_interval, max_interval=config.max_interval)


def _own_interval(interval: float, bounds: Bounds, kind: FetchKind, failures: int) -> float:
    """Our interval for this outcome, before hints: doubled per consecutive failure."""
    # A NaN or non-positive interval is read as "as often as allowed".
    own = max(bounds.min_interval, interval) if interval > 0 else bounds.min_interval
    if kind is FetchKind.FAILED:
        own *= 2.0 ** min(max(failures, 1) - 1, _MAX_DOUBLINGS)
    return own


def next_poll_delay(
    *,
    interval: float,
    bounds: Bounds,
    kind: FetchKind,
    consecutive_failures: int = 0,
    retry_after: float | None = None,
    fresh_for: float | None = None,
    feed_ttl: float | None = None,
    jitter: float,
) -> float | None:
    """Seconds from now until a feed's next poll, or ``None`` after ``410 Gone``.

    Args:
        interval: the feed's ``poll_interval`` in seconds.
        bounds: the planet's ``min_interval`` and ``max_interval``.
        kind: how the fetch ended.
        consecutive_failures: failed polls in a row, this one included (read
            only for ``FAILED``; ``0`` is taken as ``1`` there).
        retry_after: seconds the response's ``Retry-After`` asked for.
        fresh_for: seconds the response says it stays fresh.
        feed_ttl: seconds the feed's ``<ttl>`` or ``sy:updatePeriod`` state.
        jitter: a draw in ``[0, 1)`` placing the poll within its window.

    Raises:
        ValueError: if ``jitter`` is outside ``[0, 1]``.

    See the module docstring for the policy and why.
    """
    if not 0.0 <= jitter <= 1.0:
        raise ValueError(f"jitter must be in [0, 1), got {jitter!r}")
    if kind is FetchKind.GONE:
        return None
    own = _own_interval(interval, bounds, kind, consecutive_failures)
    hints = [h for h in (retry_after, fresh_for, feed_ttl) if h is not None and h > 0]
    hint = max(hints, default=0.0)
    low = max((1.0 - JITTER_FRACTION) * own, hint)
    high = (1.0 + JITTER_FRACTION) * max(own, hint)
    low = max(bounds.min_interval, min(low, (1.0 - JITTER_FRACTION) * bounds.max_interval))
    high = min(bounds.max_interval, high)
    return low + jitter * (high - low)


def next_poll_at(now: datetime, delay: float | None) -> datetime | None:
    """The moment ``delay`` seconds after ``now``; ``None`` (never) stays ``None``."""
    require_aware(now)
    if delay is None:
        return None
    return now + timedelta(seconds=delay)


def is_due(state: FeedState, now: datetime) -> bool:
    """Whether a feed should be polled at ``now``.

    A gone feed never is; a feed never polled (no ``next_poll_at``) is at once;
    any other feed is once its ``next_poll_at`` has come.
    """
    require_aware(now)
    if state.status is FeedStatus.GONE:
        return False
    return state.next_poll_at is None or state.next_poll_at <= now


def to_poll(
    states: Sequence[FeedState], now: datetime, *, poll_all: bool, include_gone: bool
) -> list[FeedURL]:
    """Which feeds a one-off poll (``planetd poll``) polls, in the order given.

    The due ones (:func:`is_due`); with ``poll_all`` every feed but the gone
    ones, since a 410 means gone for good; ``include_gone`` adds those too.
    """
    return [
        state.url
        for state in states
        if (include_gone or state.status is not FeedStatus.GONE)
        and (poll_all or include_gone or is_due(state, now))
    ]


def startup_window(count: int) -> float:
    """Seconds over which ``count`` due feeds are spread at startup."""
    return min(STARTUP_MAX_WINDOW, STARTUP_STEP * max(count, 0))


def spread_due(keys: Sequence[K], rng: Jitter, window: float | None = None) -> dict[K, float]:
    """Offsets in seconds, within ``[0, window)``, at which to start each due feed.

    Each of the ``N`` feeds gets its own slot of ``window / N`` seconds, in the
    order given, and a place within it drawn from ``rng``: all start within the
    window and no two at the same instant. ``window`` defaults to
    :func:`startup_window` of ``N``.
    """
    if window is None:
        window = startup_window(len(keys))
    slot = window / len(keys) if keys else 0.0
    return {key: slot * (index + rng()) for index, key in enumerate(keys)}


def startup_delays(
    states: Iterable[FeedState],
    now: datetime,
    rng: Jitter,
    window: float | None = None,
) -> dict[FeedURL, float]:
    """Seconds from ``now`` until each feed's first poll after a start.

    Due feeds (see :func:`is_due`) are spread by :func:`spread_due`; the others
    keep their stored ``next_poll_at``; gone feeds are left out: they are never
    polled again.
    """
    require_aware(now)
    due: list[FeedURL] = []
    delays: dict[FeedURL, float] = {}
    for state in states:
        if is_due(state, now):
            due.append(state.url)
        elif state.status is not FeedStatus.GONE and state.next_poll_at is not None:
            delays[state.url] = (state.next_poll_at - now).total_seconds()
    delays.update(spread_due(due, rng, window))
    return delays
