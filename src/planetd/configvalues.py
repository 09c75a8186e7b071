"""The values of a Planet config, checked: one converter per kind of value.

Owns: how one INI value becomes a typed one (durations, sizes, yes/no, regular
expressions, counts, pixels, endpoints, mounts, host names, secrets, public
URLs, quoted names, ``file:`` URLs) and the one-line reason when it cannot.
Split from :mod:`planetd.config`, which owns the keys and sections and calls
these; pure functions of a string, so a value reads the same wherever it is
checked. Must not import Twisted, feedparser or anything that does I/O, nor
:mod:`planetd.config` (it imports this).
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

from planetd.boundaries import FutureDates

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_duration(text: str) -> float:
    """Seconds from ``"90"``, ``"30s"``, ``"15m"``, ``"2h"`` or ``"1d"``."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"expected a duration such as 30s, 15m, 2h or 1d, got {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def parse_size(text: str) -> int:
    """Bytes from ``"1048576"``, ``"512k"``, ``"10MiB"`` or ``"1g"``."""
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"expected a size such as 512k, 10MiB or 1048576, got {text!r}")
    unit = (match.group(2) or "").lower()[:1]
    return int(match.group(1)) * _SIZE_UNITS[unit]


def positive_int(text: str) -> int:
    value = int(text.strip())
    if value < 0:
        raise ValueError(f"expected a whole number of 0 or more, got {text!r}")
    return value


def whole_number(text: str) -> int:
    try:
        return positive_int(text)
    except ValueError:
        raise ValueError(f"expected a whole number, got {text!r}") from None


def positive_duration(text: str) -> float:
    value = parse_duration(text)
    if value <= 0:
        raise ValueError(f"expected a duration above zero, got {text!r}")
    return value


def regex(text: str) -> str:
    try:
        re.compile(text)
    except re.error as e:
        raise ValueError(f"not a valid regular expression ({e})") from None
    return text


def future_dates(text: str) -> FutureDates:
    try:
        return FutureDates(text.strip())
    except ValueError:
        choices = ", ".join(f.value for f in FutureDates)
        raise ValueError(f"expected one of {choices}, got {text!r}") from None


def date_format(text: str) -> str:
    if "%" not in text:
        raise ValueError(f"expected a strftime format such as %d %b %Y, got {text!r}")
    return text


def boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "yes", "true", "on"):
        return True
    if value in ("0", "no", "false", "off"):
        return False
    raise ValueError(f"expected yes or no, got {text!r}")


def public_url(text: str) -> str:
    """An absolute http(s) URL; the WebSub callbacks live under it."""
    value = text.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL, got {text!r}")
    return value.rstrip("/") + "/"


def pixels(text: str) -> int:
    value = whole_number(text)
    if not 1 <= value <= 10000:
        raise ValueError(f"expected a size in pixels from 1 to 10000, got {text!r}")
    return value


def endpoint(text: str) -> str:
    value = text.strip()
    if ":" not in value:
        raise ValueError(f"expected a server endpoint such as tcp:9100, got {text!r}")
    return value


_MOUNT = re.compile(r"^(/[A-Za-z0-9._~-]+)+/?$")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")


def mount(text: str) -> str:
    """A path prefix such as ``/python/``, always ending with ``/``."""
    value = text.strip()
    if not _MOUNT.match(value):
        raise ValueError(
            f"expected a path below / such as /python/ (root = yes serves at /), got {text!r}"
        )
    return value.rstrip("/") + "/"


def host(text: str) -> str:
    """A Host header value such as ``planet.example.org``, lower case, without a port."""
    value = text.strip().lower()
    if not _HOST.match(value):
        raise ValueError(f"expected a host name such as planet.example.org, got {text!r}")
    return value


def secret(text: str) -> str | None:
    value = text.strip()
    if not value:
        return None
    if len(value) < 16:
        raise ValueError("expected a secret of 16 characters or more")
    return value


def unlimited_or_count(text: str) -> int | None:
    return None if text.strip().lower() in ("", "all", "unlimited") else whole_number(text)


def unquoted(text: str) -> str:
    """A name without one pair of surrounding quotes: Planet configs write ``name = "Menno's
    Musings"`` and mean the words, and INI keeps the quotes as part of the value."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1].strip()
    return text


def file_path(url: str, config_path: str) -> str:
    """The filesystem path of a ``file:`` feed URL, relative ones against the config's folder."""
    rest = url[len("file:") :]
    if rest.startswith("//"):
        rest = rest[2:]
        # file://host/path: only the local host is meaningful.
        host, _, rest = rest.partition("/")
        rest = "/" + rest
        if host not in ("", "localhost"):
            raise ValueError(f"file URL names another host: {url}")
    from urllib.parse import unquote

    rest = unquote(rest)
    if os.path.isabs(rest):
        return rest
    return os.path.join(os.path.dirname(os.path.abspath(config_path)), rest)
