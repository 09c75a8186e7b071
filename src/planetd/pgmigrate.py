"""Copying a planet from its SQLite file into a PostgreSQL database, checked.

Owns ``planetd migrate --from PATH --to URL``'s work: every table of
planetd's state (feeds with their schedules and validators, entries with
their hidden reasons, expunged keys, reading lists) copied row for row, in
one PostgreSQL transaction, into a database that holds no planet yet; then
each table's count compared. The copy is all or nothing: a mismatch rolls
it back. The SQLite file is opened read-only and never changed.

Blocking, no Twisted.
"""

from __future__ import annotations

from collections.abc import Callable

from planetd.pgstore import PgDatabase, open_pg_database
from planetd.schema import StoreError
from planetd.store import Database, open_database

#: The tables copied, parents first (entries name their feed).
TABLES = ("feeds", "entries", "expunged", "reading_lists")
#: Rows sent to PostgreSQL at once.
BATCH = 1000


def migrate(
    source: str, target: str, *, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Copy the planet at ``source`` (SQLite) to ``target`` (PostgreSQL); answers the
    rows copied per table, or raises :class:`StoreError` saying why nothing was."""
    sqlite = open_database(source, readonly=True)
    try:
        pg = open_pg_database(target)
        try:
            return _copy(sqlite, pg, target, progress)
        finally:
            pg.close()
    finally:
        sqlite.close()


def _copy(
    sqlite: Database, pg: PgDatabase, target: str, progress: Callable[[str, int], None] | None
) -> dict[str, int]:
    copied: dict[str, int] = {}
    with pg._transaction():
        (held,) = pg.pg.execute("SELECT count(*) FROM feeds").fetchone()
        if held:
            raise StoreError(f"{target}: already holds a planet ({held} feeds); use an empty one")
        for table in TABLES:
            columns = [r[1] for r in sqlite._conn.execute(f"PRAGMA table_info({table})")]
            names = ", ".join(columns)
            marks = ", ".join("?" * len(columns))
            rows = sqlite._conn.execute(f"SELECT {names} FROM {table}")
            count = 0
            while batch := rows.fetchmany(BATCH):
                pg.pg.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", batch)
                count += len(batch)
                if progress is not None:
                    progress(table, count)
            copied[table] = count
        for table in TABLES:
            (want,) = sqlite._conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            (have,) = pg.pg.execute(f"SELECT count(*) FROM {table}").fetchone()
            if want != have or have != copied[table]:
                raise StoreError(
                    f"{target}: {table} holds {have} rows after the copy, the source {want};"
                    " nothing was copied"
                )
    return copied
