"""Every JSON document planetd serves, side by side: their exact shapes.

Owns the field names and value formats of ``/api/entries``, ``/api/feeds``,
``/feed.json`` (JSON Feed 1.1) and ``/moderate``'s queue, and how JSON is encoded. The rules
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
    Group,
    PlanetConfig,
    SearchHit,
    StoredEntry,
    Submission,
    Subscription,
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


#: Each feed's group slugs, for the ``groups`` field of an entry (absent: in no group).
GroupSlugs = Mapping[FeedURL, Sequence[str]]


def entry_json(
    entry: StoredEntry, *, with_hidden: bool = False, groups: GroupSlugs | None = None
) -> dict[str, Any]:
    """One entry in the ``/api/entries`` shape; with ``groups``, its ``groups`` field (the
    slugs of its feed's groups, an empty list for a feed in none)."""
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
    if groups is not None:
        shaped["groups"] = list(groups.get(entry.feed_url, ()))
    if with_hidden:
        shaped["hidden"] = entry.hidden.value if entry.hidden else None
    return shaped


def entries_document(
    entries: Sequence[StoredEntry],
    next_cursor: str | None,
    *,
    with_hidden: bool = False,
    groups: GroupSlugs | None = None,
) -> bytes:
    """The ``/api/entries`` document: one page of entries and the cursor of the next."""
    return dump_json(
        {
            "entries": [entry_json(e, with_hidden=with_hidden, groups=groups) for e in entries],
            "next": next_cursor,
        }
    )


def search_document(
    hits: Sequence[SearchHit],
    next_cursor: str | None,
    *,
    with_hidden: bool = False,
    groups: GroupSlugs | None = None,
) -> bytes:
    """The ``/api/entries?q=`` document: the ``/api/entries`` shape, best match first, each
    entry with ``snippet_html`` (its text around the hits, escaped, hits in ``<mark>``)."""
    return dump_json(
        {
            "entries": [
                {
                    **entry_json(h.entry, with_hidden=with_hidden, groups=groups),
                    "snippet_html": h.snippet_html,
                }
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


def feeds_document(
    states: Sequence[FeedState],
    config: PlanetConfig,
    now: datetime,
    websub: Mapping[FeedURL, Subscription] | None = None,
) -> bytes:
    """The ``/api/feeds`` document: every feed the store holds, in the store's order.

    ``websub`` is each feed's WebSub subscription (None: push is off, every
    feed says ``"websub": null``).
    """
    configured: Mapping[FeedURL, FeedConfig] = {f.url: f for f in config.feeds}
    subs = websub or {}
    return dump_json(
        {
            "feeds": [
                feed_json(s, configured.get(s.url), config.activity_threshold, now)
                | {"websub": websub_json(subs.get(s.url))}
                for s in states
            ]
        }
    )


def websub_json(sub: Subscription | None) -> dict[str, Any] | None:
    """A feed's WebSub subscription in ``/api/feeds``, or None without one."""
    if sub is None:
        return None
    return {
        "hub": sub.hub,
        "topic": sub.topic,
        "state": sub.state.value,
        "lease_expires_at": rfc3339(sub.lease_expires_at),
        "last_push_at": rfc3339(sub.last_push_at),
        "pushes_accepted": sub.pushes_accepted,
        "pushes_rejected": sub.pushes_rejected,
        "last_error": sub.last_error,
    }


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
    config: PlanetConfig,
    entries: Sequence[StoredEntry],
    feed_url: str,
    group: Group | None = None,
) -> bytes:
    """The river as JSON Feed 1.1 (``/feed.json``); ``feed_url`` is where it is served.
    A ``group``'s river (``/groups/SLUG/feed.json``) is titled and described as the group."""
    document: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": config.name if group is None else f"{config.name}: {group.title}",
        "feed_url": feed_url,
        "items": [],
    }
    if config.link:
        document["home_page_url"] = config.link
    if group is not None and group.description:
        document["description"] = group.description
    if config.owner_name:
        document["authors"] = [{"name": config.owner_name}]
    document["items"] = [json_feed_item(entry) for entry in entries]
    return dump_json(document)


def submission_json(s: Submission) -> dict[str, Any]:
    """One suggested feed as ``/moderate`` (with a bearer token) lists it."""
    return {
        "id": s.id,
        "url": s.form.url,
        "name": s.form.name,
        "contact": s.form.contact,
        "group": s.form.group or None,
        "state": s.state.value,
        "created_at": rfc3339(s.created_at),
        "reason": s.reason,
        "preview": {
            "parsed": s.preview.parsed,
            "title": s.preview.title,
            "entries": list(s.preview.entries),
            "error": s.preview.error,
        },
    }


def submissions_document(submissions: Sequence[Submission]) -> bytes:
    """``/moderate``'s queue for scripts: ``{"submissions": [...]}``, oldest first."""
    return dump_json({"submissions": [submission_json(s) for s in submissions]})
