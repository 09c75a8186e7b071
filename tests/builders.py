"""Value builders for tests: stored entries, feed states and configs with sane defaults."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from planetd.boundaries import (
    EntryID,
    EntryKey,
    FeedConfig,
    FeedURL,
    ParsedEntry,
    StoredEntry,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)  # type: ignore[misc]


def stored(n: int, published: datetime, **kw: Any) -> StoredEntry:
    values: dict[str, Any] = {
        "id": EntryID(f"{n:024x}"),
        "feed_url": FeedURL("https://blog.example.org/feed"),
        "key": EntryKey(f"key{n}"),
        "title": f"Entry {n}",
        "link": f"https://blog.example.org/{n}",
        "author": "Jane Doe",
        "published": published,
        "updated": None,
        "first_seen": published,
        "content_html": f"<p>Body {n}</p>",
        "feed_name": "Jane's Blog",
        "feed_link": "https://blog.example.org/",
    }
    values.update(kw)
    return StoredEntry(**values)


def feed_config(url: str = "https://blog.example.org/feed", **kw: Any) -> FeedConfig:
    values: dict[str, Any] = {
        "url": FeedURL(url),
        "name": "Jane's Blog",
        "poll_interval": 3600.0,
        "feed_timeout": 30.0,
        "max_feed_bytes": 10 * 1024 * 1024,
    }
    values.update(kw)
    return FeedConfig(**values)


def parsed(key: str, published: datetime | None = None, **kw: Any) -> ParsedEntry:
    values: dict[str, Any] = {
        "key": EntryKey(key),
        "raw_hash": f"hash-{key}",
        "title": f"Title {key}",
        "link": f"https://blog.example.org/{key}",
        "author": None,
        "published": published,
        "updated": None,
        "content_html": f"<p>{key}</p>",
        "text": f"Title {key}\n{key}",
    }
    values.update(kw)
    return ParsedEntry(**values)
