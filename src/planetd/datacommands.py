"""The ``planetd`` commands over a planet's data: search, OPML out and in, migrate.

Owns the sequence of ``planetd search``, ``planetd opml export``,
``planetd opml import`` and ``planetd migrate``: load the config, open the
store (or the config's text, or the SQLite file), hand the work to the core
(:mod:`planetd.search`, :mod:`planetd.opml`, :mod:`planetd.render`,
:mod:`planetd.pgmigrate`), print the result. Split from :mod:`planetd.commands`
for size; like it, a shell that decides nothing, with its failures raised as
:class:`planetd.commands.CommandError`, which :func:`planetd.cli.main` turns
into one line.

It imports :mod:`planetd.commands` (its error and helpers), never the other
way round, and never :mod:`planetd.cli`. Each command imports what only it
needs inside its function, so ``opml`` never loads the poll path (treq,
feedparser, the parse pool) or the web app: a quick command stays quick.
"""

from __future__ import annotations

import os
import sys

from planetd.boundaries import FeedState, PlanetConfig, SearchTooSlowError
from planetd.commands import CommandError, _database, _now
from planetd.config import load_config, parse_config

# -- search --------------------------------------------------------------------------


def search(config_path: str, database: str | None, text: str, limit: int) -> int:
    """``planetd search``: the best matches of a query, as ``/search`` ranks them; one line
    each (date, source, title, link, tab-separated). Exit 1 when nothing matches."""
    from planetd.render import Renderer
    from planetd.river import rfc3339
    from planetd.search import SearchSyntaxError, parse_query
    from planetd.site import Site
    from planetd.store import open_database

    config = load_config(config_path)
    try:
        query = parse_query(text)
    except SearchSyntaxError as e:
        raise CommandError(f"search: {e}") from None
    db = open_database(_database(config, database), readonly=True)
    try:
        results = Site(config, Renderer(config)).search(db, query, limit=limit)
    except SearchTooSlowError as e:
        raise CommandError(f"search: {e}") from None
    finally:
        db.close()
    for hit in results.hits:
        entry = hit.entry
        fields = (rfc3339(entry.published), entry.feed_name, entry.title, entry.link or "")
        print("\t".join(" ".join(str(f).split()) for f in fields))
    return 0 if results.hits else 1


# -- opml ----------------------------------------------------------------------------


def opml_export(config_path: str, database: str | None) -> int:
    """``planetd opml export``: the daemon's /opml.xml, from the config if never polled."""
    from planetd.render import Renderer
    from planetd.river import feed_views
    from planetd.store import open_database
    from planetd.subscriptions import configured_states

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


def opml_import(opml_path: str, config_path: str) -> int:
    """``planetd opml import``: append the OPML's new feeds to the config, keeping its text."""
    from planetd.opml import OpmlError, parse_opml, plan_append

    config = load_config(config_path)
    with open(opml_path, "rb") as document:
        data = document.read()
    try:
        outlines = parse_opml(data)
    except OpmlError as e:
        raise CommandError(f"{opml_path}: {e}") from None
    with open(config_path, "rb") as existing:
        original = existing.read()
    plan = plan_append(original, (f.url for f in config.feeds), outlines)
    if plan.added:
        append_to_config(config_path, config, original, plan.text, len(plan.added))
    line = f"added {len(plan.added)} feeds to {config_path}; skipped {plan.already} already present"
    if plan.unusable:
        line += f", {plan.unusable} not http(s) URLs"
    print(line)
    return 0


def append_to_config(
    config_path: str, config: PlanetConfig, original: bytes, text: str, added: int
) -> None:
    """Append ``text`` (feed sections) to the config whose bytes are ``original``, keeping
    them byte for byte; refuse before writing if the result would not load with ``added``
    more feeds (it always should). ``opml import`` and approving a suggestion use it."""
    result = parse_config(original.decode("utf-8") + text, config_path)
    if len(result.feeds) != len(config.feeds) + added:
        raise CommandError(f"{config_path}: the new feeds would not all load; not written")
    with open(config_path, "ab") as appending:
        appending.write(text.encode("utf-8"))


def migrate(source: str, target: str) -> int:
    """``planetd migrate``: copy a planet from SQLite to PostgreSQL, counts checked."""
    from planetd.config import is_database_url
    from planetd.pgmigrate import migrate as copy

    if not is_database_url(target):
        raise CommandError(f"{target}: --to must be a postgresql:// URL")
    if not os.path.exists(source):
        raise CommandError(f"{source}: no such SQLite file")
    copied = copy(source, target)
    print(", ".join(f"{n} {table}" for table, n in copied.items()) + " copied; counts match")
    return 0
