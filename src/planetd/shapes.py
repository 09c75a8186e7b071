"""Every JSON document planetd serves, side by side: their exact shapes.

Owns the field names and value formats of ``/api/entries``, ``/api/feeds``
and ``/feed.json`` (JSON Feed 1.1), and how JSON is encoded. The rules
behind the values (a gone feed has no next poll, the configured name wins,
inactivity) are :mod:`planetd.river`'s; this module only lays them out, so
the public shapes in INTERFACE.md can be checked against one file.

Pure functions over :mod:`planetd.boundaries` values. Must not import
Twisted, SQLite or Jinja2.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from planetd.boundaries import (
    FeedConfig,
    FeedState,
    FeedURL,
    PlanetConfig,
    SearchHit,
    StoredEntry,
)
from planetd.river import (
    entry_uri,
    is_inactive,
    reading_list_of,
    rfc3339,
    shown_name,
    shown_next_poll,
)


def dump_json(document: Any) -> bytes:
    """Compact UTF-8 JSON; lone surrogates from broken feeds are replaced, never emitted."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "replace")


# -- /api/entries ----------------------------------------------------------------------


def entry_json(entry: StoredEntry, *, with_hidden: bool = False) -> dict[str, Any]:
    """One entry in the ``/api/entries`` shape."""
    shaped: dict[str, Any] = {
        "id": entry.id,
        "feed_url": entry.feed_url,
        "feed_name": entry.feed_name,
        "title": entry.title,
        "link": entry.link,
        "author": entry.author,
        "published": rfc3339(entry.published),
        "updated": rfc3339(entry.updated),
        "content_html": entry.content_html,
    }
    if with_hidden:
        shaped["hidden"] = entry.hidden.value if entry.hidden else None
    return shaped


def entries_document(
    entries: Sequence[StoredEntry], next_cursor: str | None, *, with_hidden: bool = False
) -> bytes:
    """The ``/api/entries`` document: one page of entries and the cursor of the next."""
    return dump_json(
        {
            "entries": [entry_json(e, with_hidden=with_hidden) for e in entries],
            "next": next_cursor,
        }
    )


def search_document(
    hits: Sequence[SearchHit], next_cursor: str | None, *, with_hidden: bool = False
) -> bytes:
    """The ``/api/entries?q=`` document: the ``/api/entries`` shape, best match first, each
    entry with ``snippet_html`` (its text around the hits, escaped, hits in ``<mark>``)."""
    return dump_json(
        {
            "entries": [
                {**entry_json(h.entry, with_hidden=with_hidden), "snippet_html": h.snippet_html}
                for h in hits
            ],
            "next": next_cursor,
        }
    )


# -- /api/feeds ------------------------------------------------------------------------


def feed_json(
    state: FeedState, config: FeedConfig | None, threshold_days: int | None, now: datetime
) -> dict[str, Any]:
    """One feed in the ``/api/feeds`` shape."""
    return {
        "url": state.url,
        "name": shown_name(state, config),
        "link": state.link,
        "status": state.status.value,
        "http_status": state.http_status,
        "last_error": state.last_error,
        "last_polled_at": rfc3339(state.last_polled_at),
        "last_success_at": rfc3339(state.last_success_at),
        "next_poll_at": rfc3339(shown_next_poll(state)),
        "entry_count": state.entry_count,
        "moved_to": state.moved_to,
        "consecutive_failures": state.consecutive_failures,
        "inactive": is_inactive(state, threshold_days, now),
        "reading_list": reading_list_of(config),
        "parser": state.parser,
    }


def feeds_document(states: Sequence[FeedState], config: PlanetConfig, now: datetime) -> bytes:
    """The ``/api/feeds`` document: every feed the store holds, in the store's order."""
    configured: Mapping[FeedURL, FeedConfig] = {f.url: f for f in config.feeds}
    return dump_json(
        {
            "feeds": [
                feed_json(s, configured.get(s.url), config.activity_threshold, now) for s in states
            ]
        }
    )


# -- /feed.json ------------------------------------------------------------------------


def json_feed_item(entry: StoredEntry) -> dict[str, Any]:
    """One entry as a JSON Feed 1.1 item, with planetd's fields under ``_planetd``."""
    item: dict[str, Any] = {
        "id": entry_uri(entry),
        "title": entry.title,
        "content_html": entry.content_html,
        "date_published": rfc3339(entry.published),
        "_planetd": {
            "feed_url": entry.feed_url,
            "feed_name": entry.feed_name,
            "feed_link": entry.feed_link,
        },
    }
    if entry.link:
        item["url"] = entry.link
    if entry.updated:
        item["date_modified"] = rfc3339(entry.updated)
    if entry.author:
        item["authors"] = [{"name": entry.author}]
    return item


def json_feed_document(
    config: PlanetConfig, entries: Sequence[StoredEntry], feed_url: str
) -> bytes:
    """The river as JSON Feed 1.1 (``/feed.json``); ``feed_url`` is where it is served."""
    document: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": config.name,
        "feed_url": feed_url,
        "items": [],
    }
    if config.link:
        document["home_page_url"] = config.link
    if config.owner_name:
        document["authors"] = [{"name": config.owner_name}]
    document["items"] = [json_feed_item(entry) for entry in entries]
    return dump_json(document)
