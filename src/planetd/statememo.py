"""Feed states made once per change of their row, shared by every reader connection.

Owns the reuse of :class:`planetd.boundaries.FeedState` values across reads
of the feeds table: a row read again unchanged gives back the very same
object, and its place in :func:`planetd.subscriptions.feed_order`, without
making either again. With 10,000 feeds most reads of the table find most
rows unchanged (a poll rewrites one feed's row), and making 10,000 values and
their sort keys was most of the cost of ``/api/feeds``. Identity then tells a
caller which feeds changed: :class:`planetd.feedsdoc.FeedsDocument` keeps
each feed's encoded JSON while its state is the same object.

Shared by the reader threads (one per connection): its dict is only ever
read and replaced entry by entry, so two threads at worst make one value
twice. Blocking code's helper; no Twisted, no ``sqlite3``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from planetd.boundaries import FeedState
from planetd.subscriptions import feed_order

#: A row of the feeds table, as the store selects it (the URL first).
Row = Sequence[Any]


class FeedStateMemo:
    """The last state made from each feed's row, by URL, with its sort key."""

    def __init__(self) -> None:
        self._made: dict[str, tuple[tuple[Any, ...], FeedState, tuple[bytes, bytes]]] = {}

    def states(self, rows: Iterable[Row], make: Callable[[Row], FeedState]) -> list[FeedState]:
        """The states of ``rows`` in :func:`feed_order`; ``make`` runs for changed rows only.

        A row ``make`` cannot read (damage: TypeError, ValueError, OverflowError)
        is skipped, never fatal, and not remembered.
        """
        keyed: list[tuple[tuple[bytes, bytes], FeedState]] = []
        made = self._made
        for row in rows:
            values = tuple(row)
            found = made.get(values[0])
            if found is None or found[0] != values:
                try:
                    state = make(values)
                except (TypeError, ValueError, OverflowError):
                    continue
                found = (values, state, feed_order(state))
                made[values[0]] = found
            keyed.append((found[2], found[1]))
        keyed.sort(key=_first)
        return [state for _, state in keyed]

    def __len__(self) -> int:
        return len(self._made)


def _first(pair: tuple[tuple[bytes, bytes], FeedState]) -> tuple[bytes, bytes]:
    return pair[0]
