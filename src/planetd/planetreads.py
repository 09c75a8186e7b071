"""The reads that serve several planets of one database: what each planet hides or shows.

Owns the two queries :mod:`planetd.planetview` builds a planet's view from
when several planets share one database: the entries of a feed's first
delivery that a planet's ``new_feed_items`` hides, and the duplicates a
planet shows because the feed that brought the post first is another
planet's. :class:`SeveralPlanetsReads` is a part of
:class:`planetd.store.Database` (split out of :mod:`planetd.store` for
size), so both engines run these very queries over their connection.

Blocking, no Twisted; must not import :mod:`planetd.store` (which builds on it).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from planetd.boundaries import EntryID, FeedURL, Hidden
from planetd.plan import HASH_KEY_PREFIX

if TYPE_CHECKING:
    import sqlite3


class SeveralPlanetsReads:
    """The reads of several planets, over the connection of the database they are part of."""

    _conn: sqlite3.Connection

    def first_delivery_beyond(self, feed_url: FeedURL, keep: int) -> list[EntryID]:
        """The entries of the feed's first delivery beyond its ``keep`` newest: what a
        planet with ``new_feed_items = keep`` hides (:mod:`planetd.planetview`).

        The first delivery is what the feed's first good poll stored (the
        entries first seen at the feed's earliest ``first_seen``), ranked as
        :func:`planetd.plan.flood_hidden` ranks it; entries hidden already
        are left out.
        """
        rows = self._conn.execute(
            "SELECT id FROM (SELECT id, hidden FROM entries WHERE feed_url = ? AND first_seen ="
            " (SELECT min(first_seen) FROM entries WHERE feed_url = ?)"
            " ORDER BY published DESC, key DESC LIMIT -1 OFFSET ?) WHERE hidden IS NULL",
            (feed_url, feed_url, keep),
        )
        return [EntryID(row[0]) for row in rows]

    def duplicates_alone_in(self, feeds: Collection[FeedURL]) -> list[tuple[EntryID, FeedURL]]:
        """Entries (and their feed) of ``feeds`` stored hidden as duplicates whose post no
        other entry of
        ``feeds`` shows: the feed that brought the post first is another planet's,
        so a planet of ``feeds`` shows this copy (:mod:`planetd.planetview`).

        A post is the same as :func:`planetd.plan.is_duplicate` says: the same key
        (not a content hash) or the same link.
        """
        if not feeds:
            return []
        scope = sorted(feeds)
        marks = ", ".join("?" * len(scope))
        rows = self._conn.execute(
            "SELECT e.id, e.feed_url FROM entries e WHERE e.hidden = ?"
            f" AND e.feed_url IN ({marks}) AND NOT EXISTS ("
            " SELECT 1 FROM entries o WHERE o.hidden IS NULL AND o.id != e.id"
            f" AND o.feed_url IN ({marks})"
            " AND ((o.key = e.key AND e.key NOT LIKE ?) OR (o.link = e.link)))",
            (Hidden.DUPLICATE.value, *scope, *scope, HASH_KEY_PREFIX + "%"),
        )
        return [(EntryID(row[0]), FeedURL(row[1])) for row in rows]
