"""Reading the real-world date forms feedparser misses, the same way on both parse paths.

Owns the extra forms: RFC 822 dates written with Portuguese, Spanish, French
or German day and month names (``Seg, 24 Set 2018 19:42:40 -0300``), and
zones written ``GMT-8`` or ``UTC+5:30``. :func:`parse_localized_rfc822`
rewrites such a date in English and hands it to feedparser's own RFC 822
reader; it is registered as a feedparser date handler (:func:`register`, called
when :mod:`planetd.fastparse` is imported), and the fast path reads dates with
feedparser's ``_parse_date`` too, so both paths read every date the same way.
Any other form returns None at once and feedparser reads it as before.

Which dates are impossible (before 1990, from 2100 on) is
:func:`planetd.entryrules.to_datetime`'s rule.

Pure apart from :func:`register`, which adds the handler to feedparser's
process-wide list once; imports feedparser's date helpers and the standard
library only.
"""

from __future__ import annotations

import re
import time

import feedparser
from feedparser.datetimes.rfc822 import _parse_date_rfc822

__all__ = ["parse_localized_rfc822", "register"]

#: Month names and abbreviations (lower case, without accents and trailing dots) in
#: Portuguese, Spanish, French and German, by English abbreviation. English ones are
#: feedparser's and not listed.
_MONTHS: dict[str, str] = {
    name: english
    for english, names in {
        "jan": "janeiro enero ene janvier janv januar jän janner jänner",
        "feb": "fevereiro fev febrero février fevrier févr fevr februar",
        "mar": "março marco marzo mars märz marz mär",
        "apr": "abril abr avril avr",
        "may": "maio mai mayo",
        "jun": "junho juin juni junio",
        "jul": "julho julio juillet juil juli",
        "aug": "agosto ago août aout",
        "sep": "setembro set septiembre septembre sept",
        "oct": "outubro out octubre octobre oktober okt",
        "nov": "novembro noviembre novembre",
        "dec": "dezembro dez diciembre dic décembre decembre déc dezember",
    }.items()
    for name in names.split()
}

#: Day names and abbreviations in the same languages (English ones are feedparser's).
_DAYS = frozenset(
    {
        "seg", "segunda", "ter", "terça", "terca", "qua", "quarta", "qui", "quinta", "sex",
        "sexta", "sáb", "sab", "sábado", "sabado", "dom", "domingo",  # Portuguese
        "lun", "lunes", "mar", "martes", "mié", "mie", "miércoles", "miercoles", "jue",
        "jueves", "vie", "viernes",  # Spanish (and sábado, domingo above)
        "lundi", "mardi", "mer", "mercredi", "jeu", "jeudi", "ven", "vendredi", "sam",
        "samedi", "dim", "dimanche",  # French
        "mo", "montag", "di", "dienstag", "mi", "mittwoch", "do", "donnerstag", "fr",
        "freitag", "sa", "samstag", "so", "sonntag",  # German
    }
)  # fmt: skip

#: ``[day name,] day month year time [zone]``, the shape of an RFC 822 date.
_SHAPE = re.compile(
    r"\s*(?:(?P<weekday>[^\W\d_]+)\.?,?\s+)?(?P<day>\d{1,2})\.?\s+(?P<month>[^\W\d_]+)\.?"
    r"\s+(?P<year>\d{2,4})\s+(?P<time>\d{1,2}:\d{2}(?::\d{2})?)(?:\s+(?P<zone>\S+))?\s*\Z"
)
#: ``GMT-8``, ``UTC+5:30``, ``GMT+05``: an offset in hours with a name in front.
_NAMED_OFFSET = re.compile(
    r"(?i)(?:GMT|UTC|UT)(?P<sign>[+-])(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?\Z"
)


def _english_zone(zone: str | None) -> tuple[str, bool]:
    """The zone as feedparser reads it, and whether it had to be rewritten."""
    if zone is None:
        return "+0000", False
    offset = _NAMED_OFFSET.match(zone)
    if offset is None:
        return zone, False
    hours, minutes = int(offset["hours"]), int(offset["minutes"] or 0)
    return f"{offset['sign']}{hours:02d}{minutes:02d}", True


def parse_localized_rfc822(value: str) -> time.struct_time | None:
    """A UTC time tuple for an RFC 822 date feedparser cannot read, else None.

    Reads Portuguese, Spanish, French and German day and month names and
    ``GMT-8``-style zones; returns None for anything feedparser reads itself
    (English names with a zone it knows), so feedparser's result stands.
    """
    shape = _SHAPE.match(value)
    if shape is None:
        return None
    weekday = (shape["weekday"] or "").lower()
    if weekday and weekday not in _DAYS and weekday[:3] not in _ENGLISH_DAYS:
        return None
    month = shape["month"].lower()
    english_month = _MONTHS.get(month)
    zone, rewritten = _english_zone(shape["zone"])
    if english_month is None:
        if month[:3] not in _ENGLISH_MONTHS:
            return None
        english_month = month[:3]
    foreign = weekday in _DAYS and weekday[:3] not in _ENGLISH_DAYS
    if not (rewritten or foreign or english_month != month[:3]):
        return None
    english = f"{shape['day']} {english_month} {shape['year']} {shape['time']} {zone}"
    parsed: time.struct_time | None = _parse_date_rfc822(english)
    return parsed


_ENGLISH_DAYS = frozenset({"mon", "tue", "wed", "thu", "fri", "sat", "sun"})
_ENGLISH_MONTHS = frozenset(
    {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
)


def register() -> None:
    """Add :func:`parse_localized_rfc822` to feedparser's date handlers (once per process)."""
    handlers = feedparser.datetimes._date_handlers
    if parse_localized_rfc822 not in handlers:
        feedparser.registerDateHandler(parse_localized_rfc822)
