"""How a ``planetd`` command reads its arguments: the option classes every command builds on.

Owns the command line's one option style: planetd's ``--version``, a
command's positional argument with options before or after it, several
planets given with ``--config``, and the ``--database`` option the commands
share. The commands themselves, their help and :func:`planetd.cli.main` are
:mod:`planetd.cli`'s; split from it for size, it is part of it.

It imports nothing of planetd but ``__version__``: every command module may
build on it, and it must not import :mod:`planetd.cli` or
:mod:`planetd.commands` (a cycle), nor the poll path or the web app.

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
import sys
from collections.abc import Sequence

from twisted.python import usage

from planetd import __version__

_DATABASE = [
    "database",
    "d",
    None,
    "The SQLite file or postgresql:// URL (default as the daemon: the config's "
    "database key, else planetd.sqlite beside the config).",
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


class _Planets(_Command):
    """A command over one planet or several: ``PLANET.INI``, and more planets with
    ``--config`` (repeatable, as the daemon takes them; the first may be given so too)."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Options.__init__ is Twisted's
        self["more"] = []

    def opt_config(self, path: str) -> None:
        """Another planet's config (repeatable): several planets, one database."""
        self["more"].append(path)

    opt_c = opt_config

    def parseArgs(self, *args: str) -> None:
        if len(args) > 1 or not (args or self["more"]):
            raise usage.UsageError(f"expected exactly one {self.synopsis.split()[0]}")
        paths = [*args, *self["more"]]
        self["config"], self["more"] = paths[0], paths[1:]
