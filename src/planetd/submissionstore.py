"""The queue of suggested feeds in SQLite: its table, and the queries over it.

Owns migration 6's ``submissions`` table and every statement that reads or
writes it. One row per normalised feed URL (``UNIQUE``): a URL once suggested
stays, pending, approved or rejected with its reason, so it is not queued
twice nor re-suggested after a rejection. Adding checks the queue (the URL,
the cap) and inserts in one transaction, so two suggestions racing cannot both
pass. The rules themselves (what is refused, in which words) are
:mod:`planetd.submissions`'; this module only asks and writes.

Blocking, no Twisted: :class:`planetd.store.Database` hands out a
:class:`SubmissionQueue` over its connection, :mod:`planetd.dbthreads` runs it
off the reactor, ``planetd submissions`` runs it directly.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from planetd import schema
from planetd.boundaries import Preview, Submission, SubmissionForm, SubmissionState
from planetd.submissions import QueueFullError, check_queued, queue_full

#: Migration 6: the queue of suggested feeds.
SCHEMA = """
CREATE TABLE submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    contact TEXT NOT NULL,
    feed_group TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'pending',
    reason TEXT,
    created_at REAL NOT NULL,
    decided_at REAL,
    preview_parsed INTEGER NOT NULL DEFAULT 0,
    preview_title TEXT NOT NULL DEFAULT '',
    preview_entries TEXT NOT NULL DEFAULT '[]',
    preview_error TEXT
);
CREATE INDEX submissions_state ON submissions (state, id);
"""

_COLUMNS = (
    "id, url, name, contact, feed_group, state, reason, created_at, decided_at, "
    "preview_parsed, preview_title, preview_entries, preview_error"
)


def _submission(row: Sequence[Any]) -> Submission:
    return Submission(
        id=int(row[0]),
        form=SubmissionForm(url=row[1], name=row[2], contact=row[3], group=row[4]),
        state=SubmissionState(row[5]),
        reason=row[6],
        created_at=schema.required_dt(row[7]),
        decided_at=schema.dt(row[8]),
        preview=Preview(
            parsed=bool(row[9]),
            title=row[10],
            entries=tuple(str(t) for t in json.loads(row[11] or "[]")),
            error=row[12],
        ),
    )


class SubmissionQueue:
    """The ``submissions`` table over one connection (the caller owns the thread)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def add(self, form: SubmissionForm, preview: Preview, now: datetime, cap: int) -> Submission:
        """Queue ``form``; ``SubmissionRefusedError`` if its URL is known, ``QueueFullError``
        if the queue is full."""
        with schema.Transaction(self._conn):
            check_queued(self._find(form.url))
            if queue_full(self._pending(), cap):
                raise QueueFullError("the queue of suggestions is full; try again later")
            cursor = self._conn.execute(
                "INSERT INTO submissions (url, name, contact, feed_group, created_at,"
                " preview_parsed, preview_title, preview_entries, preview_error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    form.url,
                    form.name,
                    form.contact,
                    form.group,
                    schema.ts(now),
                    int(preview.parsed),
                    preview.title,
                    json.dumps(list(preview.entries)),
                    preview.error,
                ),
            )
            sid = int(cursor.fetchone()[0])
        found = self.get(sid)
        assert found is not None
        return found

    def find(self, url: str) -> Submission | None:
        """The suggestion of the normalised ``url``, whatever its state."""
        return self._find(url)

    def _find(self, url: str) -> Submission | None:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM submissions WHERE url = ?", (url,)
        ).fetchone()
        return None if row is None else _submission(row)

    def get(self, sid: int) -> Submission | None:
        """Suggestion ``sid``, or None."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM submissions WHERE id = ?", (sid,)
        ).fetchone()
        return None if row is None else _submission(row)

    def all(self, state: SubmissionState | None = None) -> list[Submission]:
        """Every suggestion (or those in ``state``), oldest first."""
        if state is None:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM submissions ORDER BY id")
        else:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM submissions WHERE state = ? ORDER BY id", (state.value,)
            )
        return [_submission(r) for r in rows]

    def pending(self) -> int:
        """How many suggestions wait for a moderator."""
        return self._pending()

    def _pending(self) -> int:
        row = self._conn.execute(
            "SELECT count(*) FROM submissions WHERE state = 'pending'"
        ).fetchone()
        return int(row[0])

    def decide(
        self, sid: int, state: SubmissionState, reason: str | None, now: datetime
    ) -> Submission | None:
        """Record a moderator's decision on ``sid``; None if there is no such suggestion."""
        with schema.Transaction(self._conn):
            self._conn.execute(
                "UPDATE submissions SET state = ?, reason = ?, decided_at = ? WHERE id = ?",
                (state.value, reason, schema.ts(now), sid),
            )
        return self.get(sid)
