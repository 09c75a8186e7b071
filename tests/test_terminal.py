"""What the command line prints: each poll's outcome, the summary counts, the feeds table."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

from planetd.boundaries import FeedStatus, FeedURL, FetchKind, PollReport
from planetd.river import FeedView
from planetd.terminal import (
    FEED_COLUMNS,
    PollDisplay,
    feed_rows,
    feeds_total,
    outcome_of,
    plain_table,
    report_line,
    show_feeds,
    summarize,
)


def report(kind: FetchKind, status: FeedStatus, **kw: Any) -> PollReport:
    values: dict[str, Any] = {
        "url": FeedURL("https://blog.example.org/feed"),
        "status": status,
        "fetch_kind": kind,
        "http_status": 200,
        "parsed": kind is FetchKind.OK,
        "new_entries": 0,
        "elapsed": 0.1,
        "error": None,
        "not_modified": kind is FetchKind.NOT_MODIFIED,
    }
    values.update(kw)
    return PollReport(**values)


@pytest.mark.parametrize(
    ("polled", "outcome"),
    [
        (report(FetchKind.OK, FeedStatus.OK), "ok"),
        (report(FetchKind.NOT_MODIFIED, FeedStatus.OK, http_status=304), "not modified"),
        # A 200 whose body is the one already stored: nothing parsed, nothing changed.
        (report(FetchKind.OK, FeedStatus.OK, parsed=False, not_modified=True), "not modified"),
        (report(FetchKind.FAILED, FeedStatus.FAILING, http_status=404), "failing"),
        # The fetch worked but the body is not a feed: the feed is failing.
        (report(FetchKind.OK, FeedStatus.FAILING, error="not a feed"), "failing"),
        (report(FetchKind.GONE, FeedStatus.GONE, http_status=410), "gone"),
        (report(FetchKind.THROTTLED, FeedStatus.OK, http_status=429), "throttled"),
        # A 429/503 is not a failure, even for a feed that was failing before it.
        (report(FetchKind.THROTTLED, FeedStatus.FAILING, http_status=503), "throttled"),
        # The fetcher's word counts, whatever the HTTP status says.
        (report(FetchKind.THROTTLED, FeedStatus.OK, http_status=None), "throttled"),
        (report(FetchKind.FAILED, FeedStatus.FAILING, http_status=503), "failing"),
    ],
)
def test_each_poll_outcome_comes_from_how_its_fetch_ended(polled: PollReport, outcome: str) -> None:
    """A poll's outcome is read from its fetch kind and the feed's status, not the HTTP status."""
    assert outcome_of(polled) == outcome


def test_the_summary_counts_every_outcome_and_the_new_entries() -> None:
    """The summary line always names the four usual outcomes, then any other, sorted."""
    reports = [
        report(FetchKind.OK, FeedStatus.OK, new_entries=3),
        report(FetchKind.OK, FeedStatus.OK, new_entries=2),
        report(FetchKind.NOT_MODIFIED, FeedStatus.OK),
        report(FetchKind.THROTTLED, FeedStatus.PENDING),
        report(FetchKind.FAILED, FeedStatus.FAILING),
    ]
    summary = summarize(reports, configured=7, elapsed=1.25)
    assert summary.polled == 5
    assert summary.failed == 1
    assert summary.line() == (
        "polled 5 of 7 feeds in 1.2s: 2 ok, 1 not modified, 1 failing, 0 gone,"
        " 1 throttled; 5 new entries"
    )


def test_only_failing_and_gone_polls_count_as_failed() -> None:
    """``planetd poll`` fails when every poll failed: gone counts, throttled does not."""
    failed = summarize(
        [report(FetchKind.GONE, FeedStatus.GONE), report(FetchKind.FAILED, FeedStatus.FAILING)],
        configured=2,
        elapsed=0.0,
    )
    assert failed.failed == failed.polled == 2
    throttled = summarize(
        [
            report(FetchKind.THROTTLED, FeedStatus.FAILING),
            report(FetchKind.FAILED, FeedStatus.FAILING),
        ],
        configured=2,
        elapsed=0.0,
    )
    assert throttled.failed == 1


def test_a_report_line_names_outcome_url_new_entries_and_error() -> None:
    """One plain line per poll: outcome padded, URL, new entries, then the error if any."""
    ok = report(FetchKind.OK, FeedStatus.OK, new_entries=3)
    assert report_line(ok).split() == ["ok", "https://blog.example.org/feed", "3", "new"]
    failed = report(FetchKind.FAILED, FeedStatus.FAILING, error="HTTP 404 Not Found")
    assert report_line(failed) == (
        "failing       https://blog.example.org/feed  0 new  HTTP 404 Not Found"
    )


def test_off_a_terminal_polls_are_plain_lines() -> None:
    """Piped output gets a start line, a line per poll and the summary, with no escape codes."""
    out = io.StringIO()
    display = PollDisplay(out)
    display.start(1, 2, poll_all=False)
    polled = report(FetchKind.NOT_MODIFIED, FeedStatus.OK)
    display.polled(polled)
    display.stop()
    display.summary(summarize([polled], configured=2, elapsed=0.5))
    assert out.getvalue().splitlines() == [
        "polling 1 of 2 feeds (due)",
        report_line(polled),
        "polled 1 of 2 feeds in 0.5s: 0 ok, 1 not modified, 0 failing, 0 gone; 0 new entries",
    ]
    assert "\x1b" not in out.getvalue()


def test_when_nothing_was_due_the_summary_says_how_to_poll_all() -> None:
    """A poll that found nothing due points at ``--all``."""
    out = io.StringIO()
    PollDisplay(out).summary(summarize([], configured=3, elapsed=0.0))
    assert out.getvalue().splitlines()[-1] == (
        "no feed was due; 'planetd poll --all' polls every feed"
    )


def view(name: str, status: str, **kw: Any) -> FeedView:
    values: dict[str, Any] = {
        "id": "abc",
        "url": f"https://{name.lower()}.example.org/feed",
        "name": name,
        "link": None,
        "status": status,
        "inactive": False,
        "http_status": None,
        "last_error": None,
        "last_polled_at": None,
        "last_success_at": None,
        "next_poll_at": None,
        "entry_count": 0,
        "moved_to": None,
        "hidden": {},
    }
    values.update(kw)
    return FeedView(**values)


def test_feed_rows_say_never_and_inactive_and_count_every_status() -> None:
    """A feed never polled says "never"; an inactive one says so; every status is counted."""
    views = [
        view("Alpha", "ok", inactive=True, last_success_at="2026-07-04 09:30 GMT", entry_count=3),
        view(
            "Beta", "failing", last_error="HTTP 404 Not Found", next_poll_at="2026-07-05 00:00 GMT"
        ),
    ]
    assert feed_rows(views) == [
        (
            "Alpha",
            "https://alpha.example.org/feed",
            "ok (inactive)",
            "2026-07-04 09:30 GMT",
            "",
            "3",
            "",
        ),
        (
            "Beta",
            "https://beta.example.org/feed",
            "failing",
            "never",
            "2026-07-05 00:00 GMT",
            "0",
            "HTTP 404 Not Found",
        ),
    ]
    assert feeds_total(views) == "2 feeds: 0 pending, 1 ok, 1 failing, 0 gone"


def test_off_a_terminal_the_feeds_table_is_padded_columns() -> None:
    """Piped, ``planetd feeds`` is a header, one padded row per feed and the total."""
    out = io.StringIO()
    show_feeds([view("Alpha", "pending")], out)
    lines = out.getvalue().splitlines()
    assert re.split(r"\s{2,}", lines[0]) == list(FEED_COLUMNS)
    assert lines[1].startswith("Alpha  https://alpha.example.org/feed  pending  never")
    assert lines[-1] == "1 feeds: 1 pending, 0 ok, 0 failing, 0 gone"
    assert len(lines) == 3


def test_plain_columns_are_padded_to_the_widest_cell_but_the_last() -> None:
    """Cells line up two spaces apart; the last column is not padded, and no line ends in spaces."""
    text = plain_table(("a", "bb", "c"), [("long", "x", ""), ("s", "yyy", "end")])
    assert text == "a     bb   c\nlong  x\ns     yyy  end\n"
