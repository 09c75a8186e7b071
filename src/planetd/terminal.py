"""What the command line prints: rich on a terminal, plain lines for scripts.

Owns the words and layout of ``planetd poll`` (a line or a progress bar per
finished poll, then one summary line) and of ``planetd feeds`` (a table). The
pure parts (:func:`outcome_of`, :func:`summarize`, :class:`PollSummary`,
:func:`report_line`, :func:`feed_rows`, :func:`plain_table`) turn plain values
into text; :class:`PollDisplay` and :func:`show_feeds` write it, choosing rich
only when the stream is a terminal.

A poll's outcome comes from how its fetch ended (``PollReport.fetch_kind``)
and the feed's status after it, never re-derived from the HTTP status.

It must not import Twisted, the store or the poll path; ``rich`` is imported
only when a terminal is there to draw on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

import attrs

from planetd.boundaries import FeedStatus, FetchKind

if TYPE_CHECKING:
    from planetd.boundaries import PollReport
    from planetd.river import FeedView

#: The summary's outcomes, in the order it always prints them (others follow, sorted).
OUTCOMES = ("ok", "not modified", "failing", "gone")
#: The outcomes that count as a failed poll (``planetd poll`` exits 1 if every poll did).
FAILED = ("failing", "gone")


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (a human reads it), not a pipe or a file."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


# -- poll ----------------------------------------------------------------------------


def outcome_of(report: PollReport) -> str:
    """How one poll ended, in the summary's words.

    A 429/503 is "throttled" whatever the feed's status; a fetch that worked
    but whose body did not parse leaves the feed "failing".
    """
    kind = report.fetch_kind
    if kind is FetchKind.THROTTLED:
        return "throttled"
    if kind is FetchKind.GONE:
        return "gone"
    if kind is FetchKind.FAILED or report.status is FeedStatus.FAILING:
        return "failing"
    if report.not_modified:
        return "not modified"
    return "ok" if report.status is FeedStatus.OK else report.status.value


@attrs.frozen
class PollSummary:
    """What a ``planetd poll`` did, counted."""

    configured: int
    polled: int
    outcomes: Mapping[str, int]
    new_entries: int
    elapsed: float

    @property
    def failed(self) -> int:
        """Polls that ended failing or gone."""
        return sum(self.outcomes.get(name, 0) for name in FAILED)

    def line(self) -> str:
        """The one summary line: every usual outcome counted, even at zero, then the others."""
        counts = ", ".join(f"{self.outcomes.get(name, 0)} {name}" for name in OUTCOMES)
        extra = "".join(
            f", {n} {name}" for name, n in sorted(self.outcomes.items()) if name not in OUTCOMES
        )
        return (
            f"polled {self.polled} of {self.configured} feeds in {self.elapsed:.1f}s: "
            f"{counts}{extra}; {self.new_entries} new entries"
        )


def summarize(reports: Sequence[PollReport], configured: int, elapsed: float) -> PollSummary:
    """Count a poll's reports by outcome."""
    outcomes: dict[str, int] = {}
    for report in reports:
        name = outcome_of(report)
        outcomes[name] = outcomes.get(name, 0) + 1
    return PollSummary(
        configured=configured,
        polled=len(reports),
        outcomes=outcomes,
        new_entries=sum(r.new_entries for r in reports),
        elapsed=elapsed,
    )


def report_line(report: PollReport) -> str:
    """One poll as a plain line: outcome, URL, new entries, error."""
    line = f"{outcome_of(report):<12}  {report.url}  {report.new_entries} new"
    return f"{line}  {report.error}" if report.error else line


class PollDisplay:
    """Shows polls as they finish: a rich progress bar on a terminal, plain lines otherwise."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.interrupted = False
        self._progress: Any = None
        self._task: Any = None

    def start(self, due: int, configured: int, poll_all: bool) -> None:
        """Say how many feeds are about to be polled (a progress bar on a terminal)."""
        what = "all" if poll_all else "due"
        if not is_terminal(self.out):
            self.out.write(f"polling {due} of {configured} feeds ({what})\n")
            self.out.flush()
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("polling {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(file=self.out),
        )
        self._task = self._progress.add_task(f"{due} {what} feeds", total=due)
        self._progress.start()

    def polled(self, report: PollReport) -> None:
        """One poll finished: a line for it (on a terminal, only if it failed)."""
        if self._progress is None:
            self.out.write(report_line(report) + "\n")
            self.out.flush()
            return
        from rich.text import Text

        self._progress.advance(self._task)
        if outcome_of(report) in FAILED:
            self._progress.console.print(Text(report_line(report)), highlight=False)

    def stop(self) -> None:
        """Take the progress bar down (safe to call more than once)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def summary(self, summary: PollSummary) -> None:
        """The summary line, and a hint when nothing was due."""
        self.out.write(summary.line() + "\n")
        if not summary.polled and summary.configured:
            self.out.write("no feed was due; 'planetd poll --all' polls every feed\n")
        self.out.flush()


# -- feeds ---------------------------------------------------------------------------

FEED_COLUMNS = ("name", "url", "status", "last success", "next poll", "entries", "last error")


def feed_rows(views: Iterable[FeedView]) -> list[tuple[str, ...]]:
    """One row of :data:`FEED_COLUMNS` per feed, every cell text."""
    return [
        (
            v.name,
            v.url,
            v.status + (" (inactive)" if v.inactive else ""),
            v.last_success_at or "never",
            v.next_poll_at or "",
            str(v.entry_count),
            v.last_error or "",
        )
        for v in views
    ]


def feeds_total(views: Sequence[FeedView]) -> str:
    """``N feeds: a pending, b ok, ...``: every status counted, even at zero."""
    counts = {s.value: 0 for s in FeedStatus}
    for v in views:
        counts[v.status] += 1
    return f"{len(views)} feeds: " + ", ".join(f"{n} {s}" for s, n in counts.items())


def show_feeds(views: Sequence[FeedView], out: TextIO) -> None:
    """The feeds' health: a rich table on a terminal, else plain padded columns."""
    rows = feed_rows(views)
    total = feeds_total(views)
    if is_terminal(out):
        _print_table(rows, total, out)
    else:
        out.write(plain_table(FEED_COLUMNS, rows) + total + "\n")


def plain_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart; the last one not padded."""
    lines = [list(header), *(list(r) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ""
    for line in lines:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])] + [line[-1]]
        text += "  ".join(cells).rstrip() + "\n"
    return text


def _print_table(rows: Sequence[Sequence[str]], total: str, out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    styles = {"ok": "green", "failing": "red", "gone": "magenta", "pending": "yellow"}
    table = Table(caption=total)
    for column in ("feed", "status", "last success", "next poll", "entries", "last error"):
        table.add_column(
            column, justify="right" if column == "entries" else "left", overflow="fold"
        )
    for name, url, status, success, next_poll, entries, error in rows:
        feed = Text(name)
        feed.append("\n" + url, style="dim")
        table.add_row(
            feed,
            Text(status, style=styles.get(status.split()[0], "")),
            Text(success),
            Text(next_poll),
            Text(entries),
            Text(error, style="red"),
        )
    Console(file=out).print(table)
