"""A planet without groups renders exactly as it did before groups existed.

Planet Python's real config (567 feeds, no groups) is rendered from a fixed store at
a fixed time; the digests of its static files were taken with planetd as it was
before groups (the same function, run on that source tree). Only ``/api/entries``
changes: its entries gain ``groups`` (an empty list), as INTERFACE.md says.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from builders import parsed, utc
from corpus import CORPUS, need
from planetd import __version__
from planetd.boundaries import FeedState, FeedStatus, PollOutcome
from planetd.config import load_config
from planetd.render import Renderer
from planetd.site import Site
from planetd.store import open_database

GOLDEN = Path(__file__).parent / "golden" / "planetpython_nogroups.json"

#: The files compared: the river, its feeds, the health page and one feed's page.
COMPARED = (
    "index.html", "atom.xml", "rss20.xml", "opml.xml", "feed.json", "feeds/index.html",
)  # fmt: skip


def rendered_digests(folder: Path) -> dict[str, str]:
    """The SHA-256 of each compared static file of Planet Python over a fixed store (the
    version number written as ``VERSION``, so a release does not move them)."""
    config = load_config(str(need(CORPUS / "planetpython" / "config.ini")))
    db = open_database(str(folder / "planet.sqlite"))
    try:
        db.sync_feeds(config.feeds, utc(2026, 7, 1))
        for index, feed in enumerate(config.feeds[:12]):
            state = FeedState(
                url=feed.url, name=feed.name, status=FeedStatus.OK, link=f"https://s{index}/"
            )
            entries = [
                parsed(f"{index}-{n}", utc(2026, 7, 1 + (index + n) % 5, index, n))
                for n in range(3)
            ]
            db.record_poll(feed, PollOutcome(state=state, entries=entries), utc(2026, 7, 6))
        files = Site(config, Renderer(config)).static_files(db, utc(2026, 7, 6, 12))
    finally:
        db.close()
    first_feed = next(
        name for name in sorted(files) if name.startswith("feeds/") and name.count("/") == 2
    )
    digests = {}
    for name in (*COMPARED, first_feed):
        body = files[name].replace(__version__.encode(), b"VERSION")
        digests[name] = hashlib.sha256(body).hexdigest()
    digests["files under groups/"] = str(sum(name.startswith("groups/") for name in files))
    return digests


def test_planet_pythons_outputs_are_byte_for_byte_unchanged(tmp_path: Path) -> None:
    """With Planet Python's config (no groups), the river, Atom, RSS 2.0, OPML, JSON Feed,
    the health page and a feed's page are the bytes planetd wrote before groups, and no
    ``groups/`` file is written."""
    expected = json.loads(GOLDEN.read_text())
    assert rendered_digests(tmp_path) == expected


if __name__ == "__main__":  # writes the digests (run on the tree they are taken from)
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        json.dump(rendered_digests(Path(scratch)), sys.stdout, indent=1, sort_keys=True)
