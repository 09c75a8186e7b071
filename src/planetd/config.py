"""Reading Planet 2.0 / Venus INI files into a :class:`PlanetConfig`.

Owns: which keys planetd honours, which it accepts but ignores (and why), which
check each value gets (the checks live in :mod:`planetd.configvalues`), and
the one-line error that names file, line and key.
Pure: it takes the file's text and path and touches nothing else, so the
daemon, ``planetd check`` and the tests all read a config the same way.
Must not import Twisted, feedparser or anything that does I/O beyond the
single file read in :func:`load_config`.
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Callable, Mapping
from typing import TypeVar

import attrs

from planetd.boundaries import (
    FeedConfig,
    FeedURL,
    GroupSection,
    PlanetConfig,
    ReadingList,
)
from planetd.configvalues import (
    boolean,
    date_format,
    endpoint,
    future_dates,
    host,
    mount,
    parse_duration,
    parse_size,
    pixels,
    positive_duration,
    public_url,
    regex,
    secret,
    unlimited_or_count,
    unquoted,
    whole_number,
)
from planetd.faces import check_face, faces_dir
from planetd.groups import SECTION_KEYS, SECTION_PREFIX, group_names, group_section

T = TypeVar("T")

PLANET_SECTION = "Planet"
FEED_SCHEMES = ("http:", "https:", "file:")
DEFAULT_LISTEN = "tcp:8080:interface=127.0.0.1"
DEFAULT_DATABASE = "planetd.sqlite"

#: ``[Planet]`` keys read from Planet 2.0 / Venus configs that have no effect
#: here, with the reason ``planetd check`` prints.
IGNORED_KEYS: Mapping[str, str] = {
    "cache_directory": "entries live in the SQLite database (--database / database)",
    "output_dir": "the daemon serves over HTTP; 'planetd render --output DIR' writes files",
    "template_files": "Planet/Venus templates are not read; set template_dir to Jinja2 templates",
    "template_directories": "Venus template search path; set template_dir to Jinja2 templates",
    "output_theme": "Venus themes are not read; set template_dir to Jinja2 templates",
    "encoding": "every output is UTF-8",
    "log_level": "planetd logs through twisted.logger; twistd's --logfile chooses where",
    "log_format": "planetd logs through twisted.logger; twistd's --logfile chooses where",
    "spider_threads": "planetd polls concurrently; see concurrency and per_host_concurrency",
    "filters": "Venus filter plugins are not run; use filter / exclude regular expressions",
    "pubsubhubbub_hub": "WebSub publishing is not supported",
    "bill_of_materials": "Venus theme files are not read",
    "http_cache_directory": "HTTP validators live in the SQLite database",
    "ignore_in_feed": "feed elements are always read as feedparser provides them",
    "name_type": "Venus-only template hint",
    "feed_type": "the feed type is detected from the document",
    "generator": "outputs name planetd as their generator",
    "generator_uri": "outputs name planetd as their generator",
}

#: ``[Planet]`` keys planetd reads.
PLANET_KEYS = frozenset(
    {
        "name", "link", "owner_name", "owner_email", "items_per_page", "days_per_page",
        "date_format", "new_date_format", "new_feed_items", "activity_threshold",
        "cache_keep_entries", "poll_interval", "min_interval", "max_interval", "feed_timeout",
        "max_feed_bytes", "concurrency", "per_host_concurrency", "filter", "exclude",
        "future_dates", "listen", "database", "template_dir", "access_log",
        "faces_dir", "metrics_listen", "metrics_public",
        "mount", "host", "root",
        "submissions", "allow_private_feeds", "moderation_token",
        "public_url", "websub", "websub_lease",
        "max_event_streams", "event_heartbeat",
        "lease_timeout",
        "strip_trackers",
    }
)  # fmt: skip

#: Per-feed keys planetd reads; every other key of a feed section is kept in
#: ``FeedConfig.extra`` for templates (Planet's face, nick, ...).
FEED_KEYS = frozenset(
    {
        "name",
        "poll_interval",
        "feed_timeout",
        "max_feed_bytes",
        "filter",
        "exclude",
        "future_dates",
        "new_feed_items",
        "cache_keep_entries",
    }
)
# Planet's face keys (face, facewidth, faceheight) are read into typed fields
# and also stay in ``extra`` as written.

#: ``content_type`` values of a feed section that make it a reading list planetd reads.
READING_LIST_TYPES = frozenset({"opml"})

#: ``content_type`` values of a feed section planetd does not read, with the reason.
UNREAD_LIST_TYPES: Mapping[str, str] = {
    "foaf": "FOAF reading lists are not read; publish the list as OPML (content_type = opml)",
    "csv": "CSV reading lists are not read; publish the list as OPML (content_type = opml)",
    "config": "Venus config reading lists are not read; add the feeds as sections",
}

_TEMPLATE_SECTION = re.compile(r"\.(tmpl|xslt|dj|genshi|html|xml)$")


class ConfigError(ValueError):
    """A config that cannot be used, said in one line: file, line, key, what is wrong."""

    def __init__(self, path: str, line: int | None, key: str | None, message: str) -> None:
        self.path = path
        self.line = line
        self.key = key
        self.message = message
        where = path if line is None else f"{path}:{line}"
        what = f"key '{key}': {message}" if key else message
        super().__init__(f"{where}: {what}")


#: The prefixes of a ``database`` value that names a PostgreSQL database, not an SQLite file.
DATABASE_URL_PREFIXES = ("postgresql://", "postgres://")


def is_database_url(database: str) -> bool:
    """True if ``database`` names a PostgreSQL database (``postgresql://...``)."""
    return database.startswith(DATABASE_URL_PREFIXES)


class _Reader:
    """Turns raw section values into typed ones, raising :class:`ConfigError` with the line."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def line_of(self, section: str, key: str | None = None) -> int | None:
        """The 1-based line of ``key`` in ``section`` (or of the section header)."""
        in_section = False
        header = f"[{section}]"
        key_pattern = re.compile(rf"^\s*{re.escape(key)}\s*[=:]", re.IGNORECASE) if key else None
        for number, line in enumerate(self.lines, start=1):
            stripped = line.strip()
            if stripped.startswith("["):
                in_section = stripped == header
                if in_section and key_pattern is None:
                    return number
                continue
            if in_section and key_pattern is not None and key_pattern.match(line):
                return number
        return None

    def value(
        self, section: Mapping[str, str], name: str, key: str, convert: Callable[[str], T]
    ) -> T:
        try:
            return convert(section[key])
        except ValueError as e:
            raise ConfigError(self.path, self.line_of(name, key), key, str(e)) from None


def load_config(path: str) -> PlanetConfig:
    """Read and check the config file at ``path``; :class:`ConfigError` if unusable."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ConfigError(path, None, None, "no such file") from None
    except UnicodeDecodeError as e:
        raise ConfigError(path, None, None, f"not UTF-8 text ({e.reason})") from None
    except OSError as e:
        raise ConfigError(path, None, None, e.strerror or str(e)) from None
    return parse_config(text, path)


def parse_config(text: str, path: str) -> PlanetConfig:
    """Check a config's ``text``; ``path`` names it in errors and anchors relative paths."""
    reader = _Reader(path, text)
    parser = configparser.ConfigParser(interpolation=None, strict=False, default_section="\0")
    try:
        parser.read_string(text, source=path)
    except configparser.MissingSectionHeaderError as e:
        raise ConfigError(path, e.lineno, None, "text before the first [section]") from None
    except configparser.ParsingError as e:
        line = e.errors[0][0] if e.errors else None
        raise ConfigError(
            path, line, None, "a line that is neither [section] nor key = value"
        ) from None
    except configparser.Error as e:
        raise ConfigError(path, None, None, e.message) from None
    if not parser.has_section(PLANET_SECTION):
        raise ConfigError(path, None, None, "no [Planet] section")

    planet = parser[PLANET_SECTION]
    base_dir = os.path.dirname(os.path.abspath(path))

    def relative_path(text: str) -> str:
        return os.path.join(base_dir, os.path.expanduser(text.strip()))

    def database_path(text: str) -> str:
        return text.strip() if is_database_url(text.strip()) else relative_path(text)

    def get(key: str, convert: Callable[[str], T], default: T) -> T:
        if key not in planet:
            return default
        return reader.value(planet, PLANET_SECTION, key, convert)

    d = PlanetConfig(path=path)
    config = PlanetConfig(
        path=path,
        name=get("name", unquoted, d.name),
        link=get("link", str.strip, d.link),
        owner_name=get("owner_name", str.strip, d.owner_name),
        owner_email=get("owner_email", str.strip, d.owner_email),
        items_per_page=get("items_per_page", whole_number, d.items_per_page),
        days_per_page=get("days_per_page", whole_number, d.days_per_page),
        date_format=get("date_format", date_format, d.date_format),
        new_date_format=get("new_date_format", date_format, d.new_date_format),
        new_feed_items=get("new_feed_items", unlimited_or_count, d.new_feed_items),
        activity_threshold=get("activity_threshold", whole_number, d.activity_threshold),
        cache_keep_entries=get("cache_keep_entries", whole_number, d.cache_keep_entries),
        poll_interval=get("poll_interval", parse_duration, d.poll_interval),
        min_interval=get("min_interval", parse_duration, d.min_interval),
        max_interval=get("max_interval", parse_duration, d.max_interval),
        feed_timeout=get("feed_timeout", parse_duration, d.feed_timeout),
        max_feed_bytes=get("max_feed_bytes", parse_size, d.max_feed_bytes),
        concurrency=get("concurrency", whole_number, d.concurrency),
        per_host_concurrency=get("per_host_concurrency", whole_number, d.per_host_concurrency),
        filter=get("filter", regex, d.filter),
        exclude=get("exclude", regex, d.exclude),
        future_dates=get("future_dates", future_dates, d.future_dates),
        listen=get("listen", lambda t: tuple(t.split()), (DEFAULT_LISTEN,)),
        access_log=get("access_log", boolean, d.access_log),
        database=get("database", database_path, os.path.join(base_dir, DEFAULT_DATABASE)),
        template_dir=get("template_dir", relative_path, d.template_dir),
        faces_dir=faces_dir(path, planet.get("faces_dir", "").strip()),
        metrics_listen=get("metrics_listen", endpoint, d.metrics_listen),
        metrics_public=get("metrics_public", boolean, d.metrics_public),
        mount=get("mount", mount, d.mount),
        host=get("host", host, d.host),
        root=get("root", boolean, d.root),
        submissions=get("submissions", boolean, d.submissions),
        allow_private_feeds=get("allow_private_feeds", boolean, d.allow_private_feeds),
        moderation_token=get("moderation_token", secret, d.moderation_token),
        public_url=get("public_url", public_url, d.public_url),
        websub=get("websub", boolean, d.websub),
        websub_lease=get("websub_lease", parse_duration, d.websub_lease),
        max_event_streams=get("max_event_streams", whole_number, d.max_event_streams),
        event_heartbeat=get("event_heartbeat", positive_duration, d.event_heartbeat),
        lease_timeout=get("lease_timeout", parse_duration, d.lease_timeout),
        strip_trackers=get("strip_trackers", boolean, d.strip_trackers),
    )

    for key in ("concurrency", "per_host_concurrency"):
        if getattr(config, key) == 0:
            raise ConfigError(path, reader.line_of(PLANET_SECTION, key), key, "must be 1 or more")
    if config.min_interval < 1 or config.max_interval < config.min_interval:
        key = (
            "max_interval"
            if "max_interval" in planet and config.min_interval >= 1
            else "min_interval"
        )
        raise ConfigError(
            path,
            reader.line_of(PLANET_SECTION, key),
            key,
            f"needs 1s <= min_interval ({config.min_interval:g}s)"
            f" <= max_interval ({config.max_interval:g}s)",
        )

    ignored: list[tuple[str, str]] = []
    unknown: list[str] = []
    for key in planet:
        if key in IGNORED_KEYS:
            ignored.append((key, IGNORED_KEYS[key]))
        elif key not in PLANET_KEYS:
            unknown.append(key)

    feeds: list[FeedConfig] = []
    lists: list[ReadingList] = []
    groups: dict[str, GroupSection] = {}
    for name in parser.sections():
        if name == PLANET_SECTION:
            continue
        section = parser[name]
        if name.lower().startswith(SECTION_PREFIX):
            found = _group_section(reader, name, section)
            if found.slug in groups:
                raise ConfigError(path, reader.line_of(name), None, "a second section of group")
            groups[found.slug] = found
            unknown.extend(f"[{name}] {key}" for key in section if key not in SECTION_KEYS)
            continue
        if not name.startswith(FEED_SCHEMES):
            ignored.append((f"[{name}]", _why_section_ignored(name, section)))
            continue
        kind = section.get("content_type", "").strip().lower()
        if kind in UNREAD_LIST_TYPES:
            ignored.append((f"[{name}]", UNREAD_LIST_TYPES[kind]))
        elif kind in READING_LIST_TYPES:
            lists.append(_reading_list(reader, name, section, config, kind))
        else:
            feeds.append(_feed_config(reader, name, section, config))

    return attrs.evolve(
        config,
        feeds=tuple(feeds),
        reading_lists=tuple(lists),
        ignored=tuple(ignored),
        unknown=tuple(unknown),
        groups=tuple(groups.values()),
    )


def _group_section(reader: _Reader, name: str, section: configparser.SectionProxy) -> GroupSection:
    """A ``[group:SLUG]`` section: a group's name, title and description."""
    try:
        return group_section(name, {k: unquoted(v) for k, v in section.items()})
    except ValueError as e:
        raise ConfigError(reader.path, reader.line_of(name), None, str(e)) from None


def _reading_list(
    reader: _Reader, name: str, section: configparser.SectionProxy, planet: PlanetConfig, kind: str
) -> ReadingList:
    """A reading-list section: its keys, checked as a feed's, are its feeds' defaults."""
    defaults = _feed_config(reader, name, section, planet)
    extra = {k: v for k, v in defaults.extra.items() if k != "content_type"}
    return ReadingList(
        url=defaults.url,
        name=defaults.name,
        content_type=kind,
        defaults=attrs.evolve(defaults, extra=extra),
    )


def _feed_config(
    reader: _Reader, name: str, section: configparser.SectionProxy, planet: PlanetConfig
) -> FeedConfig:
    """One feed section, with the planet's values where the section sets none."""

    def get(key: str, convert: Callable[[str], T], default: T) -> T:
        if key not in section:
            return default
        return reader.value(section, name, key, convert)

    return FeedConfig(
        url=FeedURL(name),
        name=unquoted(section.get("name", "")) or name,
        poll_interval=get("poll_interval", parse_duration, planet.poll_interval),
        feed_timeout=get("feed_timeout", parse_duration, planet.feed_timeout),
        max_feed_bytes=get("max_feed_bytes", parse_size, planet.max_feed_bytes),
        filter=get("filter", regex, planet.filter),
        exclude=get("exclude", regex, planet.exclude),
        future_dates=get("future_dates", future_dates, planet.future_dates),
        new_feed_items=get("new_feed_items", unlimited_or_count, planet.new_feed_items),
        cache_keep_entries=get("cache_keep_entries", whole_number, planet.cache_keep_entries),
        extra={k: v for k, v in section.items() if k not in FEED_KEYS},
        face=get("face", check_face, None),
        facewidth=get("facewidth", pixels, None),
        faceheight=get("faceheight", pixels, None),
        groups=get("group", group_names, ()),
    )


def _why_section_ignored(name: str, section: configparser.SectionProxy) -> str:
    if "content_type" in section:
        return (
            f"a Venus reading list ({section['content_type'].strip()}); "
            "import subscriptions with 'planetd opml import'"
        )
    if _TEMPLATE_SECTION.search(name):
        return "settings for a Planet/Venus template, which planetd does not read"
    return "not a feed URL (feed sections start with http:, https: or file:)"


def key_error(path: str, key: str, message: str) -> ConfigError:
    """A :class:`ConfigError` for ``[Planet]``'s ``key``, found after loading (a value that
    only the daemon can check, such as an endpoint string), with the key's line."""
    try:
        with open(path, encoding="utf-8") as f:
            line = _Reader(path, f.read()).line_of(PLANET_SECTION, key)
    except (OSError, UnicodeDecodeError):
        line = None
    return ConfigError(path, line, key, message)
