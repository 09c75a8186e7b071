"""One poll's document, digested: parsed, decided, stored and reported.

A part of :mod:`planetd.poller`, split from it for size. It owns the one path a
fetched or a WebSub-pushed document takes once it is in hand: parse it through
the parse pool (unless :func:`planetd.decide.needs_parse` says the stored copy
stands), let :func:`planetd.decide.decide_poll` decide the outcome, store it
(a failing store becomes a stored-later error, never a raise), and tell the
metrics, ``on_poll`` and the watchers of the :class:`PollReport`. It decides
nothing itself and schedules nothing (the poller does); like every shell it
imports neither sqlite3 nor another shell, only its own poller (for types).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

import attrs

from planetd.boundaries import (
    FeedConfig,
    FeedState,
    FeedStatus,
    FeedURL,
    FetchResult,
    ParsedFeed,
    PollRecord,
    PollReport,
)
from planetd.decide import decide_poll, needs_parse
from planetd.websublinks import discovered

if TYPE_CHECKING:
    from planetd.poller import Poller


async def digest(
    poller: Poller,
    url: FeedURL,
    feed: FeedConfig,
    state: FeedState,
    fetched: FetchResult,
    started: float,
) -> PollReport:
    """Parse, decide and store one fetched (or pushed) document: the one path for both.

    ``feed`` and ``state`` are as they were when the fetch began: a reload may drop
    the feed from the schedule while its poll is in flight."""
    feed = poller.tune(feed)
    parsed: ParsedFeed | None = None
    if needs_parse(state, fetched):
        assert fetched.body is not None
        try:
            known = await poller.store.known_hashes(url)
            parse_started = poller.reactor.seconds()
            parsed = await poller.parser.parse(
                fetched.body, fetched.final_url or url, fetched.content_type, known
            )
            poller.metrics.parse_finished(poller.reactor.seconds() - parse_started)
        except Exception as e:
            parsed = ParsedFeed(error=f"parser failed: {type(e).__name__}: {e}"[:300])
    now = poller.now()
    outcome = decide_poll(
        feed, state, fetched, parsed, now=now, bounds=poller.bounds, jitter=poller.rng.random()
    )
    try:
        record = await poller.store.record_poll(feed, outcome, now)
    except Exception as e:
        poller.log.error("storing a poll of {url} failed: {error}", url=url, error=str(e))
        retry = poller.reactor.seconds() + poller.bounds.min_interval
        poller.states[url] = attrs.evolve(
            state,
            last_error=f"storing failed: {e}"[:300],
            next_poll_at=datetime.fromtimestamp(retry, tz=timezone.utc),
        )
        record = PollRecord()
        outcome = attrs.evolve(outcome, state=poller.states[url])
    else:
        poller.states[url] = outcome.state
    poller.polls += 1
    elapsed = poller.reactor.seconds() - started
    found = discovered(url, fetched, parsed)
    report = PollReport(
        url=url,
        status=outcome.state.status,
        fetch_kind=fetched.kind,
        http_status=fetched.http_status,
        parsed=parsed is not None,
        new_entries=record.new_entries,
        elapsed=elapsed,
        error=(
            outcome.state.last_error
            if outcome.state.status in (FeedStatus.FAILING, FeedStatus.GONE)
            else None
        ),
        not_modified=parsed is None and outcome.state.status is FeedStatus.OK,
        hub=found.hub if found is not None else None,
        topic=found.topic if found is not None else None,
        pushed=fetched.pushed,
        new_ids=record.new_ids,
    )
    poller.log.info(
        "{how} {url}: {status}{http_text} in {elapsed:.3f}s, {new_entries} new entries{error_text}",
        how="pushed" if fetched.pushed else "polled",
        url=url,
        status=report.status.value,
        http_status=report.http_status,
        http_text=f" (HTTP {report.http_status})" if report.http_status else "",
        elapsed=elapsed,
        new_entries=record.new_entries,
        error_text=f": {report.error}" if report.error else "",
    )
    poller.metrics.poll_finished(report)
    if poller.on_poll is not None:
        poller.on_poll(report)
    for watch in poller.watchers:
        watch(report)
    return report
