"""What servers and feeds say about when to come back, read into seconds.

Owns the parsing of every polling hint planetd honours: ``Retry-After``
(delta-seconds or an HTTP date), the freshness lifetime of a response
(``Cache-Control: max-age``, else ``Expires`` counted from ``Date``), an RSS
``<ttl>`` and the RSS 1.0 syndication module's ``sy:updatePeriod`` /
``sy:updateFrequency``, plus the HTTP-date forms they use. Each parser turns
a header or element text into seconds, or ``None`` when there is no usable
hint; none of them raises for a server's or a feed's nonsense.

The fetcher reads the HTTP hints and the parser the feed's own; what the
numbers *mean* for the next poll (they are floors, bounds win) is
:mod:`planetd.schedule`'s policy, not this module's. Pure: must not import
Twisted, treq, feedparser, or anything that reads a clock (``now`` is always
an argument, a timezone-aware UTC datetime).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

__all__ = [
    "SY_PERIODS",
    "parse_freshness",
    "parse_http_date",
    "parse_retry_after",
    "parse_sy_period",
    "parse_ttl_minutes",
    "require_aware",
]

#: RSS 1.0 syndication module periods, in seconds (a month is 30 days).
SY_PERIODS = {
    "hourly": 3600.0,
    "daily": 86400.0,
    "weekly": 7 * 86400.0,
    "monthly": 30 * 86400.0,
    "yearly": 365 * 86400.0,
}

_NUMBER = re.compile(r"^[+-]?[0-9]+(?:\.[0-9]+)?$")
_UNSIGNED = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")
_DIGITS = re.compile(r"^[0-9]+$")
_DIRECTIVE = re.compile(
    r"""\s*([^\s=,"]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^\s,"]*))?\s*(?:,|$)""",
)


def require_aware(now: datetime) -> None:
    """Refuse a naive ``now``: every time planetd reasons about is timezone-aware UTC.

    Raises:
        ValueError: if ``now`` carries no UTC offset.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")


def parse_http_date(value: str) -> datetime | None:
    """An HTTP date (IMF-fixdate, RFC 850 or asctime) as an aware datetime, else None.

    A date that names no zone (asctime, ``-0000``) is read as GMT.
    """
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, OverflowError):
        return None
    if parsed.tzinfo is None:
        # asctime dates and "-0000" carry no zone; HTTP dates are always GMT.
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from ``now`` that a ``Retry-After`` header asks us to wait.

    Accepts delta-seconds (``"120"``, leniently also a decimal or a sign) and
    an HTTP date. A negative delay or a date in the past is ``0.0``: the
    server allows a retry at once. A missing or unreadable value is ``None``.
    """
    require_aware(now)
    if value is None:
        return None
    text = value.strip()
    if _NUMBER.match(text):
        return max(0.0, float(text))
    when = parse_http_date(text)
    if when is None:
        return None
    return max(0.0, (when - now).total_seconds())


def _cache_directives(cache_control: str) -> dict[str, str | None]:
    """``Cache-Control`` directives by lower-case name; the first of a repeat wins."""
    directives: dict[str, str | None] = {}
    for match in _DIRECTIVE.finditer(cache_control):
        name, argument = match.group(1).lower(), match.group(2)
        if argument is not None and argument.startswith('"'):
            argument = argument[1:-1]
        directives.setdefault(name, argument)
    return directives


def parse_freshness(
    cache_control: str | None,
    expires: str | None,
    date: str | None,
    now: datetime,
) -> float | None:
    """Seconds a response says it stays fresh, from its caching headers.

    ``max-age`` wins over ``Expires`` (RFC 9111). ``Expires`` counts from the
    response's ``Date`` when it has a valid one (so the server's clock skew
    cancels out), else from ``now``; an invalid ``Expires`` (such as ``"0"``)
    means already stale, ``0.0``. ``no-store`` and an unqualified ``no-cache``
    mean no hint at all (``None``), as does the absence of both headers or an
    unreadable ``max-age`` without ``Expires``.

    ``s-maxage`` is ignored on purpose: it speaks to shared caches (CDNs),
    which publishers often let hold a page for hours because they purge them on
    publish; planetd is an end client, and following it would miss new posts.
    """
    require_aware(now)
    if cache_control is not None:
        directives = _cache_directives(cache_control)
        if "no-store" in directives:
            return None
        # A qualified no-cache="Set-Cookie" restricts only the named fields.
        if "no-cache" in directives and not directives["no-cache"]:
            return None
        max_age = directives.get("max-age")
        if max_age is not None and _DIGITS.match(max_age):
            return float(max_age)
    if expires is None:
        return None
    expires_at = parse_http_date(expires)
    if expires_at is None:
        return 0.0
    origin = parse_http_date(date) if date is not None else None
    return max(0.0, (expires_at - (origin or now)).total_seconds())


def parse_ttl_minutes(ttl: str | None) -> float | None:
    """Seconds that an RSS ``<ttl>`` (in minutes) says a feed may be cached.

    A number of minutes, whole or decimal, is accepted; anything else
    (missing, negative, words) is ``None``.
    """
    if ttl is None:
        return None
    text = ttl.strip()
    if not _UNSIGNED.match(text):
        return None
    return float(text) * 60.0


def parse_sy_period(period: str | None, frequency: str | None) -> float | None:
    """Seconds between updates that ``sy:updatePeriod``/``sy:updateFrequency`` state.

    The period is ``hourly``, ``daily``, ``weekly``, ``monthly`` (30 days) or
    ``yearly`` (365 days), ``daily`` when only a frequency is given, as the
    syndication module specifies; the frequency (default 1) divides it. Both
    missing, an unknown period or a frequency that is not a positive number is
    ``None``.
    """
    if period is None and frequency is None:
        return None
    seconds = SY_PERIODS.get((period or "daily").strip().lower())
    if seconds is None:
        return None
    if frequency is None:
        return seconds
    text = frequency.strip()
    if not _UNSIGNED.match(text) or float(text) == 0:
        return None
    return seconds / float(text)
