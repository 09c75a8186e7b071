"""``planetd``: the command line, a second face over the daemon's core.

Owns the command line's surface (INTERFACE.md's "Command line" section): the
options of every command, their help, and :func:`main`, the console script,
which runs a command and turns its expected failures (a missing file, a bad
config, an unusable database, a malformed OPML) into one ``planetd: ...``
line on stderr and a non-zero exit, never a traceback. What each command
does is :mod:`planetd.commands` (search, OPML and migrate:
:mod:`planetd.datacommands`); what it prints, :mod:`planetd.terminal`;
OPML in, :mod:`planetd.opml`.

It must not import the poll path (treq, feedparser, the parse pool) or the
web app at import time: ``planetd check`` and the other quick commands load
only what they use.

How a command reads its arguments (options before or after them, several
planets with ``--config``, and why :class:`twisted.python.usage.Options`) is
:mod:`planetd.cliargs`'s.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from twisted.python import usage

from planetd import commands, datacommands
from planetd.cliargs import _DATABASE, _Command, _Options, _Planets
from planetd.commands import CommandError
from planetd.config import ConfigError

# -- options -----------------------------------------------------------------------


class CheckOptions(_Planets):
    synopsis = "PLANET.INI [--config PLANET.INI]..."
    longdesc = (
        "Validate a config: its name, feed count, and every ignored or unknown key; with "
        "several (--config), where each planet is served and how many feeds they share."
    )

    def run(self) -> int:
        return commands.check(self["config"], more=self["more"])


class ReloadOptions(_Command):
    synopsis = "PLANET.INI [--pidfile PATH]"
    longdesc = (
        "Check a config, then ask the running daemon to re-read its config without a "
        "restart (SIGHUP to the process named by the pid file; 'kill -HUP' does the same)."
    )
    optParameters = [
        [
            "pidfile",
            "p",
            None,
            "The daemon's pid file, as given to twistd --pidfile "
            "(default: twistd.pid in the current folder, twistd's own default).",
        ]
    ]

    def run(self) -> int:
        return commands.reload(self["config"], self["pidfile"])


class PollOptions(_Planets):
    synopsis = "PLANET.INI [--config PLANET.INI]... [--all] [--include-gone] [--database PATH]"
    longdesc = (
        "Poll the feeds that are due (or all of them) once, through the daemon's own "
        "fetch, parse and store path, then print a summary. Exits 1 if every polled feed failed."
    )
    optFlags = [
        ["all", "a", "Poll every configured feed but the gone ones, not only those that are due."],
        ["include-gone", None, "Poll gone feeds (those that answered 410) too."],
    ]
    optParameters = [_DATABASE]

    def run(self) -> int:
        return commands.poll(
            self["config"],
            self["database"],
            poll_all=bool(self["all"]),
            include_gone=bool(self["include-gone"]),
            more=self["more"],
        )


class RenderOptions(_Planets):
    synopsis = "PLANET.INI [--config PLANET.INI]... --output DIR [--database PATH]"
    longdesc = (
        "Write the planet as static files (index.html, atom.xml, rss20.xml, opml.xml, "
        "feed.json, planetd.css, feeds/index.html) from the database, as the daemon serves them. "
        "Several planets (--config): each into DIR/<its mount or name>/, the page of planets "
        "as DIR/index.html."
    )
    optParameters = [
        ["output", "o", None, "The folder to write into (created if missing)."],
        _DATABASE,
    ]

    def postOptions(self) -> None:
        if not self["output"]:
            raise usage.UsageError("--output DIR is required")

    def run(self) -> int:
        return commands.render(self["config"], self["database"], self["output"], more=self["more"])


class FeedsOptions(_Planets):
    synopsis = "PLANET.INI [--config PLANET.INI]... [--database PATH]"
    longdesc = "The health of every configured feed, as a table."
    optParameters = [_DATABASE]

    def run(self) -> int:
        return commands.feeds(self["config"], self["database"], more=self["more"])


class SearchOptions(_Command):
    synopsis = "PLANET.INI QUERY [--limit N] [--database PATH]"
    longdesc = (
        'Search the stored entries as /search does: all words must match, "quoted words" '
        "are a phrase, -word excludes, word* is a prefix. Prints the best matches first, one "
        "a line: date, source, title, link (tab-separated)."
    )
    optParameters = [
        ["limit", "n", 20, "How many results to print (1 to 500).", int],
        _DATABASE,
    ]

    def parseArgs(self, *args: str) -> None:
        if len(args) != 2:
            raise usage.UsageError("expected PLANET.INI and a QUERY (quote it if it has spaces)")
        self["config"], self["query"] = args

    def postOptions(self) -> None:
        if not 1 <= self["limit"] <= 500:
            raise usage.UsageError("--limit must be from 1 to 500")

    def run(self) -> int:
        return datacommands.search(self["config"], self["database"], self["query"], self["limit"])


class OpmlExportOptions(_Command):
    synopsis = "PLANET.INI [--database PATH]"
    longdesc = "Write the subscriptions as OPML 2.0 to stdout (the daemon's /opml.xml)."
    optParameters = [_DATABASE]

    def run(self) -> int:
        return datacommands.opml_export(self["config"], self["database"])


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
        return datacommands.opml_import(self["opml"], self["config"])


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


class _SubmissionCommand(_Command):
    """A ``planetd submissions`` command over the queue of suggested feeds."""

    optParameters = [
        ["config", "c", "planet.ini", "The planet's config (default: planet.ini here)."],
        _DATABASE,
    ]
    synopsis = "ID [--config PLANET.INI] [--database PATH]"
    argument = "id"

    def postOptions(self) -> None:
        if not str(self["id"]).isdigit():
            raise usage.UsageError(f"ID must be a suggestion's number, not {self['id']!r}")


class SubmissionsListOptions(_Options):
    synopsis = "[--state pending|approved|rejected] [--config PLANET.INI] [--database PATH]"
    longdesc = "Every suggested feed, oldest first, one a line (tab-separated)."
    optParameters = [
        ["state", "s", None, "Only suggestions in this state."],
        *_SubmissionCommand.optParameters,
    ]

    def postOptions(self) -> None:
        if self["state"] not in (None, "pending", "approved", "rejected"):
            raise usage.UsageError("--state must be pending, approved or rejected")

    def run(self) -> int:
        from planetd import moderation

        return moderation.submissions_list(self["config"], self["database"], self["state"])


class SubmissionsShowOptions(_SubmissionCommand):
    longdesc = "Everything the queue keeps of one suggestion, its preview included."

    def run(self) -> int:
        from planetd import moderation

        return moderation.submissions_show(self["config"], self["database"], int(self["id"]))


class SubmissionsApproveOptions(_SubmissionCommand):
    synopsis = "ID [--config PLANET.INI] [--database PATH] [--pidfile PATH]"
    longdesc = (
        "Approve a suggestion: append its feed section to the config (its text kept byte "
        "for byte), then ask the running daemon to reload, as 'planetd reload' does."
    )
    optParameters = [
        *_SubmissionCommand.optParameters,
        ["pidfile", "p", None, "The daemon's pid file (default: twistd.pid here)."],
    ]

    def run(self) -> int:
        from planetd import moderation

        return moderation.submissions_approve(
            self["config"], self["database"], int(self["id"]), self["pidfile"]
        )


class SubmissionsRejectOptions(_SubmissionCommand):
    synopsis = "ID [--reason TEXT] [--config PLANET.INI] [--database PATH]"
    longdesc = "Reject a suggestion; it is kept with the reason, so it is not suggested again."
    optParameters = [
        *_SubmissionCommand.optParameters,
        ["reason", "r", None, "Why (shown to whoever suggests the same feed again)."],
    ]

    def run(self) -> int:
        from planetd import moderation

        return moderation.submissions_reject(
            self["config"], self["database"], int(self["id"]), self["reason"]
        )


class SubmissionsOptions(_Options):
    synopsis = "list|show|approve|reject ..."
    longdesc = "The queue of feeds suggested at /submit: list, show, approve or reject them."
    subCommands = [
        ["list", None, SubmissionsListOptions, "List the suggestions."],
        ["show", None, SubmissionsShowOptions, "Show one suggestion."],
        ["approve", None, SubmissionsApproveOptions, "Approve one: add it to the config."],
        ["reject", None, SubmissionsRejectOptions, "Reject one, with a reason."],
    ]

    def postOptions(self) -> None:
        if not self.subCommand:
            raise usage.UsageError("submissions needs a command: list, show, approve or reject")


class MigrateOptions(_Options):
    synopsis = "--from PLANET.SQLITE --to postgresql://USER@HOST:PORT/DB"
    longdesc = (
        "Copy a planet (feeds, schedules, validators, entries, hidden reasons, expunged "
        "keys, reading lists) from its SQLite file into an empty PostgreSQL database, "
        "and check that every table's count matches."
    )
    optParameters = [
        ["from", None, None, "The SQLite file to copy (read only)."],
        ["to", None, None, "The PostgreSQL database to copy into (postgresql://...)."],
    ]

    def postOptions(self) -> None:
        if not self["from"] or not self["to"]:
            raise usage.UsageError("migrate needs --from PATH and --to postgresql://...")

    def run(self) -> int:
        return datacommands.migrate(self["from"], self["to"])


class Options(_Options):
    """``planetd COMMAND ...``."""

    synopsis = "Usage: planetd"
    longdesc = "The planetd feed aggregator on the command line (the daemon is 'twistd planetd')."
    subCommands = [
        ["check", None, CheckOptions, "Validate a config file."],
        ["poll", None, PollOptions, "Poll due (or all) feeds once."],
        ["reload", None, ReloadOptions, "Make the running daemon re-read its config."],
        ["render", None, RenderOptions, "Write a static site from the database."],
        ["feeds", None, FeedsOptions, "Show the feeds' health."],
        ["opml", None, OpmlOptions, "Export or import subscriptions as OPML."],
        ["search", None, SearchOptions, "Search the stored entries."],
        ["submissions", None, SubmissionsOptions, "Moderate the suggested feeds."],
        ["migrate", None, MigrateOptions, "Copy a planet from SQLite to PostgreSQL."],
    ]

    def postOptions(self) -> None:
        if not self.subCommand:
            raise usage.UsageError(
                "a command is required: check, poll, reload, render, feeds, opml, search,"
                " submissions or migrate"
            )


# -- entry point ---------------------------------------------------------------------


def _describe_os_error(e: OSError) -> str:
    where = f"{e.filename}: " if e.filename else ""
    return f"{where}{e.strerror or e}"


def _fail(message: str, status: int = 1) -> None:
    sys.stderr.write(f"planetd: {message}\n")
    raise SystemExit(status)


def main(argv: list[str] | None = None) -> None:
    """The ``planetd`` console script."""
    from planetd.store import DatabaseError, StoreError

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
    except DatabaseError as e:
        _fail(f"database error: {e}")
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    if status:
        raise SystemExit(status)


__all__ = ["CommandError", "Options", "main"]
