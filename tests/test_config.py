"""Reading Planet 2.0 / Venus configs: what is honoured, what is ignored, what is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corpus import CORPUS, need
from planetd.boundaries import FutureDates, PlanetConfig
from planetd.config import (
    DEFAULT_DATABASE,
    DEFAULT_LISTEN,
    IGNORED_KEYS,
    PLANET_SECTION,
    ConfigError,
    _Reader,
    load_config,
    parse_config,
)
from planetd.configvalues import file_path, parse_duration, parse_size

PLANET_PYTHON = CORPUS / "planetpython" / "config.ini"
VENUS = CORPUS / "venus" / "config"
NOT_A_FEED = "not a feed URL (feed sections start with http:, https: or file:)"
TEMPLATE = "settings for a Planet/Venus template, which planetd does not read"


def config(text: str, path: str = "/srv/planet/planet.ini") -> PlanetConfig:
    """``text`` read as the config at ``path``."""
    return parse_config(text, path)


def load_refused(path: str) -> ConfigError:
    """The error loading the config file at ``path`` is refused with."""
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value


def refused(text: str, path: str = "/srv/planet/planet.ini") -> ConfigError:
    """The error a config with ``text`` is refused with."""
    with pytest.raises(ConfigError) as info:
        parse_config(text, path)
    return info.value


# -- durations and sizes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("30s", 30.0),
        ("15m", 900.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("1.5h", 5400.0),
        (" 2H ", 7200.0),
        ("0.5s", 0.5),
    ],
)
def test_durations_accept_seconds_and_units(text: str, seconds: float) -> None:
    """Durations are plain seconds or a number with s, m, h or d, in any case."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "-5m", "5w", "1h30m", "m"])
def test_durations_refuse_anything_else(text: str) -> None:
    """A duration that is not a number with one known unit is an error that shows an example."""
    with pytest.raises(ValueError, match="expected a duration such as 30s"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1048576", 1048576),
        ("100b", 100),
        ("512k", 512 * 1024),
        ("2KB", 2 * 1024),
        ("10MiB", 10 * 1024 * 1024),
        ("10m", 10 * 1024 * 1024),
        ("1g", 1024**3),
        (" 3 Gi ", 3 * 1024**3),
    ],
)
def test_sizes_accept_bytes_and_binary_units(text: str, size: int) -> None:
    """Sizes are bytes or a whole number with k, m or g (KiB, MiB, GiB; 'b' optional)."""
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "ten", "1.5m", "-1k", "5t"])
def test_sizes_refuse_anything_else(text: str) -> None:
    """A size that is not a whole number with a known unit is an error that shows an example."""
    with pytest.raises(ValueError, match="expected a size such as 512k"):
        parse_size(text)


# -- the [Planet] section ----------------------------------------------------------------


FULL = """\
[Planet]
name = Planet Example
link = https://planet.example.org/
owner_name = Jane Doe
owner_email = jane@example.org
items_per_page = 25
days_per_page = 10
date_format = %B %d, %Y %I:%M %p %Z
new_date_format = %d %b %Y
new_feed_items = 3
activity_threshold = 180
poll_interval = 30m
min_interval = 1s
max_interval = 2d
feed_timeout = 45s
max_feed_bytes = 2MiB
concurrency = 7
per_host_concurrency = 3
filter = (?i)python
exclude = sponsored
future_dates = ignore_date
listen = tcp:9000 unix:/run/planet.sock
database = data/planet.sqlite
template_dir = ~/templates
"""


def test_every_planet_key_is_honoured() -> None:
    """Each [Planet] key planetd knows reaches the config with its typed value."""
    planet = config(FULL)
    assert planet.name == "Planet Example"
    assert planet.link == "https://planet.example.org/"
    assert planet.owner_name == "Jane Doe"
    assert planet.owner_email == "jane@example.org"
    assert planet.items_per_page == 25
    assert planet.days_per_page == 10
    assert planet.date_format == "%B %d, %Y %I:%M %p %Z"
    assert planet.new_date_format == "%d %b %Y"
    assert planet.new_feed_items == 3
    assert planet.activity_threshold == 180
    assert planet.poll_interval == 1800.0
    assert planet.min_interval == 1.0
    assert planet.max_interval == 2 * 86400.0
    assert planet.feed_timeout == 45.0
    assert planet.max_feed_bytes == 2 * 1024 * 1024
    assert planet.concurrency == 7
    assert planet.per_host_concurrency == 3
    assert planet.filter == "(?i)python"
    assert planet.exclude == "sponsored"
    assert planet.future_dates is FutureDates.IGNORE_DATE
    assert planet.listen == ("tcp:9000", "unix:/run/planet.sock")
    assert planet.database == "/srv/planet/data/planet.sqlite"
    assert planet.template_dir == os.path.join("/srv/planet", os.path.expanduser("~/templates"))
    assert planet.ignored == ()
    assert planet.unknown == ()
    assert planet.feeds == ()


def test_a_minimal_config_gets_the_documented_defaults() -> None:
    """Only [Planet]: polling defaults from INTERFACE.md, listen on localhost:8080,
    the database beside the config file."""
    planet = config("[Planet]\n", "/srv/planet/planet.ini")
    assert planet.path == "/srv/planet/planet.ini"
    assert planet.poll_interval == 3600.0
    assert planet.min_interval == 300.0
    assert planet.max_interval == 86400.0
    assert planet.feed_timeout == 30.0
    assert planet.max_feed_bytes == 10 * 1024 * 1024
    assert planet.concurrency == 20
    assert planet.per_host_concurrency == 2
    assert planet.new_feed_items is None
    assert planet.future_dates is FutureDates.CLAMP
    assert planet.listen == (DEFAULT_LISTEN,)
    assert planet.database == os.path.join("/srv/planet", DEFAULT_DATABASE)
    assert planet.template_dir is None


def test_relative_config_path_anchors_database_at_its_folder(tmp_path: Path) -> None:
    """A config named by a relative path still puts a relative database beside itself."""
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        planet = config("[Planet]\ndatabase = planet.db\n", "conf/planet.ini")
    finally:
        os.chdir(here)
    assert planet.database == str(tmp_path / "conf" / "planet.db")


def test_an_absolute_database_path_is_kept() -> None:
    """``database = /var/lib/planet.db`` is used as written."""
    assert config("[Planet]\ndatabase = /var/lib/planet.db\n").database == "/var/lib/planet.db"


@pytest.mark.parametrize("text", ["", "all", "Unlimited", "  "])
def test_new_feed_items_can_say_unlimited(text: str) -> None:
    """``new_feed_items`` empty, ``all`` or ``unlimited`` means no anti-flood cap."""
    assert config(f"[Planet]\nnew_feed_items = {text}\n").new_feed_items is None


def test_zero_new_feed_items_is_a_cap_of_zero() -> None:
    """``new_feed_items = 0`` is a cap (show none of a new feed's backlog), not 'unlimited'."""
    assert config("[Planet]\nnew_feed_items = 0\n").new_feed_items == 0


def test_keys_are_read_whatever_their_case() -> None:
    """INI keys are case-insensitive, as in Planet: ``Items_Per_Page`` is items_per_page."""
    assert config("[Planet]\nItems_Per_Page = 7\n").items_per_page == 7


# -- ignored and unknown keys ---------------------------------------------------------


def test_ignored_keys_are_reported_with_their_reason() -> None:
    """Every accepted-but-ignored [Planet] key comes back with the reason ``check`` prints."""
    lines = "".join(f"{key} = x\n" for key in IGNORED_KEYS)
    planet = config("[Planet]\n" + lines)
    assert planet.ignored == tuple(IGNORED_KEYS.items())
    assert all(reason for _, reason in planet.ignored)
    assert planet.unknown == ()


def test_unknown_keys_are_reported_not_fatal() -> None:
    """A [Planet] key planetd does not know is listed as unknown and the config still loads."""
    planet = config("[Planet]\nname = P\nfavourite_colour = blue\n")
    assert planet.unknown == ("favourite_colour",)
    assert planet.name == "P"


def test_planet_python_config_is_read_unmodified() -> None:
    """The real Planet Python config: 567 feeds, every [Planet] key honoured or ignored
    with a reason, none unknown."""
    planet = load_config(str(need(PLANET_PYTHON)))
    assert len(planet.feeds) == 567
    assert planet.unknown == ()
    assert dict(planet.ignored) == {
        "log_level": IGNORED_KEYS["log_level"],
        "encoding": IGNORED_KEYS["encoding"],
        "output_dir": IGNORED_KEYS["output_dir"],
        "template_files": IGNORED_KEYS["template_files"],
        "cache_directory": IGNORED_KEYS["cache_directory"],
    }
    assert planet.name == "Planet Python"
    assert planet.link == "http://planetpython.org/"
    assert planet.owner_name == "Python Software Foundation"
    assert planet.owner_email == "planet@python.org"
    assert planet.items_per_page == 25
    assert planet.days_per_page == 10
    assert planet.new_feed_items == 1
    assert planet.activity_threshold == 180
    assert planet.date_format == "%B %d, %Y %I:%M %p %Z"
    assert planet.new_date_format == "%B %d, %Y"
    assert all(f.url.startswith(("http:", "https:")) for f in planet.feeds)
    assert all(f.new_feed_items == 1 for f in planet.feeds)
    names = {f.url: f.name for f in planet.feeds}
    assert names["https://emptysqua.re/blog/category/python/index.xml"] == "A. Jesse Jiryu Davis"


def test_venus_template_sections_and_non_url_sections_are_reported() -> None:
    """Venus's basic.ini: template settings and sections that are not feed URLs are
    ignored with a reason, its ignored [Planet] keys too, and its feed_timeout is honoured."""
    planet = load_config(str(need(VENUS / "basic.ini")))
    assert planet.feeds == ()
    assert planet.unknown == ()
    assert planet.feed_timeout == 30.0
    assert planet.items_per_page == 50
    assert dict(planet.ignored) == {
        "template_files": IGNORED_KEYS["template_files"],
        "filters": IGNORED_KEYS["filters"],
        "pubsubhubbub_hub": IGNORED_KEYS["pubsubhubbub_hub"],
        "[index.html.tmpl]": TEMPLATE,
        "[feed1]": NOT_A_FEED,
        "[feed2]": NOT_A_FEED,
    }


def test_venus_themed_config_is_reported() -> None:
    """Venus's themed.ini: theme and template search path are ignored keys; the XSLT
    template section is a template section."""
    planet = load_config(str(need(VENUS / "themed.ini")))
    ignored = dict(planet.ignored)
    assert ignored["output_theme"] == IGNORED_KEYS["output_theme"]
    assert ignored["template_directories"] == IGNORED_KEYS["template_directories"]
    assert ignored["[index.html.xslt]"] == TEMPLATE
    assert planet.unknown == ()


@pytest.mark.parametrize(
    ("name", "section", "kind"),
    [
        ("rlist.ini", "[tests/data/config/opml.xml]", "opml"),
        ("rlist-csv.ini", "[tests/data/config/basic.csv]", "csv"),
        ("rlist-config.ini", "[tests/data/config/subconfig.ini]", "config"),
        ("foaf.ini", "[tests/data/config/eliast.foaf]", "foaf"),
        ("foaf-deep.ini", "[tests/data/config/eliast.foaf]", "foaf"),
        ("foaf-multiple.ini", "[tests/data/config/another.foaf]", "foaf"),
    ],
)
def test_venus_reading_lists_point_to_opml_import(name: str, section: str, kind: str) -> None:
    """A Venus reading list section (content_type = opml/csv/config/foaf) is not polled; it
    is reported as ignored, naming its type and 'planetd opml import'."""
    planet = load_config(str(need(VENUS / name)))
    assert planet.feeds == ()
    assert planet.unknown == ()
    reason = dict(planet.ignored)[section]
    assert reason.startswith(f"a Venus reading list ({kind})")
    assert "planetd opml import" in reason


def test_venus_subconfig_without_planet_section_is_refused() -> None:
    """A Venus sub-config (feeds only, no [Planet]) is not a planet config on its own."""
    error = load_refused(str(need(VENUS / "subconfig.ini")))
    assert str(error) == f"{VENUS / 'subconfig.ini'}: no [Planet] section"


# -- feed sections and per-feed overrides ----------------------------------------------


def test_feed_sections_inherit_planet_wide_values() -> None:
    """A feed section with only a name gets the planet's interval, timeout, size cap,
    filters, future_dates and new_feed_items."""
    planet = config(
        "[Planet]\npoll_interval = 2h\nfeed_timeout = 10s\nmax_feed_bytes = 1m\n"
        "filter = py\nexclude = ads\nfuture_dates = keep\nnew_feed_items = 4\n\n"
        "[https://blog.example.org/feed]\nname = Jane\n"
    )
    (feed,) = planet.feeds
    assert feed.url == "https://blog.example.org/feed"
    assert feed.name == "Jane"
    assert feed.poll_interval == 7200.0
    assert feed.feed_timeout == 10.0
    assert feed.max_feed_bytes == 1024 * 1024
    assert feed.filter == "py"
    assert feed.exclude == "ads"
    assert feed.future_dates is FutureDates.KEEP
    assert feed.new_feed_items == 4
    assert feed.cache_keep_entries is None
    assert dict(feed.extra) == {}


def test_per_feed_keys_override_planet_wide_ones() -> None:
    """Each per-feed key wins over the planet-wide one for its feed only; keys planetd
    does not read (Planet's face, ...) are kept for templates."""
    planet = config(
        "[Planet]\npoll_interval = 2h\nfilter = py\nnew_feed_items = 4\n\n"
        "[http://a.example/rss]\nname = A\npoll_interval = 15m\nfeed_timeout = 5s\n"
        "max_feed_bytes = 64k\nfilter = twisted\nexclude = spam\nfuture_dates = ignore_entry\n"
        "new_feed_items = all\ncache_keep_entries = 100\nface = jane.png\n\n"
        "[http://b.example/rss]\nname = B\n"
    )
    a, b = planet.feeds
    assert a.poll_interval == 900.0
    assert a.feed_timeout == 5.0
    assert a.max_feed_bytes == 64 * 1024
    assert a.filter == "twisted"
    assert a.exclude == "spam"
    assert a.future_dates is FutureDates.IGNORE_ENTRY
    assert a.new_feed_items is None
    assert a.cache_keep_entries == 100
    assert dict(a.extra) == {"face": "jane.png"}
    assert b.poll_interval == 7200.0
    assert b.filter == "py"
    assert b.new_feed_items == 4


def test_a_feed_without_a_name_is_named_by_its_url() -> None:
    """A feed section with no (or a blank) name shows its URL as its name."""
    planet = config("[Planet]\n[https://x.example/feed]\n[file:local.xml]\nname =   \n")
    assert [f.name for f in planet.feeds] == ["https://x.example/feed", "file:local.xml"]


def test_quoted_names_lose_one_pair_of_quotes() -> None:
    """Planet Python writes ``name = "Menno's Musings"``: the sidebar shows the words, not the
    quotes (which would also sort the feed first). One pair only, and only a matching pair."""
    planet = config(
        "[Planet]\nname = 'Planet Q'\n"
        '[https://a.example/]\nname = "Menno\'s Musings"\n'
        '[https://b.example/]\nname = ""Twice""\n'
        "[https://c.example/]\nname = \"Unmatched'\n"
        '[https://d.example/]\nname = ""\n'
        '[https://e.example/]\nname = Jane "JD" Doe\n'
    )
    assert planet.name == "Planet Q"
    assert [f.name for f in planet.feeds] == [
        "Menno's Musings",
        '"Twice"',
        "\"Unmatched'",
        "https://d.example/",
        'Jane "JD" Doe',
    ]


def test_feed_sections_keep_config_order() -> None:
    """Feeds come out in the order the config lists them (http, https and file URLs)."""
    planet = config("[Planet]\n[https://b.example/]\n[file:/a.xml]\n[http://a.example/]\n")
    assert [f.url for f in planet.feeds] == [
        "https://b.example/",
        "file:/a.xml",
        "http://a.example/",
    ]


# -- bad configs: one line naming file, line and key -------------------------------------


def assert_one_line(error: ConfigError, where: str, key: str | None) -> None:
    """``error`` says, on one line, ``where`` (file:line) and the ``key`` at fault."""
    text = str(error)
    assert "\n" not in text
    assert text.startswith(f"{where}: ")
    if key is not None:
        assert f"key '{key}'" in text
        assert error.key == key


@pytest.mark.parametrize(
    ("line", "key", "says"),
    [
        ("items_per_page = many", "items_per_page", "expected a whole number"),
        ("days_per_page = -3", "days_per_page", "expected a whole number"),
        ("activity_threshold = 1.5", "activity_threshold", "expected a whole number"),
        ("new_feed_items = some", "new_feed_items", "expected a whole number"),
        ("concurrency = lots", "concurrency", "expected a whole number"),
        ("poll_interval = soon", "poll_interval", "expected a duration"),
        ("feed_timeout = 5 weeks", "feed_timeout", "expected a duration"),
        ("max_feed_bytes = big", "max_feed_bytes", "expected a size"),
        ("filter = (unclosed", "filter", "not a valid regular expression"),
        ("exclude = [z-a]", "exclude", "not a valid regular expression"),
        ("future_dates = tomorrow", "future_dates", "expected one of keep, ignore_date"),
        ("date_format = Month Day", "date_format", "expected a strftime format"),
        ("new_date_format = yyyy", "new_date_format", "expected a strftime format"),
        ("concurrency = 0", "concurrency", "must be 1 or more"),
        ("per_host_concurrency = 0", "per_host_concurrency", "must be 1 or more"),
    ],
)
def test_bad_planet_values_name_file_line_and_key(line: str, key: str, says: str) -> None:
    """A bad [Planet] value is refused in one line naming the file, its line and its key."""
    error = refused(f"# a planet\n[Planet]\nname = P\n{line}\n", "/etc/planet.ini")
    assert_one_line(error, "/etc/planet.ini:4", key)
    assert error.line == 4
    assert says in error.message


def test_bad_per_feed_value_names_its_line_in_the_feed_section() -> None:
    """A bad value in a feed section points at that section's line, not another feed's."""
    error = refused(
        "[Planet]\n\n[http://a.example/]\npoll_interval = 1h\n\n"
        "[http://b.example/]\nname = B\npoll_interval = never\n"
    )
    assert_one_line(error, "/srv/planet/planet.ini:8", "poll_interval")


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("feed_timeout", "x", "expected a duration"),
        ("max_feed_bytes", "x", "expected a size"),
        ("filter", "(", "not a valid regular expression"),
        ("exclude", "*", "not a valid regular expression"),
        ("future_dates", "later", "expected one of"),
        ("new_feed_items", "x", "expected a whole number"),
        ("cache_keep_entries", "-1", "expected a whole number"),
    ],
)
def test_bad_per_feed_values_are_refused(key: str, value: str, says: str) -> None:
    """Every per-feed key is checked like its planet-wide form, with its line."""
    error = refused(f"[Planet]\n[http://a.example/]\n{key} = {value}\n")
    assert_one_line(error, "/srv/planet/planet.ini:3", key)
    assert says in error.message


def test_min_interval_above_max_interval_is_refused() -> None:
    """``min_interval`` greater than ``max_interval`` is refused at the max_interval line."""
    error = refused("[Planet]\nmin_interval = 2h\nmax_interval = 1h\n")
    assert_one_line(error, "/srv/planet/planet.ini:3", "max_interval")
    assert "min_interval (7200s) <= max_interval (3600s)" in error.message


def test_min_interval_below_one_second_is_refused() -> None:
    """A floor under one second would let a feed be hammered: refused at its own line."""
    error = refused("[Planet]\nmin_interval = 0.5s\nmax_interval = 1h\n")
    assert_one_line(error, "/srv/planet/planet.ini:2", "min_interval")
    assert "needs 1s <= min_interval" in error.message


def test_min_interval_alone_above_default_max_names_a_line() -> None:
    """``min_interval = 2d`` with the default max_interval is refused with the line of
    the key that is actually written (min_interval), so the one-line error names a line."""
    error = refused("[Planet]\nname = P\nmin_interval = 2d\n")
    assert_one_line(error, "/srv/planet/planet.ini:3", "min_interval")


def test_line_of_finds_section_headers_and_keys() -> None:
    """The line finder used by every error: a section header, a key in the right section
    (not a same-named key of another section), and None for what is not written."""
    reader = _Reader("p.ini", "[http://a/]\nfilter = a\n[Planet]\n  Filter: b\n")
    assert reader.line_of(PLANET_SECTION) == 3
    assert reader.line_of(PLANET_SECTION, "filter") == 4
    assert reader.line_of("http://a/", "filter") == 2
    assert reader.line_of(PLANET_SECTION, "exclude") is None
    assert reader.line_of("http://b/") is None


def test_no_planet_section_is_refused() -> None:
    """A config of feeds only, with no [Planet], is refused naming the file."""
    error = refused("[http://a.example/]\nname = A\n", "/x/p.ini")
    assert str(error) == "/x/p.ini: no [Planet] section"
    assert error.line is None


def test_text_before_the_first_section_is_refused_with_its_line() -> None:
    """Keys before any [section] are refused with the file and line of the first one."""
    error = refused("# comment\nname = P\n[Planet]\n", "/x/p.ini")
    assert_one_line(error, "/x/p.ini:2", None)
    assert "text before the first [section]" in str(error)


def test_a_line_that_is_not_key_value_is_refused_with_its_line() -> None:
    """A stray line inside a section (no '=' or ':') is refused with its line number."""
    error = refused("[Planet]\nname = P\nthis is not a setting\n", "/x/p.ini")
    assert_one_line(error, "/x/p.ini:3", None)
    assert "neither [section] nor key = value" in str(error)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    """A config file that does not exist is one line naming it."""
    path = str(tmp_path / "nope.ini")
    error = load_refused(path)
    assert str(error) == f"{path}: no such file"


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    """A config that is not UTF-8 (Latin-1 here) is refused, not read as mojibake."""
    path = tmp_path / "latin1.ini"
    path.write_bytes("[Planet]\nname = Caf\u00e9\n".encode("latin-1"))
    error = load_refused(str(path))
    assert_one_line(error, str(path), None)
    assert "not UTF-8 text" in str(error)


def test_a_folder_instead_of_a_file_is_refused(tmp_path: Path) -> None:
    """A config path that names a folder is one line with the system's reason."""
    error = load_refused(str(tmp_path))
    assert_one_line(error, str(tmp_path), None)
    assert "directory" in str(error).lower()


def test_load_config_reads_a_utf8_file(tmp_path: Path) -> None:
    """A UTF-8 config on disk loads, non-ASCII names intact, relative paths beside it."""
    path = tmp_path / "planet.ini"
    path.write_text("[Planet]\nname = Planète\n[file:feeds/a.xml]\nname = Zoë\n", "utf-8")
    planet = load_config(str(path))
    assert planet.name == "Planète"
    assert planet.feeds[0].name == "Zoë"
    assert planet.database == str(tmp_path / DEFAULT_DATABASE)


# -- file: feed URLs ------------------------------------------------------------------


def test_relative_file_url_is_relative_to_the_config_folder() -> None:
    """``file:feeds/local.xml`` is read beside the config, wherever planetd was started."""
    assert file_path("file:feeds/local.xml", "/srv/planet/planet.ini") == (
        "/srv/planet/feeds/local.xml"
    )


def test_absolute_file_urls() -> None:
    """``file:/p``, ``file:///p`` and ``file://localhost/p`` all name the local path /p."""
    assert file_path("file:/var/feeds/a.xml", "/srv/p.ini") == "/var/feeds/a.xml"
    assert file_path("file:///var/feeds/a.xml", "/srv/p.ini") == "/var/feeds/a.xml"
    assert file_path("file://localhost/var/feeds/a.xml", "/srv/p.ini") == "/var/feeds/a.xml"


def test_file_url_percent_escapes_are_decoded() -> None:
    """``%20`` in a file URL is a space in the path."""
    assert file_path("file:///var/my%20feeds/a.xml", "/srv/p.ini") == "/var/my feeds/a.xml"


def test_file_url_naming_another_host_is_refused() -> None:
    """``file://server/path`` names another machine: planetd cannot read it, so it says so."""
    with pytest.raises(ValueError, match="another host"):
        file_path("file://fileserver/share/a.xml", "/srv/p.ini")


@pytest.mark.parametrize(
    ("text", "expected"), [("yes", True), ("On", True), ("1", True), ("no", False), ("off", False)]
)
def test_access_log_is_a_yes_or_no(text: str, expected: bool) -> None:
    """`access_log` takes yes/no (and their usual spellings); anything else is refused."""
    config = parse_config(f"[Planet]\naccess_log = {text}\n", "/srv/planet.ini")
    assert config.access_log is expected
    assert "access_log" not in config.unknown
    with pytest.raises(ConfigError, match="access_log"):
        parse_config("[Planet]\naccess_log = sometimes\n", "/srv/planet.ini")
