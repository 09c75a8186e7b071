"""Planet's faces: the small image each feed may show beside its entries' source.

Owns the rules of a feed's ``face``, each written once: what a face may be
(a file name inside ``faces_dir``, or an http(s) URL used as it is), which
file types are served and as what (PNG, JPEG, GIF; SVG is refused, since
it can carry script), what the river shows of a face (:class:`FaceView`:
``src``, ``width``, ``height``, ``alt`` = the feed's name) and what it shows
when the file is missing (nothing: never a broken image).

A face file name is checked when the config is read
(:func:`check_face` raises, and :mod:`planetd.config` turns that into a
one-line error with file, line and key), so no name with a folder, ``..``
or an absolute path ever reaches the disk. :func:`read_faces` is the one
place that reads face files, like :func:`planetd.config.load_config` reads
the config: the daemon's wiring calls it once at start (off the reactor's
loop, which is not running yet), ``planetd render`` and ``planetd check``
call it too. Must not import Twisted, SQLite or Jinja2.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from urllib.parse import quote

import attrs

from planetd.boundaries import FeedURL, PlanetConfig

#: The face folder's name beside the config, and in a ``planetd render`` output.
DEFAULT_FACES_DIR = "faces"

#: The file types a face may have, by extension, with the content type they are served as.
FACE_TYPES: Mapping[str, str] = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
}

#: A face larger than this is not served (faces are avatars of a few kilobytes).
MAX_FACE_BYTES = 1024 * 1024


def is_face_url(face: str) -> bool:
    """True for a face given as an http(s) URL (used as it is), False for a file name."""
    return face.lower().startswith(("http://", "https://"))


def check_face(text: str) -> str:
    """A feed's ``face`` value if it is usable; ``ValueError`` saying why if not.

    A file name must name a file directly inside ``faces_dir`` (no folder,
    no ``..``, no hidden file, no absolute path) of a type in :data:`FACE_TYPES`.
    """
    value = text.strip()
    if is_face_url(value):
        if any(c.isspace() for c in value) or not value.isprintable():
            raise ValueError(f"not a usable face URL: {value[:100]!r}")
        return value
    if (
        not value
        or "/" in value
        or "\\" in value
        or value.startswith(".")
        or not value.isprintable()
        or ":" in value
    ):
        raise ValueError(
            "a face is a file name inside faces_dir (no folder, no '..', no absolute path)"
            f" or an http(s) URL, got {value[:100]!r}"
        )
    if face_content_type(value) is None:
        raise ValueError(
            f"a face file must be PNG, JPEG or GIF (SVG is refused: it may carry script),"
            f" got {value[:100]!r}"
        )
    return value


def face_content_type(name: str) -> str | None:
    """The content type a face file is served as, or None for a type that is not served."""
    return FACE_TYPES.get(os.path.splitext(name)[1].lower())


def faces_dir(config_path: str, configured: str | None) -> str:
    """The face folder: ``configured`` (relative to the config's folder) or ``faces`` beside it."""
    base = os.path.dirname(os.path.abspath(config_path))
    return os.path.join(base, os.path.expanduser(configured or DEFAULT_FACES_DIR))


def local_faces(config: PlanetConfig) -> list[str]:
    """Every face file name the feeds configure, once each, sorted."""
    return sorted({f.face for f in config.feeds if f.face and not is_face_url(f.face)})


@attrs.frozen
class FaceView:
    """What the river shows of a feed's face.

    ``src`` is the URL as configured for a remote face; for a local one it is
    ``faces/<file>``, relative to the page's root (``local`` says which).
    """

    src: str
    local: bool
    width: int | None
    height: int | None
    alt: str


def face_views(config: PlanetConfig, available: Collection[str]) -> dict[FeedURL, FaceView]:
    """Each feed's face as the river shows it; a face file not in ``available`` shows none."""
    views: dict[FeedURL, FaceView] = {}
    for feed in config.feeds:
        if not feed.face:
            continue
        local = not is_face_url(feed.face)
        if local and feed.face not in available:
            continue
        views[feed.url] = FaceView(
            src=f"{DEFAULT_FACES_DIR}/{quote(feed.face)}" if local else feed.face,
            local=local,
            width=feed.facewidth,
            height=feed.faceheight,
            alt=feed.name,
        )
    return views


@attrs.frozen
class FaceFiles:
    """The face files read from ``faces_dir``, and why any configured one was left out."""

    files: Mapping[str, bytes] = attrs.field(factory=dict)
    #: One line per configured face that is not shown (missing, unreadable, too large).
    problems: tuple[str, ...] = ()


def read_faces(config: PlanetConfig) -> FaceFiles:
    """Read every configured face file; a missing or unusable one is a problem, not an error."""
    files: dict[str, bytes] = {}
    problems: list[str] = []
    for name in local_faces(config):
        path = os.path.join(config.faces_dir, name)
        try:
            with open(path, "rb") as f:
                body = f.read(MAX_FACE_BYTES + 1)
        except FileNotFoundError:
            problems.append(f"face {name!r}: no such file in {config.faces_dir}; no face shown")
            continue
        except OSError as e:
            problems.append(f"face {name!r}: {e.strerror or e}; no face shown")
            continue
        if len(body) > MAX_FACE_BYTES:
            problems.append(f"face {name!r}: larger than {MAX_FACE_BYTES} bytes; no face shown")
            continue
        files[name] = body
    return FaceFiles(files, tuple(problems))
