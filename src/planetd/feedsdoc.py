"""Every feed as the API and the pages show it, made again only when that feed changed.

Owns the reuse of what is made of each feed between two builds: its encoded
JSON in ``/api/feeds`` (:class:`FeedsDocument`) and its
:class:`planetd.river.FeedView`, which every page shows (:class:`FeedViews`).
Both key on the feed's state being the same object
(:class:`planetd.statememo.FeedStateMemo` hands back the same object for an
unchanged row) and on what the clock changes: a feed's JSON on its
inactivity, its view on its inactivity and relative times ("12 min ago");
a view on its hidden counts too. The config is fixed for one instance (a
reload makes a new site). At 10,000 feeds a build then encodes only the
feeds polled since the last one, and spares the 60,000 date formattings of
every feed's view at each build of ``/feeds``, ``/`` or the OPML.

The results are exactly :func:`planetd.shapes.feeds_document`'s and
:func:`planetd.river.feed_views`'s (tests hold them equal): the shapes and
rules are those modules'; only the reuse is here. Pure but for its memos;
must not import Twisted, SQLite or Jinja2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from planetd.boundaries import FeedState, FeedURL, PlanetConfig, Subscription
from planetd.river import FeedView, feed_views, is_inactive, relative_time, shown_next_poll
from planetd.shapes import dump_json, feed_json, websub_json


class FeedsDocument:
    """Builds ``/api/feeds`` for one config, keeping each feed's bytes while it is unchanged."""

    def __init__(self, config: PlanetConfig) -> None:
        self._threshold = config.activity_threshold
        self._configured = {f.url: f for f in config.feeds}
        #: Per feed URL: the state and inactivity its bytes were made from, and the bytes.
        self._made: dict[str, tuple[FeedState, bool, Subscription | None, bytes]] = {}
        #: How many feeds the builds have encoded (the rest were reused).
        self.encoded = 0

    def build(
        self,
        states: Sequence[FeedState],
        now: datetime,
        websub: Mapping[FeedURL, Subscription] | None = None,
    ) -> bytes:
        """The ``/api/feeds`` document of ``states`` (in their order) at ``now``, with
        each feed's WebSub subscription from ``websub`` (None: push is off)."""
        made = self._made
        subs = websub or {}
        parts: list[bytes] = []
        for state in states:
            inactive = is_inactive(state, self._threshold, now)
            sub = subs.get(state.url)
            found = made.get(state.url)
            if found is None or found[0] is not state or found[1] != inactive or found[2] != sub:
                shaped = feed_json(state, self._configured.get(state.url), self._threshold, now)
                shaped["websub"] = websub_json(sub)
                found = (state, inactive, sub, dump_json(shaped))
                made[state.url] = found
                self.encoded += 1
            parts.append(found[3])
        if len(made) > 2 * len(states) + 64:  # feeds no longer listed: forget them
            listed = {s.url for s in states}
            for url in [u for u in made if u not in listed]:
                del made[url]
        return b'{"feeds":[' + b",".join(parts) + b"]}"


class FeedViews:
    """Makes the pages' views of the feeds for one config, each again only when it differs."""

    def __init__(self, config: PlanetConfig) -> None:
        self._config = config
        self._threshold = config.activity_threshold
        #: Per feed URL: what its view was made from (the state first), and the view.
        self._made: dict[str, tuple[tuple[Any, ...], FeedView]] = {}
        #: How many views the builds have made (the rest were reused).
        self.made = 0

    def build(
        self,
        states: Sequence[FeedState],
        now: datetime,
        hidden: Mapping[FeedURL, Mapping[str, int]] | None = None,
        websub: Mapping[FeedURL, Subscription] | None = None,
    ) -> list[FeedView]:
        """:func:`planetd.river.feed_views` of ``states``, reusing every view that is unchanged."""
        hidden = hidden or {}
        subs = websub or {}
        made = self._made
        views: list[FeedView | None] = []
        missing: list[tuple[int, tuple[Any, ...], FeedState]] = []
        for state in states:
            key = (
                state,
                is_inactive(state, self._threshold, now),
                _relative(state.last_polled_at, now),
                _relative(state.last_success_at, now),
                _relative(shown_next_poll(state), now),
                hidden.get(state.url),
                subs.get(state.url),
            )
            found = made.get(state.url)
            if found is not None and found[0][0] is state and found[0][1:] == key[1:]:
                views.append(found[1])
            else:
                missing.append((len(views), key, state))
                views.append(None)
        fresh = feed_views([m[2] for m in missing], self._config, now, hidden, websub)
        for (index, key, state), view in zip(missing, fresh, strict=True):
            made[state.url] = (key, view)
            views[index] = view
        self.made += len(fresh)
        if len(made) > 2 * len(states) + 64:  # feeds no longer listed: forget them
            listed = {s.url for s in states}
            for url in [u for u in made if u not in listed]:
                del made[url]
        return [v for v in views if v is not None]


def _relative(moment: datetime | None, now: datetime) -> str | None:
    return None if moment is None else relative_time(moment, now)
