"""The twistd plugin: found by twistd, cheap to import, wired to planetd.tap."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO, subprocess_env, twistd

HEAVY = ("treq", "feedparser", "klein", "jinja2", "nh3", "planetd.store")


def test_importing_the_plugin_loads_nothing_heavy() -> None:
    """`twistd --help` imports every plugin: ours pulls in no treq, feedparser, klein, jinja2."""
    code = (
        "import sys; from twisted.plugins import planetd_plugin; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd="/",
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == ""


def test_twistd_lists_planetd_and_its_options() -> None:
    """`twistd planetd --help` works from outside the repository and names every option."""
    result = subprocess.run(
        [*twistd(), "planetd", "--help"],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd="/",
        timeout=60,
        check=True,
    )
    for option in ("--config", "--listen", "--database"):
        assert option in result.stdout


def test_a_bad_config_is_one_line_and_a_nonzero_exit(tmp_path) -> None:
    """A config error stops twistd before anything is written, naming file, line and key."""
    config = tmp_path / "planet.ini"
    config.write_text("[Planet]\nname = Broken\nitems_per_page = ten\n")
    result = subprocess.run(
        [*twistd(), "-n", "--pidfile=", "planetd", "--config", str(config)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=str(tmp_path),
        timeout=60,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("planetd:")]
    assert lines == [
        f"planetd: {config}:3: key 'items_per_page': expected a whole number, got 'ten'"
    ]
    assert not (tmp_path / "planetd.sqlite").exists()


def test_a_file_that_is_not_sqlite_is_refused_and_kept(tmp_path) -> None:
    """Pointing --database at another file stops the daemon and leaves the file as it was."""
    config = tmp_path / "planet.ini"
    config.write_text("[Planet]\nname = Fine\n")
    precious = tmp_path / "notes.txt"
    precious.write_bytes(b"my thesis, chapter one\n" * 100)
    before = precious.read_bytes()
    result = subprocess.run(
        [
            *twistd(),
            "-n",
            "--pidfile=",
            "planetd",
            "--config",
            str(config),
            "--database",
            str(precious),
        ],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=str(tmp_path),
        timeout=60,
    )
    assert result.returncode != 0
    assert "not an SQLite database" in result.stderr
    assert precious.read_bytes() == before


def test_plugin_file_has_no_package_init() -> None:
    """twisted/ and twisted/plugins/ must not be packages, or they hide Twisted's own."""
    assert not (REPO / "twisted" / "__init__.py").exists()
    assert not (REPO / "twisted" / "plugins" / "__init__.py").exists()
