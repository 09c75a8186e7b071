"""The ``planetd`` commands: one function each, sequencing the core's parts.

Owns the order in which each command loads the config, opens the store,
builds or polls, and writes its files or output. It decides nothing: the
config comes from :func:`planetd.config.load_config`, polls go through the
daemon's own :class:`planetd.aggregation.Aggregation`, pages and feeds from
:class:`planetd.site.Site`, what is printed is :mod:`planetd.terminal`'s.
Expected failures are raised as :class:`CommandError` (or the config's, the
store's, the OS's own), which :func:`planetd.cli.main` turns into one line.
The commands over a planet's data (search, OPML, migrate) are
:mod:`planetd.datacommands`', which builds on this module; this module must
never import it (a cycle) nor :mod:`planetd.cli`.

Like ``tap.py`` it is a shell: it may touch the global reactor (through
``twisted.internet.task.react``, ``poll`` only), the clock, the disk and the
terminal. Each command imports what only it needs inside its function, so
``check`` and ``feeds`` never load the poll path (treq, feedparser,
the parse pool) or the web app: a quick command stays quick.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from planetd.boundaries import PlanetConfig
from planetd.config import load_config
from planetd.groups import planet_groups
from planetd.terminal import PollDisplay, show_feeds, summarize

if TYPE_CHECKING:
    from planetd.boundaries import IDaemonReactor


class CommandError(Exception):
    """An expected failure of a command, said in one line (file first where there is one)."""


def _database(config: PlanetConfig, database: str | None) -> str:
    """``--database`` if given, else the daemon's default (the config's ``database`` key)."""
    return database or config.database


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _load(config_path: str, more: Sequence[str]) -> PlanetConfig:
    """One planet's config, or several planets' (``--config``) as the daemon runs them."""
    from planetd.planets import load_planets

    return load_planets([config_path, *more]) if more else load_config(config_path)


# -- check ---------------------------------------------------------------------------


def check(config_path: str, *, more: Sequence[str] = ()) -> int:
    """``planetd check``: the planet's name, feed count, ignored and unknown keys, and a
    warning for each face that will not show (its file missing from ``faces_dir``); with
    ``more`` planets, each of them, then where each is served and the feeds polled."""
    from planetd.faces import read_faces

    if more:
        return _check_planets(config_path, more)
    config = load_config(config_path)
    print(f"{config.path}: valid")
    print(f"planet: {config.name}")
    print(f"feeds: {len(config.feeds)}")
    print(f"reading lists: {len(config.reading_lists)}")
    for reading_list in config.reading_lists:
        print(
            f"reading list: {reading_list.url} ({reading_list.content_type}):"
            " fetched by the daemon, each feed it names is polled"
        )
    for group in planet_groups(config):
        print(f"group: {group.slug}: {group.title} ({len(group.feeds)} feeds)")
    print(f"database: {config.database}")
    for key, reason in config.ignored:
        print(f"ignored: {key}: {reason}")
    for key in config.unknown:
        print(f"unknown: {key}: not a planetd key, it has no effect")
    for problem in read_faces(config).problems:
        print(f"warning: {problem}")
    return 0


def _check_planets(config_path: str, more: Sequence[str]) -> int:
    from planetd.planets import places

    for path in (config_path, *more):
        check(path)
    config = _load(config_path, more)
    for place in places(config.planets):
        where = [f"at {place.mount}"] if place.mount else []
        where += [f"on host {place.host}"] if place.host else []
        where += ["at /"] if place.root else []
        print(f"planet {place.name}: served {', '.join(where)}")
    listed = sum(len(p.feeds) for p in config.planets)
    print(f"feeds polled: {len(config.feeds)} (listed {listed} times by {len(more) + 1} planets)")
    return 0


# -- reload --------------------------------------------------------------------------


def reload(config_path: str, pidfile: str | None) -> int:
    """``planetd reload``: check the config, then ask the daemon of ``pidfile`` to re-read it.

    The config is checked first, so a broken one is reported here (file, line,
    key) and the daemon is not disturbed. The signal is ``SIGHUP``, which a
    running ``twistd planetd`` answers by reloading (see its log).
    """
    import signal

    load_config(config_path)
    path = pidfile or DEFAULT_PIDFILE
    pid = _running_planetd(path)
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        raise CommandError(f"no planetd runs with pidfile {path} (process {pid} ended)") from None
    print(f"asked planetd (pid {pid}, pidfile {path}) to reload; its log says how it went")
    return 0


#: Where ``twistd`` writes its pid unless told otherwise (``--pidfile``): the current folder.
DEFAULT_PIDFILE = "twistd.pid"


def _running_planetd(path: str) -> int:
    """The pid in ``path`` if a planetd runs with it, else :class:`CommandError` saying why."""
    none = f"no planetd runs with pidfile {path}"
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            text = f.read().strip()
    except FileNotFoundError:
        raise CommandError(f"{none} (no such file)") from None
    if not text.isdigit() or int(text) <= 0:
        raise CommandError(f"{path}: not a pid file (it holds {text[:40]!r})")
    pid = int(text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        raise CommandError(f"{none} (process {pid} has ended; the file is stale)") from None
    except PermissionError:
        raise CommandError(f"{path}: process {pid} belongs to another user") from None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            command = f.read()
    except OSError:
        return pid  # no /proc here: the process exists, trust the file
    if b"planetd" not in command:
        raise CommandError(f"{none} (process {pid} is another program)")
    return pid


# -- poll ----------------------------------------------------------------------------


def poll(
    config_path: str,
    database: str | None,
    *,
    poll_all: bool,
    include_gone: bool = False,
    more: Sequence[str] = (),
) -> int:
    """``planetd poll``: poll due (or all) feeds once on the real reactor, then summarize;
    a feed that several planets (``more``) list is polled once."""
    from twisted.internet.task import react

    from planetd.store import open_database

    config = _load(config_path, more)
    path = _database(config, database)
    # Check (create, migrate) the database before any thread starts, as the daemon does.
    open_database(path).close()
    display = PollDisplay(sys.stdout)
    try:
        react(_poll, (config, path, poll_all, include_gone, display))
    except SystemExit as e:
        if display.interrupted:
            raise SystemExit(130) from None
        return e.code if isinstance(e.code, int) else 1
    return 0  # pragma: no cover - react always exits


async def _poll(
    reactor: IDaemonReactor,
    config: PlanetConfig,
    database: str,
    poll_all: bool,
    include_gone: bool,
    display: PollDisplay,
) -> None:
    from twisted.internet.defer import Deferred

    from planetd.aggregation import Aggregation
    from planetd.schedule import to_poll
    from planetd.store import StoreError

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
        urls = to_poll(
            [poller.states[f.url] for f in config.feeds],
            now,
            poll_all=poll_all,
            include_gone=include_gone,
        )
        # The parse workers start at the first body that needs a parse, not before:
        # a poll whose feeds all answer 304 or an unchanged body never pays for them.
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


def render(config_path: str, database: str | None, output: str, *, more: Sequence[str] = ()) -> int:
    """``planetd render``: the daemon's pages and feeds, written as files, with the
    feeds' face files copied into ``faces/`` (the daemon serves them at ``/faces/``).
    Several planets (``more``): each into its own folder, the page of planets above."""
    from planetd.faces import DEFAULT_FACES_DIR, read_faces
    from planetd.planetspage import shown_planets, static_planets
    from planetd.render import Renderer
    from planetd.site import Site
    from planetd.store import open_database

    config = _load(config_path, more)
    db = open_database(_database(config, database), readonly=True)
    now = _now()
    listed = {s.url: s.feeds for s in db.reading_lists()}
    planets = shown_planets(config, listed) if config.planets else []
    read = [read_faces(p.config) for p in planets] if planets else [read_faces(config)]
    try:
        if planets:
            files = static_planets(db, planets, [f.files for f in read], now)
        else:
            site = Site(config, Renderer(config, read[0].files))
            files = site.static_files(db, now)
            for name, body in read[0].files.items():
                files[f"{DEFAULT_FACES_DIR}/{name}"] = body
    finally:
        db.close()
    for problem in (p for faces in read for p in faces.problems):
        sys.stderr.write(f"planetd: warning: {problem}\n")
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


def feeds(config_path: str, database: str | None, *, more: Sequence[str] = ()) -> int:
    """``planetd feeds``: every configured feed's health, as the /feeds page shows it
    (every feed the planets poll, once, with ``more`` planets)."""
    from planetd.river import feed_views
    from planetd.store import open_database
    from planetd.subscriptions import configured_states

    config = _load(config_path, more)
    db = open_database(_database(config, database), readonly=True)
    try:
        stored = db.feed_states(active_only=False)
        hidden = db.hidden_counts()
    finally:
        db.close()
    views = feed_views(configured_states(config, stored), config, _now(), hidden)
    show_feeds(views, sys.stdout)
    return 0
