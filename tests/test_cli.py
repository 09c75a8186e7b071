"""The ``planetd`` command line, run as a real subprocess against a local feed server.

Every command is exercised the way an operator runs it: a console-script process
with a temporary config and database, its stdout, stderr and exit status checked.
Read-only commands (render, feeds, opml export) share one planet polled once per
module, to keep the file fast.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import feedparser
import html5lib
import pytest

from conftest import FeedServer, planetd_cli, subprocess_env
from corpus import CORPUS, need
from feeds import atom, rss
from planetd.config import load_config

PYTHON_ENTRIES = [
    ("tag:py,2026:a", "Type hints in anger", "2026-07-04T09:30:00Z", "<p>Typed.</p>"),
    ("tag:py,2026:b", "Packaging, again", "2026-07-03T18:00:00Z", "<p>Wheels.</p>"),
    ("tag:py,2026:c", "Title only", "2026-07-03T08:00:00Z", ""),
]
TWISTED_ITEMS = [
    ("tw-1", "Deferreds explained", "2026-07-04T00:00:00Z", "<p>callbacks</p>"),
    ("tw-2", "Klein routing", "2026-07-02T12:00:00Z", "<pre>@app.route('/')</pre>"),
]
STATIC_FILES = ("index.html", "atom.xml", "rss20.xml", "opml.xml", "feed.json")


def planetd(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``planetd`` console script of this interpreter and collect what it said."""
    return subprocess.run(
        [*planetd_cli(), *(str(a) for a in args)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=cwd,
        timeout=60,
        check=False,
    )


def serve_feeds(server: FeedServer) -> None:
    (server.folder / "python.atom").write_text(
        atom("Python Blog", "https://py.example.org/", PYTHON_ENTRIES)
    )
    (server.folder / "twisted.rss").write_text(
        rss("Twisted Blog", "https://tw.example.org/", TWISTED_ITEMS)
    )


def write_config(path: Path, feeds: dict[str, str], preamble: str = "") -> Path:
    sections = "".join(f"\n[{url}]\nname = {name}\n" for url, name in feeds.items())
    path.write_text(f"{preamble}[Planet]\nname = Planet Test\nmin_interval = 1s\n{sections}")
    return path


def stored_titles(database: Path) -> set[str]:
    with closing(sqlite3.connect(database)) as conn:
        return {title for (title,) in conn.execute("SELECT title FROM entries")}


def assert_one_line_error(result: subprocess.CompletedProcess[str], *names: str) -> None:
    """Failed with a single ``planetd: ...`` line naming ``names``, and no traceback."""
    assert result.returncode != 0, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("planetd: "), result.stderr
    for name in names:
        assert name in lines[0], (name, lines[0])
    assert "Traceback" not in result.stderr + result.stdout


@pytest.fixture(scope="module")
def planet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A planet of two good feeds and one missing one, polled once; yields its config."""
    folder = tmp_path_factory.mktemp("planet")
    served = folder / "served"
    served.mkdir()
    server = FeedServer(served)
    try:
        serve_feeds(server)
        config = write_config(
            folder / "planet.ini",
            {
                server.url("python.atom"): "Planet Python",
                server.url("twisted.rss"): "Planet Twisted",
                server.url("missing.xml"): "Missing Blog",
            },
        )
        result = planetd("poll", config)
        assert result.returncode == 0, result
        yield config
    finally:
        server.stop()


# -- check ---------------------------------------------------------------------------


def test_check_lists_planet_python_feeds_and_ignored_keys() -> None:
    """``check`` on Planet Python's real config: valid, 567 feeds, each ignored key with why."""
    result = planetd("check", need(CORPUS / "planetpython" / "config.ini"))
    assert result.returncode == 0, result
    out = result.stdout
    assert "planet: Planet Python" in out
    assert "feeds: 567" in out
    for key in ("cache_directory", "output_dir", "template_files", "encoding", "log_level"):
        assert f"ignored: {key}: " in out
    assert "ignored: output_dir: the daemon serves over HTTP" in out


def test_check_reports_unknown_keys(tmp_path: Path) -> None:
    """A key planetd does not know is reported by ``check`` but does not make the config invalid."""
    config = tmp_path / "planet.ini"
    config.write_text("[Planet]\nname = Mine\nfavourite_colour = blue\n")
    result = planetd("check", config)
    assert result.returncode == 0, result
    assert "unknown: favourite_colour" in result.stdout
    assert "feeds: 0" in result.stdout


def test_check_rejects_a_broken_ini_with_file_and_line(tmp_path: Path) -> None:
    """A config with a malformed line fails ``check`` with one line naming file and line."""
    config = tmp_path / "broken.ini"
    config.write_text("[Planet]\nname = Broken\nthis line is not ini\n")
    result = planetd("check", config)
    assert result.returncode == 1
    assert_one_line_error(result, f"{config}:3")


# -- poll ----------------------------------------------------------------------------


def test_poll_stores_new_entries_then_polls_only_what_is_due(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """``poll`` stores every new entry and sums up; a second poll finds nothing due.

    With ``--all`` the same feeds are polled again and answer 304, so nothing is
    new; the database is checkpointed on exit (no write-ahead log left behind).
    """
    serve_feeds(feed_server)
    python, twisted = feed_server.url("python.atom"), feed_server.url("twisted.rss")
    config = write_config(tmp_path / "planet.ini", {python: "Planet Python", twisted: "Tw"})
    database = tmp_path / "state.sqlite"

    first = planetd("poll", config, "--database", database)
    assert first.returncode == 0, first
    lines = first.stdout.splitlines()
    assert any(line.split() == ["ok", python, "3", "new"] for line in lines), lines
    assert any(line.split() == ["ok", twisted, "2", "new"] for line in lines), lines
    assert "polled 2 of 2 feeds" in lines[-1]
    assert "2 ok, 0 not modified, 0 failing, 0 gone; 5 new entries" in lines[-1]
    assert not Path(f"{database}-wal").exists()
    assert stored_titles(database) == {t for _, t, _, _ in PYTHON_ENTRIES + TWISTED_ITEMS}

    again = planetd("poll", config, "--database", database)
    assert again.returncode == 0, again
    assert "polled 0 of 2 feeds" in again.stdout

    forced = planetd("poll", config, "--all", "--database", database)
    assert forced.returncode == 0, forced
    assert "polled 2 of 2 feeds" in forced.stdout
    assert "0 ok, 2 not modified, 0 failing, 0 gone; 0 new entries" in forced.stdout
    assert not Path(f"{database}-wal").exists()


def test_poll_all_skips_gone_feeds_unless_asked(tmp_path: Path, feed_server: FeedServer) -> None:
    """A 410 means gone for good: ``poll --all`` leaves gone feeds alone (the README says so),
    and ``--include-gone`` polls them too, for an operator who thinks one is back."""
    serve_feeds(feed_server)
    python, twisted = feed_server.url("python.atom"), feed_server.url("twisted.rss")
    config = write_config(tmp_path / "planet.ini", {python: "Planet Python", twisted: "Tw"})
    database = tmp_path / "state.sqlite"
    assert planetd("poll", config, "--database", database).returncode == 0
    with sqlite3.connect(database) as db:
        db.execute("UPDATE feeds SET status = 'gone' WHERE url = ?", (twisted,))
    db.close()

    forced = planetd("poll", config, "--all", "--database", database)
    assert forced.returncode == 0, forced
    assert "polled 1 of 2 feeds" in forced.stdout
    assert twisted not in forced.stdout

    revived = planetd("poll", config, "--include-gone", "--database", database)
    assert revived.returncode == 0, revived
    assert "polled 2 of 2 feeds" in revived.stdout
    assert any(
        line.split()[:2] == ["not", "modified"] and twisted in line
        for line in revived.stdout.splitlines()
    ), revived.stdout


def test_poll_exits_1_when_every_feed_fails(tmp_path: Path, feed_server: FeedServer) -> None:
    """When every polled feed fails, ``poll`` says why per feed and exits 1."""
    config = write_config(
        tmp_path / "planet.ini",
        {feed_server.url("gone.xml"): "Gone", feed_server.url("absent.xml"): "Absent"},
    )
    result = planetd("poll", config)
    assert result.returncode == 1, result
    assert "0 ok, 0 not modified, 2 failing, 0 gone" in result.stdout
    failing = [line for line in result.stdout.splitlines() if line.startswith("failing")]
    assert len(failing) == 2
    assert all("HTTP 404" in line for line in failing)
    assert (tmp_path / "planetd.sqlite").exists(), "the default database sits beside the config"


# -- render --------------------------------------------------------------------------


def test_render_writes_a_static_planet_whose_files_parse(planet: Path, tmp_path: Path) -> None:
    """``render`` writes the river, the feeds and the stylesheet; each parses as its format.

    Every relative link in the river points at a file that was written, so the
    folder works as a static site at any path.
    """
    out = tmp_path / "site"
    result = planetd("render", planet, "--output", out)
    assert result.returncode == 0, result
    for name in (*STATIC_FILES, "planetd.css", "feeds/index.html"):
        assert (out / name).is_file(), name

    html5lib.HTMLParser(strict=True).parse((out / "index.html").read_bytes())
    html5lib.HTMLParser(strict=True).parse((out / "feeds" / "index.html").read_bytes())
    titles = {t for _, t, _, _ in PYTHON_ENTRIES + TWISTED_ITEMS}
    for name in ("atom.xml", "rss20.xml"):
        parsed = feedparser.parse((out / name).read_bytes())
        assert not parsed.bozo, (name, parsed.get("bozo_exception"))
        # RSS has no atom:source, so its titles name the feed first: "Feed: Title".
        assert {e.title.split(": ", 1)[-1] for e in parsed.entries} == titles
    document = json.loads((out / "feed.json").read_text())
    assert {item["title"] for item in document["items"]} == titles
    outlines = ElementTree.parse(out / "opml.xml").getroot().iter("outline")
    assert {o.get("text") for o in outlines} == {"Planet Python", "Planet Twisted", "Missing Blog"}

    index = (out / "index.html").read_text()
    assert 'href="./planetd.css"' in index
    for link in ("./planetd.css", "./atom.xml", "./rss20.xml", "./feed.json", "./opml.xml"):
        assert f'href="{link}"' in index
        assert (out / link).is_file()
    assert 'href="./feeds"' in index
    health = (out / "feeds" / "index.html").read_text()
    assert 'href="../planetd.css"' in health
    # Each feed's page sits where the health page links it: feeds/<id>/index.html.
    feed_links = re.findall(r'href="\.\./feeds/([0-9a-f]+)"', health)
    assert len(feed_links) == 3
    for fid in feed_links:
        page = (out / "feeds" / fid / "index.html").read_text()
        assert 'href="../../planetd.css"' in page
    assert "?before=" not in index, "a static copy has no older pages to link to"
    assert not Path(f"{planet.parent / 'planetd.sqlite'}-wal").exists()


# -- feeds ---------------------------------------------------------------------------


def test_feeds_table_shows_failing_feed_with_its_error(planet: Path) -> None:
    """``feeds`` lists every feed's health; a failing feed shows the error that failed it."""
    result = planetd("feeds", planet)
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    rows = {cells[0]: cells for cells in (re.split(r"\s{2,}", line) for line in lines[1:-1])}
    assert re.split(r"\s{2,}", lines[0]) == [
        "name",
        "url",
        "status",
        "last success",
        "next poll",
        "entries",
        "last error",
    ]
    missing = rows["Missing Blog"]
    assert missing[2] == "failing"
    assert missing[3] == "never"
    assert missing[-1] == "HTTP 404 Not Found"
    python = rows["Planet Python"]
    assert python[2] == "ok"
    assert python[5] == "3"
    assert rows["Planet Twisted"][5] == "2"
    assert lines[-1] == "3 feeds: 0 pending, 2 ok, 1 failing, 0 gone"


# -- opml ----------------------------------------------------------------------------


def test_opml_round_trip_gives_the_same_feed_list(planet: Path, tmp_path: Path) -> None:
    """Exported subscriptions imported into an empty config give back the same feeds.

    Importing the same file again adds nothing: every feed is already present.
    """
    exported = planetd("opml", "export", planet)
    assert exported.returncode == 0, exported
    opml = tmp_path / "subscriptions.opml"
    opml.write_text(exported.stdout)
    fresh = tmp_path / "fresh.ini"
    fresh.write_text("[Planet]\nname = Fresh\n")

    imported = planetd("opml", "import", opml, "--config", fresh)
    assert imported.returncode == 0, imported
    assert "added 3 feeds" in imported.stdout
    original = {(f.url, f.name) for f in load_config(str(planet)).feeds}
    assert {(f.url, f.name) for f in load_config(str(fresh)).feeds} == original

    again = planetd("opml", "import", opml, "--config", fresh)
    assert again.returncode == 0, again
    assert "added 0 feeds" in again.stdout
    assert "skipped 3 already present" in again.stdout


def test_opml_import_appends_and_keeps_the_config_text(tmp_path: Path) -> None:
    """Import appends new feeds (nested outlines too) and keeps every byte already written.

    A feed already subscribed and a ``file:`` URL are skipped, and said so.
    """
    config = write_config(
        tmp_path / "planet.ini",
        {"https://old.example.org/feed": "Old Friend"},
        preamble="# Our planet; keep this comment.\n; and this one\n",
    )
    before = config.read_bytes()
    opml = tmp_path / "in.opml"
    opml.write_text(
        """<?xml version="1.0"?>
<opml version="2.0"><head><title>Mine</title></head><body>
  <outline text="Python">
    <outline text="Old Friend again" xmlUrl="https://old.example.org/feed"/>
    <outline text="New &amp; Shiny" xmlUrl="https://new.example.org/atom.xml"/>
    <outline text="Deeper"><outline title="Deep One" xmlUrl="http://deep.example.org/rss"/></outline>
  </outline>
  <outline text="Local" xmlUrl="file:///etc/passwd"/>
</body></opml>"""
    )
    result = planetd("opml", "import", opml, "--config", config)
    assert result.returncode == 0, result
    assert "added 2 feeds" in result.stdout
    assert "skipped 1 already present, 1 not http(s) URLs" in result.stdout
    after = config.read_bytes()
    assert after.startswith(before)
    feeds = {f.url: f.name for f in load_config(str(config)).feeds}
    assert feeds == {
        "https://old.example.org/feed": "Old Friend",
        "https://new.example.org/atom.xml": "New & Shiny",
        "http://deep.example.org/rss": "Deep One",
    }


def test_opml_export_before_any_poll_comes_from_the_config(tmp_path: Path) -> None:
    """Before any poll there is no database: export lists the config's feeds and creates none."""
    config = write_config(
        tmp_path / "planet.ini",
        {"https://b.example.org/feed": "Beta", "https://a.example.org/feed": "Alpha"},
    )
    result = planetd("opml", "export", config)
    assert result.returncode == 0, result
    root = ElementTree.fromstring(result.stdout)
    assert root.get("version") == "2.0"
    assert [o.get("xmlUrl") for o in root.iter("outline")] == [
        "https://a.example.org/feed",
        "https://b.example.org/feed",
    ]
    assert not (tmp_path / "planetd.sqlite").exists()


def test_opml_import_refuses_malformed_opml(tmp_path: Path) -> None:
    """An OPML file that is not well-formed XML is refused in one line; the config is untouched."""
    config = write_config(tmp_path / "planet.ini", {})
    before = config.read_bytes()
    opml = tmp_path / "broken.opml"
    opml.write_text("<opml><body><outline xmlUrl='https://x.example/feed'></body></opml>")
    result = planetd("opml", "import", opml, "--config", config)
    assert result.returncode == 1
    assert_one_line_error(result, str(opml), "not well-formed")
    assert config.read_bytes() == before


# -- startup cost --------------------------------------------------------------------

#: What only polling needs (the fetcher, the parser, the parse pool) and the web app.
POLL_AND_WEB = ("treq", "klein", "feedparser", "planetd.fetch", "planetd.wiring", "planetd.web")


def loaded_by(*args: str | Path, watched: tuple[str, ...]) -> list[str]:
    """Run a command in this process's interpreter; the ``watched`` modules it imported."""
    code = (
        "import sys\n"
        "from planetd.cli import main\n"
        "main(sys.argv[1:])\n"
        f"print('loaded:', *(m for m in {watched!r} if m in sys.modules), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *(str(a) for a in args)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result
    return result.stderr.splitlines()[-1].split()[1:]


def test_check_loads_neither_the_poll_path_nor_the_templates(tmp_path: Path) -> None:
    """``planetd check`` stays quick: no treq, klein, feedparser or jinja2 is imported."""
    config = write_config(tmp_path / "planet.ini", {"https://a.example.org/feed": "A"})
    assert loaded_by("check", config, watched=(*POLL_AND_WEB, "jinja2")) == []


def test_quick_commands_do_not_load_the_poll_path_or_the_web_app(
    planet: Path, tmp_path: Path
) -> None:
    """``feeds`` and ``opml`` never import what polling or serving needs."""
    opml = tmp_path / "in.opml"
    opml.write_text('<opml><body><outline xmlUrl="https://n.example.org/f"/></body></opml>')
    fresh = write_config(tmp_path / "fresh.ini", {})
    assert loaded_by("feeds", planet, watched=POLL_AND_WEB) == []
    assert loaded_by("opml", "export", planet, watched=POLL_AND_WEB) == []
    assert loaded_by("opml", "import", opml, "--config", fresh, watched=POLL_AND_WEB) == []


# -- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "named"),
    [
        ("missing config", "missing.ini"),
        ("broken config", "broken.ini:2"),
        ("database folder missing", "/nonexistent/dir/x.sqlite"),
        ("not an SQLite file", "notes.txt"),
        ("database not created yet", "never.sqlite"),
        ("missing OPML file", "nowhere.opml"),
        ("no command argument", "expected exactly one PLANET.INI"),
    ],
)
def test_bad_input_is_one_clear_line_and_a_failure(tmp_path: Path, case: str, named: str) -> None:
    """Missing files, broken configs and unusable databases end in one line, never a traceback.

    The line names the file (and line) at fault, and the exit status is non-zero.
    """
    good = write_config(tmp_path / "planet.ini", {"https://a.example.org/feed": "A"})
    broken = tmp_path / "broken.ini"
    broken.write_text("[Planet]\n= no key here\n")
    notes = tmp_path / "notes.txt"
    notes.write_text("Shopping list: eggs, flour.\n" * 10)
    commands = {
        "missing config": ("check", tmp_path / "missing.ini"),
        "broken config": ("poll", broken),
        "database folder missing": ("poll", good, "--database", "/nonexistent/dir/x.sqlite"),
        "not an SQLite file": ("render", good, "--output", tmp_path / "o", "--database", notes),
        "database not created yet": ("feeds", good, "--database", tmp_path / "never.sqlite"),
        "missing OPML file": ("opml", "import", tmp_path / "nowhere.opml", "--config", good),
        "no command argument": ("feeds",),
    }
    result = planetd(*commands[case])
    assert_one_line_error(result, named)
    assert notes.read_text().startswith("Shopping list"), "a foreign file is never overwritten"
    assert not (tmp_path / "o").exists()
