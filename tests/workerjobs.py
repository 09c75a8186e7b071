"""Module-level stand-ins for parse_feed that a worker process can import: they misbehave."""

from __future__ import annotations

import os
import time

from planetd.boundaries import EntryKey, ParsedFeed
from planetd.parse import parse_feed


def crash_or_parse(
    body: bytes, url: str, content_type: str | None, known: dict[EntryKey, str]
) -> ParsedFeed:
    """Kills its worker process when the body says so; parses otherwise."""
    if body == b"crash":
        os._exit(3)
    if body == b"hang":
        time.sleep(120)
    return parse_feed(body, url, content_type, known)
