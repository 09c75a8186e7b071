"""``planetd poll`` with nothing to parse pays only for what it uses: the parse pool and
the parsers (feedparser, lxml, nh3) are loaded and started at the first body to parse."""

from __future__ import annotations

from pathlib import Path

from test_cli import loaded_by

#: The parse path: the pool, the parsers, the sanitizer.
PARSE_PATH = ("planetd.workers", "planetd.parse", "feedparser", "lxml.etree", "nh3")


def _rss(title: str) -> str:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        "<link>https://t.example/</link><item><guid>g</guid>"
        f"<title>{title}</title><description>d</description></item></channel></rss>"
    )


def test_a_poll_with_nothing_to_parse_never_loads_the_parse_path(tmp_path: Path) -> None:
    """The first poll parses (and loads the parsers); a second ``poll --all`` whose feeds
    are unchanged loads neither the parse pool nor any parser, nor the web app; a changed
    feed loads them again at its first parse."""
    feeds = {f"f{i}.xml": _rss(f"post {i}") for i in range(3)}
    for name, text in feeds.items():
        (tmp_path / name).write_text(text)
    config = tmp_path / "planet.ini"
    config.write_text(
        "[Planet]\nname = P\n" + "".join(f"[file:{n}]\nname = {n}\n" for n in feeds),
    )
    watched = (*PARSE_PATH, "klein", "jinja2")
    assert set(loaded_by("poll", config, watched=watched)) >= set(PARSE_PATH)
    assert loaded_by("poll", config, "--all", watched=watched) == []
    (tmp_path / "f1.xml").write_text(_rss("post 1, edited"))
    assert set(loaded_by("poll", config, "--all", watched=watched)) == set(PARSE_PATH)
