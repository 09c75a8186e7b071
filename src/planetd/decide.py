"""What one poll means for a feed: its next state, decided from plain values.

Owns the transition a poll causes: status, failure count, validators kept or
replaced, where a permanent redirect moved the feed, and when it is polled
next (through :mod:`planetd.schedule`). The poller sequences fetch, parse and
store and asks this module what to write; this module never does I/O.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from planetd.boundaries import (
    FeedConfig,
    FeedState,
    FeedStatus,
    FetchKind,
    FetchResult,
    ParsedFeed,
    PollOutcome,
    Validators,
)
from planetd.schedule import Bounds, next_poll_at, next_poll_delay


def needs_parse(state: FeedState, fetched: FetchResult) -> bool:
    """A 200 whose body is byte-identical to the last one needs no parse."""
    return fetched.kind is FetchKind.OK and (
        fetched.validators.body_hash is None
        or fetched.validators.body_hash != state.validators.body_hash
    )


def decide_poll(
    feed: FeedConfig,
    state: FeedState,
    fetched: FetchResult,
    parsed: ParsedFeed | None,
    *,
    now: datetime,
    bounds: Bounds,
    jitter: float,
) -> PollOutcome:
    """The state and entries to write after a poll of ``feed``.

    ``parsed`` is None when nothing was parsed (a failure, a 304, or a body
    identical to the last one).
    """
    kind = fetched.kind
    error: str | None = fetched.error
    if kind is FetchKind.OK and parsed is not None and parsed.error is not None:
        kind, error = FetchKind.FAILED, parsed.error
    failures = state.consecutive_failures + 1 if kind is FetchKind.FAILED else 0
    if kind is FetchKind.THROTTLED:
        failures = state.consecutive_failures
    delay = next_poll_delay(
        interval=feed.poll_interval,
        bounds=bounds,
        kind=kind,
        consecutive_failures=failures,
        retry_after=fetched.retry_after,
        fresh_for=fetched.fresh_for,
        feed_ttl=parsed.ttl if parsed is not None else None,
        jitter=jitter,
    )
    polled = attrs.evolve(
        state,
        name=feed.name,
        http_status=fetched.http_status,
        last_polled_at=now,
        next_poll_at=next_poll_at(now, delay),
        consecutive_failures=failures,
        moved_to=fetched.moved_to or state.moved_to,
        # Which parser read the last document; a 304 or an unchanged body keeps it.
        parser=parsed.parser if parsed is not None else state.parser,
    )
    if kind in (FetchKind.OK, FetchKind.NOT_MODIFIED):
        validators = (
            fetched.validators
            if kind is FetchKind.OK
            else merge_validators(state.validators, fetched.validators)
        )
        new_state = attrs.evolve(
            polled,
            status=FeedStatus.OK,
            last_error=parsed.warning if parsed is not None else None,
            last_success_at=now,
            validators=validators,
            link=parsed.link if parsed is not None and parsed.link else state.link,
            title=parsed.title if parsed is not None and parsed.title else state.title,
        )
        entries = parsed.entries if parsed is not None else ()
        return PollOutcome(state=new_state, entries=entries)
    if kind is FetchKind.THROTTLED:
        return PollOutcome(state=attrs.evolve(polled, last_error=error or "throttled"))
    gone = kind is FetchKind.GONE
    # A failed parse keeps the old validators: the next poll must fetch the body again.
    return PollOutcome(
        state=attrs.evolve(
            polled,
            status=FeedStatus.GONE if gone else FeedStatus.FAILING,
            last_error=error or ("the feed is gone (HTTP 410)" if gone else "failed"),
        )
    )


def merge_validators(old: Validators, new: Validators) -> Validators:
    """A 304 may omit validators; keep the old ones where the response gave none.

    The one place for this rule: the fetcher applies it to a 304's headers and
    :func:`decide_poll` to every ``NOT_MODIFIED`` result it is handed.
    """
    return Validators(
        etag=new.etag or old.etag,
        last_modified=new.last_modified or old.last_modified,
        body_hash=new.body_hash or old.body_hash,
    )
