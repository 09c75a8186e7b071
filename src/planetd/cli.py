"""``planetd``: the command line, a second face over the daemon's core.

Owns the commands of INTERFACE.md's "Command line" section: parsing their
options, choosing the store path as the daemon does, and printing (a rich
progress bar or table on a terminal, plain lines for scripts otherwise).
Everything it shows comes from the core the daemon uses: the config from
:func:`planetd.config.load_config`, polls through the same
:class:`planetd.wiring.Aggregation` (fetcher, parse pool, store, poller) via
``Poller.poll_once``, pages and feeds from :class:`planetd.site.Site` and
:class:`planetd.render.Renderer`. It decides nothing about feeds itself.

Like ``tap.py`` it is a shell: it may touch the global reactor (through
``twisted.internet.task.react``, ``poll`` only), the clock and the terminal.
Expected failures (a missing file, a bad config, an unusable database, a
malformed OPML) end as one ``planetd: ...`` line on stderr and a non-zero
exit, never a traceback.

Why :class:`twisted.python.usage.Options` rather than typer or click: it is
how ``twistd planetd`` already parses its options (``tap.Options``), so both
faces share one option style and help layout; its ``subCommands`` cover
``planetd opml export``; and it adds no dependency to a package that already
depends on Twisted. Its one gap, options written after the positional
arguments (``planetd poll PLANET.INI --all``, as INTERFACE.md writes them), is
closed by :class:`_Command`, which reorders them with ``getopt.gnu_getopt``.
"""

from __future__ import annotations

import getopt
import os
import sqlite3
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TextIO
from xml.etree import ElementTree

import attrs
from twisted.python import usage

from planetd import __version__
from planetd.boundaries import FeedState, FeedStatus, PlanetConfig
from planetd.config import ConfigError, load_config, parse_config

if TYPE_CHECKING:
    from planetd.boundaries import PollReport

#: The only schemes ``opml import`` adds: an OPML file must not make a planet
#: read (and publish) local files, so ``file:`` feeds are added by hand only.
IMPORT_SCHEMES = ("http://", "https://")

#: HTTP statuses after which a poll is deferred, not failed (INTERFACE.md: 429 and 503).
_THROTTLED = frozenset({429, 503})


class CommandError(Exception):
    """An expected failure of a command, said in one line (file first where there is one)."""


# -- options -----------------------------------------------------------------------


_DATABASE = [
    "database",
    "d",
    None,
    "The SQLite file (default as the daemon: the config's database key, "
    "else planetd.sqlite beside the config).",
]


class _Options(usage.Options):
    """Options with planetd's ``--version`` (Twisted's would print Twisted's)."""

    def opt_version(self) -> None:
        """Print planetd's version and exit."""
        print(f"planetd {__version__}")
        sys.exit(0)


class _Command(_Options):
    """A command's options, which may come before or after its one argument.

    ``argument`` names the positional argument (``PLANET.INI`` is stored as
    ``self["config"]``); ``run`` does the command and gives the exit status.
    """

    synopsis = "PLANET.INI"
    argument = "config"

    def parseOptions(self, options: Sequence[str] | None = None) -> None:
        args = list(sys.argv[1:] if options is None else options)
        if "--_shell-completion" not in args:
            try:
                opts, rest = getopt.gnu_getopt(args, self.shortOpt, self.longOpt)
            except getopt.GetoptError as e:
                raise usage.UsageError(str(e)) from None
            args = [*(part for opt in opts for part in self._spelled(*opt)), "--", *rest]
        super().parseOptions(args)  # type: ignore[no-untyped-call]  # unannotated in Twisted

    def _spelled(self, name: str, value: str) -> tuple[str, ...]:
        """An option as getopt gave it, back as arguments: with its value if it takes one."""
        if name.startswith("--"):
            takes_value = f"{name[2:]}=" in self.longOpt
        else:
            takes_value = f"{name[1:]}:" in self.shortOpt
        return (name, value) if takes_value else (name,)

    def parseArgs(self, *args: str) -> None:
        if len(args) != 1:
            raise usage.UsageError(f"expected exactly one {self.synopsis.split()[0]}")
        self[self.argument] = args[0]

    def run(self) -> int:
        """Do the command; the exit status."""
        raise NotImplementedError


class CheckOptions(_Command):
    synopsis = "PLANET.INI"
    longdesc = "Validate a config: its name, feed count, and every ignored or unknown key."

    def run(self) -> int:
        return check(self["config"])


class PollOptions(_Command):
    synopsis = "PLANET.INI [--all] [--database PATH]"
    longdesc = (
        "Poll the feeds that are due (or all of them) once, through the daemon's own "
        "fetch, parse and store path, then print a summary. Exits 1 if every polled feed failed."
    )
    optFlags = [["all", "a", "Poll every configured feed, not only those that are due."]]
    optParameters = [_DATABASE]

    def run(self) -> int:
        return poll(self["config"], self["database"], poll_all=bool(self["all"]))


class RenderOptions(_Command):
    synopsis = "PLANET.INI --output DIR [--database PATH]"
    longdesc = (
        "Write the planet as static files (index.html, atom.xml, rss20.xml, opml.xml, "
        "feed.json, planetd.css, feeds/index.html) from the database, as the daemon serves them."
    )
    optParameters = [
        ["output", "o", None, "The folder to write into (created if missing)."],
        _DATABASE,
    ]

    def postOptions(self) -> None:
        if not self["output"]:
            raise usage.UsageError("--output DIR is required")

    def run(self) -> int:
        return render(self["config"], self["database"], self["output"])


class FeedsOptions(_Command):
    synopsis = "PLANET.INI [--database PATH]"
    longdesc = "The health of every configured feed, as a table."
    optParameters = [_DATABASE]

    def run(self) -> int:
        return feeds(self["config"], self["database"])


class OpmlExportOptions(_Command):
    synopsis = "PLANET.INI [--database PATH]"
    longdesc = "Write the subscriptions as OPML 2.0 to stdout (the daemon's /opml.xml)."
    optParameters = [_DATABASE]

    def run(self) -> int:
        return opml_export(self["config"], self["database"])


class OpmlImportOptions(_Command):
    synopsis = "FILE.opml --config PLANET.INI"
    longdesc = (
        "Append a feed section for every http(s) feed of an OPML file that the config "
        "lacks; the config's existing text is kept byte for byte."
    )
    optParameters = [["config", "c", None, "The Planet-style INI file to append to (required)."]]
    argument = "opml"

    def postOptions(self) -> None:
        if not self["config"]:
            raise usage.UsageError("--config PLANET.INI is required")

    def run(self) -> int:
        return opml_import(self["opml"], self["config"])


class OpmlOptions(_Options):
    synopsis = "export|import ..."
    longdesc = "Subscriptions out to OPML, or in from OPML."
    subCommands = [
        ["export", None, OpmlExportOptions, "Print the subscriptions as OPML 2.0."],
        ["import", None, OpmlImportOptions, "Append an OPML file's feeds to a config."],
    ]

    def postOptions(self) -> None:
        if not self.subCommand:
            raise usage.UsageError("opml needs a command: export or import")


class Options(_Options):
    """``planetd COMMAND ...``."""

    synopsis = "Usage: planetd"
    longdesc = "The planetd feed aggregator on the command line (the daemon is 'twistd planetd')."
    subCommands = [
        ["check", None, CheckOptions, "Validate a config file."],
        ["poll", None, PollOptions, "Poll due (or all) feeds once."],
        ["render", None, RenderOptions, "Write a static site from the database."],
        ["feeds", None, FeedsOptions, "Show the feeds' health."],
        ["opml", None, OpmlOptions, "Export or import subscriptions as OPML."],
    ]

    def postOptions(self) -> None:
        if not self.subCommand:
            raise usage.UsageError("a command is required: check, poll, render, feeds or opml")


# -- shared helpers ------------------------------------------------------------------


def _database(config: PlanetConfig, database: str | None) -> str:
    """``--database`` if given, else the daemon's default (the config's ``database`` key)."""
    return database or config.database


def _store_order(name: str, url: str) -> tuple[bytes, bytes]:
    """The store's feed order (``name COLLATE NOCASE, url``): UTF-8 bytes, ASCII folded."""
    return name.encode("utf-8", "surrogatepass").lower(), url.encode("utf-8", "surrogatepass")


def configured_states(config: PlanetConfig, stored: Iterable[FeedState]) -> list[FeedState]:
    """Every configured feed's stored state (pending if never stored), in the store's order.

    The config is what the planet subscribes to; the store only knows the
    feeds as of the last poll, so a feed added since shows as pending and one
    removed since is left out.
    """
    by_url = {s.url: s for s in stored}
    states = [by_url.get(f.url) or FeedState(url=f.url, name=f.name) for f in config.feeds]
    names = {f.url: f.name for f in config.feeds}
    return sorted(states, key=lambda s: _store_order(names[s.url], s.url))


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _now() -> datetime:
    return datetime.now(timezone.utc)


# -- check ---------------------------------------------------------------------------


def check(config_path: str) -> int:
    """``planetd check``: the planet's name, feed count, ignored and unknown keys."""
    config = load_config(config_path)
    print(f"{config.path}: valid")
    print(f"planet: {config.name}")
    print(f"feeds: {len(config.feeds)}")
    print(f"database: {config.database}")
    for key, reason in config.ignored:
        print(f"ignored: {key}: {reason}")
    for key in config.unknown:
        print(f"unknown: {key}: not a planetd key, it has no effect")
    return 0


# -- poll ----------------------------------------------------------------------------


def outcome_of(report: PollReport) -> str:
    """How one poll ended, in the summary's words."""
    if report.status is FeedStatus.FAILING:
        return "failing"
    if report.status is FeedStatus.GONE:
        return "gone"
    if report.http_status in _THROTTLED:
        return "throttled"
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
        return self.outcomes.get("failing", 0) + self.outcomes.get("gone", 0)

    def line(self) -> str:
        counts = ", ".join(
            f"{self.outcomes.get(name, 0)} {name}"
            for name in ("ok", "not modified", "failing", "gone")
        )
        extra = "".join(
            f", {n} {name}"
            for name, n in sorted(self.outcomes.items())
            if name not in ("ok", "not modified", "failing", "gone")
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


class _PollDisplay:
    """Shows polls as they finish: a rich progress bar on a terminal, plain lines otherwise."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.interrupted = False
        self._progress: Any = None
        self._task: Any = None

    def start(self, due: int, configured: int, poll_all: bool) -> None:
        what = "all" if poll_all else "due"
        if not _is_terminal(self.out):
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
        if self._progress is None:
            self.out.write(report_line(report) + "\n")
            self.out.flush()
            return
        from rich.text import Text

        self._progress.advance(self._task)
        if report.status in (FeedStatus.FAILING, FeedStatus.GONE):
            self._progress.console.print(Text(report_line(report)), highlight=False)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def summary(self, summary: PollSummary) -> None:
        self.out.write(summary.line() + "\n")
        if not summary.polled and summary.configured:
            self.out.write("no feed was due; 'planetd poll --all' polls every feed\n")
        self.out.flush()


def poll(config_path: str, database: str | None, *, poll_all: bool) -> int:
    """``planetd poll``: poll due (or all) feeds once on the real reactor, then summarize."""
    from twisted.internet.task import react

    from planetd.store import open_database

    config = load_config(config_path)
    path = _database(config, database)
    # Check (create, migrate) the database before any thread starts, as the daemon does.
    open_database(path).close()
    display = _PollDisplay(sys.stdout)
    try:
        react(_poll, (config, path, poll_all, display))
    except SystemExit as e:
        if display.interrupted:
            raise SystemExit(130) from None
        return e.code if isinstance(e.code, int) else 1
    return 0  # pragma: no cover - react always exits


async def _poll(
    reactor: Any, config: PlanetConfig, database: str, poll_all: bool, display: _PollDisplay
) -> None:
    from twisted.internet.defer import Deferred

    from planetd.schedule import is_due
    from planetd.store import StoreError
    from planetd.wiring import Aggregation

    aggregation = Aggregation(config, database, reactor, on_poll=display.polled)
    finished = False

    def on_shutdown() -> Deferred[None]:
        # Ctrl-C stops the reactor mid-poll: still close the store cleanly.
        if not finished:
            display.interrupted = True
            display.stop()
            sys.stderr.write("planetd: interrupted; closing the database\n")
        return Deferred.fromCoroutine(aggregation.close())

    reactor.addSystemEventTrigger("before", "shutdown", on_shutdown)
    started = reactor.seconds()
    try:
        await aggregation.open(warm_parsers=False)
        poller = aggregation.poller
        now = poller.now()
        urls = [f.url for f in config.feeds if poll_all or is_due(poller.states[f.url], now)]
        if urls:
            aggregation.parser.start()
        display.start(len(urls), len(config.feeds), poll_all)
        reports = await poller.poll_once(urls)
        elapsed = reactor.seconds() - started
    except StoreError as e:
        sys.stderr.write(f"planetd: {e}\n")
        raise SystemExit(1) from None
    except Exception:
        # A bug: react would log it where no one looks; show it, then fail.
        traceback.print_exc()
        raise SystemExit(1) from None
    finally:
        display.stop()
        await aggregation.close()
        finished = True
    summary = summarize(reports, len(config.feeds), elapsed)
    display.summary(summary)
    if summary.polled and summary.failed == summary.polled:
        raise SystemExit(1)


# -- render --------------------------------------------------------------------------


def render(config_path: str, database: str | None, output: str) -> int:
    """``planetd render``: the daemon's pages and feeds, written as files."""
    from planetd.render import Renderer, feed_views, read_stylesheet
    from planetd.site import STATIC_FILES, Site
    from planetd.store import open_database

    config = load_config(config_path)
    db = open_database(_database(config, database), readonly=True)
    now = _now()
    site = Site(config, Renderer(config))
    try:
        # "./" makes every link relative, so the folder can be served at any path.
        outputs = site.build_all(db, now, root="./", paginate=False)
        # The pages link to "feeds" and "feeds/<id>" (the daemon's paths): an
        # index.html in each folder answers there on any static server.
        views = feed_views(db.feed_states(), config, now, db.hidden_counts())
        feeds_page = site.renderer.feeds_html(views, now, root="../")
        feed_pages = {view.id: site.feed_page(db, now, view.id, root="../../") for view in views}
    finally:
        db.close()
    files = {name: outputs[path].body for name, path in STATIC_FILES.items()}
    files["planetd.css"] = read_stylesheet(site.renderer)
    files[os.path.join("feeds", "index.html")] = feeds_page
    for fid, page in feed_pages.items():
        if page is not None:
            files[os.path.join("feeds", fid, "index.html")] = page
    write_files(output, files)
    names = list(files)
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    print(f"wrote {len(files)} files to {output}: {shown}")
    return 0


def write_files(folder: str, files: Mapping[str, bytes]) -> None:
    """Write each file atomically (a web server never serves half a file)."""
    for name, body in files.items():
        target = os.path.join(folder, name)
        parent = os.path.dirname(target)
        os.makedirs(parent, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=parent, prefix=".planetd-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(body)
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise


# -- feeds ---------------------------------------------------------------------------

_FEED_COLUMNS = ("name", "url", "status", "last success", "next poll", "entries", "last error")


def feeds(config_path: str, database: str | None) -> int:
    """``planetd feeds``: every configured feed's health, as the /feeds page shows it."""
    from planetd.render import feed_views
    from planetd.store import open_database

    config = load_config(config_path)
    db = open_database(_database(config, database), readonly=True)
    try:
        stored = db.feed_states(active_only=False)
        hidden = db.hidden_counts()
    finally:
        db.close()
    now = _now()
    views = feed_views(configured_states(config, stored), config, now, hidden)
    rows = [
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
    counts = {s.value: 0 for s in FeedStatus}
    for v in views:
        counts[v.status] += 1
    total = f"{len(views)} feeds: " + ", ".join(f"{n} {s}" for s, n in counts.items())
    if _is_terminal(sys.stdout):
        _print_table(rows, total)
    else:
        sys.stdout.write(plain_table(_FEED_COLUMNS, rows) + total + "\n")
    return 0


def plain_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart; the last one not padded."""
    lines = [list(header), *(list(r) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ""
    for line in lines:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])] + [line[-1]]
        text += "  ".join(cells).rstrip() + "\n"
    return text


def _print_table(rows: Sequence[Sequence[str]], total: str) -> None:
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
    Console().print(table)


# -- opml ----------------------------------------------------------------------------


def opml_export(config_path: str, database: str | None) -> int:
    """``planetd opml export``: the daemon's /opml.xml, from the config if never polled."""
    from planetd.render import Renderer, feed_views
    from planetd.store import open_database

    config = load_config(config_path)
    path = _database(config, database)
    stored: list[FeedState] = []
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.exists(path) or not os.path.isdir(folder):
        db = open_database(path, readonly=True)
        try:
            stored = db.feed_states(active_only=False)
        finally:
            db.close()
    now = _now()
    views = feed_views(configured_states(config, stored), config, now)
    sys.stdout.buffer.write(Renderer(config).opml(views, now))
    sys.stdout.flush()
    return 0


def read_opml(path: str) -> list[tuple[str, str]]:
    """``(xmlUrl, text)`` of every outline that has a feed URL, nested ones included."""
    try:
        # The OPML is the operator's own file; expat neither fetches external
        # entities nor expands entity bombs past its amplification limit.
        root = ElementTree.parse(path).getroot()  # noqa: S314 - see above
    except ElementTree.ParseError as e:
        raise CommandError(f"{path}: not well-formed XML, so not OPML ({e})") from None
    if _local(root.tag) != "opml":
        raise CommandError(f"{path}: not OPML (its root element is <{_local(root.tag)}>)")
    found = []
    for outline in root.iter():
        if _local(outline.tag) != "outline":
            continue
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if url:
            name = outline.get("text") or outline.get("title") or ""
            found.append((url, " ".join(name.split())))
    return found


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _usable_url(url: str) -> bool:
    return (
        url.startswith(IMPORT_SCHEMES) and url.isprintable() and not any(c.isspace() for c in url)
    )


def opml_import(opml_path: str, config_path: str) -> int:
    """``planetd opml import``: append the OPML's new feeds to the config, keeping its text."""
    config = load_config(config_path)
    found = read_opml(opml_path)
    present: set[str] = {f.url for f in config.feeds}
    added: list[tuple[str, str]] = []
    already = unusable = 0
    for url, name in found:
        if not _usable_url(url):
            unusable += 1
        elif url in present:
            already += 1
        else:
            present.add(url)
            added.append((url, name))
    with open(config_path, "rb") as existing:
        original = existing.read()
    newline = "\r\n" if b"\r\n" in original else "\n"
    appended = "".join(
        f"{newline}[{url}]{newline}" + (f"name = {name}{newline}" if name else "")
        for url, name in added
    )
    if added:
        if original and not original.endswith(b"\n"):
            appended = newline + appended
        # Refuse before writing if the result would not load (it always should).
        result = parse_config(original.decode("utf-8") + appended, config_path)
        if len(result.feeds) != len(config.feeds) + len(added):
            raise CommandError(f"{config_path}: the imported feeds would not all load; not written")
        with open(config_path, "ab") as appending:
            appending.write(appended.encode("utf-8"))
    line = f"added {len(added)} feeds to {config_path}; skipped {already} already present"
    if unusable:
        line += f", {unusable} not http(s) URLs"
    print(line)
    return 0


# -- entry point ---------------------------------------------------------------------


def _describe_os_error(e: OSError) -> str:
    where = f"{e.filename}: " if e.filename else ""
    return f"{where}{e.strerror or e}"


def _fail(message: str, status: int = 1) -> None:
    sys.stderr.write(f"planetd: {message}\n")
    raise SystemExit(status)


def main(argv: list[str] | None = None) -> None:
    """The ``planetd`` console script."""
    from planetd.store import StoreError

    options = Options()  # type: ignore[no-untyped-call]  # Options.__init__ is Twisted's
    try:
        options.parseOptions(sys.argv[1:] if argv is None else argv)  # type: ignore[no-untyped-call]  # Twisted's
    except usage.UsageError as e:
        _fail(f"{e} (see 'planetd --help')", 2)
    command: Any = options
    while command.subCommand:
        command = command.subOptions
    run: Callable[[], int] = command.run
    try:
        status = run()
    except (ConfigError, StoreError, CommandError) as e:
        _fail(str(e))
    except OSError as e:
        if isinstance(e, BrokenPipeError):
            # Output piped into `head`: stop quietly, as other tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise SystemExit(1) from None
        _fail(_describe_os_error(e))
    except sqlite3.Error as e:
        _fail(f"database error: {e}")
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    if status:
        raise SystemExit(status)


__all__ = ["CommandError", "Options", "main"]
