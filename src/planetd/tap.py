"""``twistd planetd``: the command-line options and the service they make.

Owns turning options into a running service: reading the config, checking
the database can be used (before anything starts, so a bad one stops the
daemon with one clear line), and wiring the real reactor, fetcher, parse
pool and store into :class:`planetd.service.PlanetService`. This is the only
module that touches the global reactor.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn, cast

from twisted.python import usage

from planetd.config import DEFAULT_LISTEN

if TYPE_CHECKING:
    from twisted.internet.interfaces import IStreamServerEndpoint

    from planetd.boundaries import IDaemonReactor
    from planetd.service import PlanetService


class Options(usage.Options):
    """Options for ``twistd planetd``."""

    synopsis = (
        "--config PLANET.INI [--config PLANET.INI]... [--listen ENDPOINT]... [--database PATH|URL]"
    )
    longdesc = (
        "Polls the feeds of a Planet-style INI file into SQLite and serves the river "
        "as HTML, Atom, RSS, JSON Feed and a JSON API. Several --config files: several "
        "planets, one database, one poll per feed URL."
    )
    optParameters = [
        [
            "database",
            "d",
            None,
            "The SQLite file (default: planetd.sqlite beside the config), "
            "or a postgresql://USER@HOST:PORT/DB database several daemons may share.",
        ],
    ]

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self["listen"] = []
        self["config"] = None
        self["configs"] = []

    def opt_config(self, path: str) -> None:
        """The Planet-style INI file (required); repeatable: one planet each."""
        self["configs"].append(path)
        self["config"] = self["configs"][0]

    opt_c = opt_config

    def opt_listen(self, endpoint: str) -> None:
        """A Twisted server endpoint to serve on; repeatable (tcp:8080:interface=127.0.0.1)."""
        self["listen"].append(endpoint)

    opt_l = opt_listen

    def postOptions(self) -> None:
        if not self["config"]:
            raise usage.UsageError("--config PLANET.INI is required")


def _log_index_progress(done: int, total: int) -> None:
    """Log how far a migration's first build of the search index has got."""
    from twisted.logger import Logger

    Logger(namespace="planetd.store").info(
        "search index: {done} of {total} entries indexed", done=done, total=total
    )


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"planetd: {message}\n")
    raise SystemExit(1)


def _endpoint(reactor: IDaemonReactor, description: str) -> IStreamServerEndpoint:
    """The server endpoint ``description`` names; ``ValueError`` saying why if none."""
    from twisted.internet.endpoints import serverFromString

    try:
        endpoint: IStreamServerEndpoint = serverFromString(reactor, description)
    except IndexError:
        # systemd:...:index=N, and systemd passed fewer sockets (LISTEN_FDS).
        raise ValueError(
            "systemd passed no socket at that index (start it through its .socket unit)"
        ) from None
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"not a server endpoint ({e})") from None
    return endpoint


def makeService(options: Options) -> PlanetService:
    """Read the config, check the database, and build the service tree."""
    from twisted.internet import reactor as installed

    from planetd.config import ConfigError, key_error
    from planetd.planets import load_planets
    from planetd.service import PlanetService
    from planetd.store import StoreError, open_database

    paths = list(options["configs"]) or [options["config"]]
    try:
        config = load_planets(paths)
    except ConfigError as e:
        _fail(str(e))
    # The global reactor provides every interface the daemon uses (see IDaemonReactor).
    reactor = cast("IDaemonReactor", installed)
    metrics_endpoint = None
    if config.metrics_listen:
        try:
            metrics_endpoint = _endpoint(reactor, config.metrics_listen)
        except ValueError as e:
            _fail(str(key_error(config.path, "metrics_listen", str(e))))
    database = options["database"] or config.database
    try:
        open_database(database, progress=_log_index_progress).close()
    except StoreError as e:
        _fail(str(e))
    listen = options["listen"] or list(config.listen) or [DEFAULT_LISTEN]
    endpoints = []
    for description in listen:
        try:
            endpoints.append(_endpoint(reactor, description))
        except ValueError as e:
            _fail(f"--listen {description!r}: {e}")
    return PlanetService(
        config,
        database,
        endpoints,
        reactor,
        metrics_endpoint=metrics_endpoint,
        read_config=lambda _path: load_planets(paths),
    )
