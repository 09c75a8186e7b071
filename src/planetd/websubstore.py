"""The WebSub subscriptions table: its queries.

Owns how a :class:`Subscription` is kept in SQLite, one row per feed (the
table is migration 5 in :mod:`planetd.schema`), and read back (a damaged row
is skipped, never fatal). What the rows should say is
:mod:`planetd.websubplan`'s; :class:`planetd.store.Database` calls these
functions with its connection, on the writer thread or a reader's.

Blocking, no Twisted; only the store's modules import ``sqlite3``.
"""

from __future__ import annotations

import sqlite3

from planetd.boundaries import FeedURL, Subscription, WebSubState
from planetd.schema import dt, ts

_COLUMNS = (
    "feed_url, hub, topic, secret, callback_id, state, requested_at, lease_expires_at, "
    "last_push_at, pushes_accepted, pushes_rejected, last_error"
)


def load(conn: sqlite3.Connection) -> list[Subscription]:
    """Every stored subscription, by feed URL."""
    found = []
    for row in conn.execute(f"SELECT {_COLUMNS} FROM websub ORDER BY feed_url"):
        try:
            found.append(
                Subscription(
                    feed_url=FeedURL(row[0]),
                    hub=row[1],
                    topic=row[2],
                    secret=row[3],
                    callback_id=row[4],
                    state=WebSubState(row[5]),
                    requested_at=dt(row[6]),
                    lease_expires_at=dt(row[7]),
                    last_push_at=dt(row[8]),
                    pushes_accepted=int(row[9]),
                    pushes_rejected=int(row[10]),
                    last_error=row[11],
                )
            )
        except (TypeError, ValueError, OverflowError):
            continue  # a damaged row: skipped, never fatal
    return found


#: Every column but the key, set from the row an upsert offered (SQLite and PostgreSQL).
_UPDATES = ", ".join(
    f"{c} = excluded.{c}" for c in _COLUMNS.replace(" ", "").split(",") if c != "feed_url"
)


def save(conn: sqlite3.Connection, sub: Subscription) -> None:
    """Insert or replace the feed's subscription."""
    conn.execute(
        f"INSERT INTO websub ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        f" ON CONFLICT (feed_url) DO UPDATE SET {_UPDATES}",
        (
            sub.feed_url,
            sub.hub,
            sub.topic,
            sub.secret,
            sub.callback_id,
            sub.state.value,
            ts(sub.requested_at),
            ts(sub.lease_expires_at),
            ts(sub.last_push_at),
            sub.pushes_accepted,
            sub.pushes_rejected,
            sub.last_error,
        ),
    )


def forget(conn: sqlite3.Connection, feed_url: FeedURL) -> None:
    """Delete the feed's subscription, if any."""
    conn.execute("DELETE FROM websub WHERE feed_url = ?", (feed_url,))
