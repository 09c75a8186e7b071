"""The ``/api/feeds`` document built incrementally: each feed encoded once per change.

Owns the reuse of each feed's encoded JSON between two builds of the
document. A feed's entry in ``/api/feeds`` depends on its stored state, the
config (fixed for one :class:`FeedsDocument`: a reload makes a new one) and,
through "inactive", the clock; so the bytes of a feed are kept while its state
is the same object (:class:`planetd.statememo.FeedStateMemo` hands back the
same object for an unchanged row) and its inactivity has not flipped. At
10,000 feeds a build then encodes only the feeds polled since the last one.

The bytes are exactly :func:`planetd.shapes.feeds_document`'s: the shape is
that module's (:func:`planetd.shapes.feed_json`), only the joining is here.
Pure but for its memo; must not import Twisted, SQLite or Jinja2.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from planetd.boundaries import FeedState, PlanetConfig
from planetd.river import is_inactive
from planetd.shapes import dump_json, feed_json


class FeedsDocument:
    """Builds ``/api/feeds`` for one config, keeping each feed's bytes while it is unchanged."""

    def __init__(self, config: PlanetConfig) -> None:
        self._threshold = config.activity_threshold
        self._configured = {f.url: f for f in config.feeds}
        #: Per feed URL: the state and inactivity its bytes were made from, and the bytes.
        self._made: dict[str, tuple[FeedState, bool, bytes]] = {}
        #: How many feeds the builds have encoded (the rest were reused).
        self.encoded = 0

    def build(self, states: Sequence[FeedState], now: datetime) -> bytes:
        """The ``/api/feeds`` document of ``states`` (in their order) at ``now``."""
        made = self._made
        parts: list[bytes] = []
        for state in states:
            inactive = is_inactive(state, self._threshold, now)
            found = made.get(state.url)
            if found is None or found[0] is not state or found[1] != inactive:
                shaped = feed_json(state, self._configured.get(state.url), self._threshold, now)
                found = (state, inactive, dump_json(shaped))
                made[state.url] = found
                self.encoded += 1
            parts.append(found[2])
        if len(made) > 2 * len(states) + 64:  # feeds no longer listed: forget them
            listed = {s.url for s in states}
            for url in [u for u in made if u not in listed]:
                del made[url]
        return b'{"feeds":[' + b",".join(parts) + b"]}"
