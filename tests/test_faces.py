"""Planet's faces: config, serving, the river, ``planetd render`` and ``planetd check``.

The config and the in-memory web face are checked here directly; the real
daemon (``twistd -n planetd``) serving a face and a browser loading it are at
the end of the file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import html5lib
import pytest
from treq.testing import RequestTraversalAgent
from twisted.internet.task import Clock

from builders import parsed, utc
from conftest import Daemon, FeedServer
from corpus import CORPUS, cases
from feeds import atom
from planetd import commands
from planetd.boundaries import FeedState, FeedStatus, PollOutcome
from planetd.config import ConfigError, load_config, parse_config
from planetd.dbthreads import InlineStore
from planetd.faces import FaceView, face_views, read_faces
from planetd.river import feed_id
from planetd.store import open_database
from planetd.webface import web_face
from pngs import count_colour, solid_png
from test_web import Planet, header

pytestmark = pytest.mark.filterwarnings("ignore:Using readBody with a transport:DeprecationWarning")

FACE = solid_png(4, 4, (255, 0, 255))
A, B, C = "https://a.example.org/feed", "https://b.example.org/feed", "https://c.example.org/feed"

FACES_CONFIG = f"""[Planet]
name = Planet Faces
items_per_page = 10

[{A}]
name = Alpha Blog
face = alpha.png
facewidth = 40
faceheight = 48

[{B}]
name = Beta Blog
face = https://images.example.net/beta.jpg

[{C}]
name = Gamma Blog
face = missing.png
"""


def faces_planet(folder: Path) -> Path:
    """A config with three faces (a file, a URL, a missing file) and its faces folder."""
    (folder / "faces").mkdir(exist_ok=True)
    (folder / "faces" / "alpha.png").write_bytes(FACE)
    (folder / "faces" / "unlisted.png").write_bytes(FACE)
    config = folder / "planet.ini"
    config.write_text(FACES_CONFIG)
    return config


# -- config --------------------------------------------------------------------------


def test_face_keys_are_typed_and_faces_dir_defaults_beside_the_config(tmp_path: Path) -> None:
    """A feed's face, facewidth and faceheight become typed fields; faces_dir is ``faces``
    beside the config unless set (relative to the config's folder)."""
    config = load_config(str(faces_planet(tmp_path)))
    alpha, beta, gamma = config.feeds
    assert (alpha.face, alpha.facewidth, alpha.faceheight) == ("alpha.png", 40, 48)
    assert beta.face == "https://images.example.net/beta.jpg"
    assert (beta.facewidth, beta.faceheight) == (None, None)
    assert gamma.face == "missing.png"
    assert config.faces_dir == str(tmp_path / "faces")
    assert "faces_dir" not in config.unknown
    assert dict(alpha.extra)["face"] == "alpha.png"  # still there for operator templates
    moved = parse_config("[Planet]\nfaces_dir = img/heads\n", str(tmp_path / "p.ini"))
    assert moved.faces_dir == str(tmp_path / "img" / "heads")


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("../secret.png", "no folder"),
        ("/etc/passwd.png", "no folder"),
        ("sub/alpha.png", "no folder"),
        ("..\\alpha.png", "no folder"),
        (".hidden.png", "no folder"),
        ("file:alpha.png", "no folder"),
        ("logo.svg", "SVG is refused"),
        ("notes.txt", "PNG, JPEG or GIF"),
        ("https://x.example/a b.png", "not a usable face URL"),
    ],
)
def test_a_face_outside_faces_dir_or_of_a_risky_type_is_refused_at_load(
    tmp_path: Path, value: str, says: str
) -> None:
    """A face naming a file outside faces_dir (a folder, ``..``, an absolute path) or an SVG
    stops the config with file, line and key: no such name ever reaches the disk."""
    text = f"[Planet]\nname = P\n\n[{A}]\nname = A\nface = {value}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, str(tmp_path / "planet.ini"))
    assert str(caught.value).startswith(f"{tmp_path / 'planet.ini'}:6: key 'face': ")
    assert says in str(caught.value)


@pytest.mark.parametrize("value", ["0", "wide", "-3", "20000"])
def test_a_bad_face_size_names_its_line(tmp_path: Path, value: str) -> None:
    """facewidth and faceheight are pixels from 1 to 10000; anything else names its line."""
    text = f"[Planet]\n[{A}]\nface = a.png\nfaceheight = {value}\n"
    with pytest.raises(ConfigError, match=r":4: key 'faceheight': "):
        parse_config(text, str(tmp_path / "planet.ini"))


def _configs_with_faces() -> list[Path]:
    folder = CORPUS / "realworld" / "configs"
    if not folder.is_dir():
        return []
    face = re.compile(r"^\s*face\s*[=:]", re.MULTILINE)
    return sorted(p for p in folder.glob("*.ini") if face.search(p.read_text(errors="replace")))


@pytest.mark.parametrize(
    "path", cases(_configs_with_faces()), ids=lambda p: p.name if p else "none"
)
def test_real_planet_configs_with_faces_load(path: Path) -> None:
    """Every real Planet config that gives feeds a face still loads, each face typed."""
    config = load_config(str(path))
    faced = [f for f in config.feeds if f.face]
    assert faced
    for feed in faced:
        assert feed.face == dict(feed.extra)["face"].strip()


# -- what the river shows ------------------------------------------------------------


def test_face_views_show_urls_as_they_are_and_files_only_when_present(tmp_path: Path) -> None:
    """A URL face is used as it is; a file face shows only when the file was found; the
    alt text is the feed's name and the size comes from facewidth/faceheight."""
    config = load_config(str(faces_planet(tmp_path)))
    views = face_views(config, {"alpha.png"})
    assert views[A] == FaceView("faces/alpha.png", True, 40, 48, "Alpha Blog")
    assert views[B] == FaceView(
        "https://images.example.net/beta.jpg", False, None, None, "Beta Blog"
    )
    assert C not in views


def test_read_faces_reads_configured_files_and_reports_the_missing(tmp_path: Path) -> None:
    """Only faces that feeds name are read; a missing or oversized file is a problem line."""
    config = load_config(str(faces_planet(tmp_path)))
    found = read_faces(config)
    assert dict(found.files) == {"alpha.png": FACE}
    assert len(found.problems) == 1
    assert "'missing.png': no such file" in found.problems[0]
    (tmp_path / "faces" / "missing.png").write_bytes(b"x" * (1024 * 1024 + 1))
    assert "larger than" in read_faces(config).problems[0]


class FacesPlanet(Planet):
    """test_web's in-memory planet, over the faces config, with one entry per feed."""

    def __init__(self, folder: Path) -> None:
        self.config = load_config(str(faces_planet(folder)))
        self.db = open_database(str(folder / "planet.sqlite"))
        self.clock = Clock()
        self.clock.advance(utc(2026, 7, 6).timestamp())
        self.db.sync_feeds(self.config.feeds, utc(2026, 7, 1))
        self.store = InlineStore(self.db)
        self.web = web_face(self.config, self.store, self.clock, rebuild_delay=0)
        self.agent = RequestTraversalAgent(self.web.app.resource())
        for index in range(3):
            self.add(index, parsed(f"e{index}", utc(2026, 7, 4, index)))


def faces_web(tmp_path: Path) -> Planet:
    """The in-memory web face of the faces planet."""
    return FacesPlanet(tmp_path)


def test_the_river_shows_each_face_beside_its_source(tmp_path: Path) -> None:
    """Each entry's source carries its feed's face (size and alt as configured); a feed
    whose face file is missing shows no image at all, never a broken one."""
    planet = faces_web(tmp_path)
    try:
        status, _, body = planet.get("/")
        assert status == 200
        document = html5lib.parse(body, namespaceHTMLElements=False)
        by_source: dict[str, Any] = {}
        for article in document.iter("article"):
            source = article.find("h3")
            by_source["".join(source.itertext()).strip()] = source.find("img")
        alpha, beta, gamma = (
            by_source["Alpha Blog"],
            by_source["Beta Blog"],
            by_source["Gamma Blog"],
        )
        assert alpha.attrib == {
            "class": "face",
            "src": "/faces/alpha.png",
            "width": "40",
            "height": "48",
            "alt": "Alpha Blog",
        }
        assert beta.get("src") == "https://images.example.net/beta.jpg"
        assert "width" not in beta.attrib
        assert gamma is None
        # The feed's own page shows the face too.
        _, _, page = planet.get(f"/feeds/{feed_id(A)}")
        assert b'src="/faces/alpha.png"' in page
    finally:
        planet.db.close()


def test_a_face_is_served_with_its_type_validators_and_304(tmp_path: Path) -> None:
    """``/faces/<file>`` serves a configured face with its content type, an ETag and a
    long cache life, and answers 304 to a matching If-None-Match."""
    planet = faces_web(tmp_path)
    try:
        status, headers, body = planet.get("/faces/alpha.png")
        assert (status, body) == (200, FACE)
        assert header(headers, "content-type") == "image/png"
        assert header(headers, "x-content-type-options") == "nosniff"
        assert "max-age=86400" in (header(headers, "cache-control") or "")
        etag = header(headers, "etag")
        assert etag
        again, _, empty = planet.get("/faces/alpha.png", {"If-None-Match": etag})
        assert (again, empty) == (304, b"")
    finally:
        planet.db.close()


@pytest.mark.parametrize(
    "path",
    ["/faces/missing.png", "/faces/unlisted.png", "/faces/..%2Fplanet.ini", "/faces/"],
)
def test_anything_but_a_configured_present_face_is_a_404(tmp_path: Path, path: str) -> None:
    """A missing face, a file no feed names, and any path trick get a 404, never a file."""
    planet = faces_web(tmp_path)
    try:
        status, _, body = planet.get(path)
        assert status == 404
        assert b"[Planet]" not in body
    finally:
        planet.db.close()


# -- the command line ----------------------------------------------------------------


def test_render_copies_the_faces_and_every_page_finds_them(tmp_path: Path) -> None:
    """``planetd render`` writes the face files into ``faces/`` of the output, and the river
    and each feed page point at them with a relative link that resolves there."""
    config = faces_planet(tmp_path)
    loaded = load_config(str(config))
    db = open_database(str(tmp_path / "planet.sqlite"))
    db.sync_feeds(loaded.feeds, utc(2026, 7, 1))
    for index, feed in enumerate(loaded.feeds):
        state = FeedState(url=feed.url, name=feed.name, status=FeedStatus.OK)
        outcome = PollOutcome(state=state, entries=(parsed(f"e{index}", utc(2026, 7, 4)),))
        db.record_poll(feed, outcome, utc(2026, 7, 5))
    db.close()
    out = tmp_path / "site"
    assert commands.render(str(config), str(tmp_path / "planet.sqlite"), str(out)) == 0
    assert (out / "faces" / "alpha.png").read_bytes() == FACE
    assert not (out / "faces" / "unlisted.png").exists()
    pages = [out / "index.html", out / "feeds" / feed_id(A) / "index.html"]
    for page in pages:
        document = html5lib.parse(page.read_bytes(), namespaceHTMLElements=False)
        sources = [img.get("src") for img in document.iter("img") if img.get("class") == "face"]
        local = [s for s in sources if not s.startswith("https:")]
        assert local
        for src in local:
            assert (page.parent / src).resolve() == (out / "faces" / "alpha.png").resolve()


def test_check_warns_of_a_face_file_that_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``planetd check`` still says the config is valid, and warns of each face file that
    is not in faces_dir (the river will show no face for that feed)."""
    config = faces_planet(tmp_path)
    assert commands.check(str(config)) == 0
    out = capsys.readouterr().out
    assert "valid" in out
    warnings = [line for line in out.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "'missing.png'" in warnings[0] and str(tmp_path / "faces") in warnings[0]


# -- the real daemon -----------------------------------------------------------------


def daemon_planet(tmp_path: Path, server: FeedServer) -> Path:
    """A planet of one served feed whose face is a file in faces_dir."""
    (server.folder / "a.atom").write_text(
        atom("A", "https://a.example/", [("tag:a,1", "Faced", "2026-07-04T00:00:00Z", "<p>x</p>")])
    )
    (tmp_path / "heads").mkdir()
    (tmp_path / "heads" / "alpha.png").write_bytes(solid_png(60, 60, (255, 0, 255)))
    config = tmp_path / "planet.ini"
    config.write_text(
        "[Planet]\nname = Planet Faces\nmin_interval = 1s\nfaces_dir = heads\n\n"
        f"[{server.url('a.atom')}]\nname = Alpha Blog\nface = alpha.png\n"
        "facewidth = 60\nfaceheight = 60\n"
    )
    return config


@pytest.mark.e2e
def test_the_daemon_serves_faces_and_shows_them(
    tmp_path: Path, feed_server: FeedServer, make_daemon
) -> None:
    """A real ``twistd -n planetd`` serves the face file from faces_dir at /faces/<file>
    and the river shows it beside the entry's source."""
    daemon: Daemon = make_daemon(daemon_planet(tmp_path, feed_server))
    daemon.start()
    daemon.wait_until(lambda: len(daemon.json("/api/entries")["entries"]) == 1, 30, "the entry")
    status, headers, body = daemon.get("/faces/alpha.png")
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert body == (tmp_path / "heads" / "alpha.png").read_bytes()
    assert daemon.get("/faces/nobody.png")[0] == 404
    daemon.wait_until(lambda: b"/faces/alpha.png" in daemon.get("/")[2], 10, "the face shown")
    _, _, river = daemon.get("/")
    assert b'alt="Alpha Blog"' in river
    assert json.loads(daemon.get("/api/feeds")[2])["feeds"][0]["status"] == "ok"


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
@pytest.mark.e2e
@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="Debian's chromium is not installed"
)
def test_a_browser_loads_the_face(tmp_path: Path, feed_server: FeedServer, make_daemon) -> None:
    """Headless Chromium shows the face: its magenta pixels are on the screenshot, so the
    image loaded (naturalWidth > 0) under the page's content security policy."""
    from test_browser import chromium

    daemon: Daemon = make_daemon(daemon_planet(tmp_path, feed_server))
    daemon.start()
    daemon.wait_until(lambda: b"/faces/alpha.png" in daemon.get("/")[2], 30, "the face shown")
    shot = tmp_path / "faces.png"
    chromium(
        f"--screenshot={shot}",
        "--window-size=900,500",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        daemon.url("/"),
        profile=tmp_path / "profile",
    )
    assert shot.exists()
    # The face is 60 by 60 (3,600 pixels); the page itself has no magenta.
    assert count_colour(shot.read_bytes(), (255, 0, 255)) > 3000
