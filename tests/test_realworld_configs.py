"""Venus compatibility over real configs: ``planetd check`` and ``planetd opml import`` on
every Planet/Venus INI and OPML list in the realworld corpus, as a user would run them."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import planetd_cli, subprocess_env
from corpus import CORPUS, cases, need
from planetd.config import PLANET_KEYS

pytestmark = pytest.mark.corpus

CONFIGS = CORPUS / "realworld" / "configs"

#: Per INI: (feeds, reading lists) that ``check`` reports.
INI_COUNTS = {
    "002.ini": (3, 0),
    "003.ini": (0, 1),
    "006.ini": (4, 0),
    "010.ini": (0, 0),
    "013.ini": (21, 0),
    "014.ini": (1, 0),
    "016.ini": (1, 0),
    "018.ini": (26, 0),
    "019.ini": (0, 0),
    "020.ini": (5, 0),
    "021.ini": (4, 0),
    "022.ini": (40, 0),
    "023.ini": (18, 0),
    "024.ini": (61, 0),
}

#: Per OPML: (feeds added, skipped as already present, skipped as not http(s)).
OPML_COUNTS = {
    "028.opml": (664, 40, 6),
    "029.opml": (25, 0, 0),
    "030.opml": (0, 0, 0),  # its outlines link articles (url=), none names a feed
    "031.opml": (536, 6, 0),
    "033.opml": (14, 0, 0),
    "034.opml": (7, 0, 0),
    "035.opml": (4, 0, 0),
    "036.opml": (315, 0, 0),
    "039.opml": (55, 0, 0),
    "041.opml": (21, 0, 0),
    "042.opml": (55, 0, 0),
    "043.opml": (207, 0, 0),
}


def planetd(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*planetd_cli(), *map(str, args)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=cwd,
        timeout=60,
    )


def test_the_corpus_holds_the_configs_counted_here() -> None:
    """Every INI and OPML of the corpus has its expected counts here (none slips past)."""
    need(CONFIGS)
    assert sorted(p.name for p in CONFIGS.glob("*.ini")) == sorted(INI_COUNTS)
    assert sorted(p.name for p in CONFIGS.glob("*.opml")) == sorted(OPML_COUNTS)


@pytest.mark.parametrize("name", cases(sorted(INI_COUNTS)))
def test_check_reads_every_real_config(name: str, tmp_path: Path) -> None:
    """``planetd check`` accepts each real config without a traceback, counts its feeds and
    reading lists, and reports every ``[Planet]`` key it does not read with a reason."""
    source = need(CONFIGS / name)
    config = tmp_path / name
    shutil.copyfile(source, config)
    result = planetd("check", config)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    feeds, lists = INI_COUNTS[name]
    assert f"\nfeeds: {feeds}\n" in result.stdout
    assert f"\nreading lists: {lists}\n" in result.stdout
    reported = {}
    for line in result.stdout.splitlines():
        kind, _, rest = line.partition(": ")
        if kind in ("ignored", "unknown"):
            key, _, reason = rest.partition(": ")
            assert reason.strip(), line
            reported[key] = reason
    parser = configparser.ConfigParser(interpolation=None, strict=False, default_section="\0")
    parser.read_string(config.read_text(encoding="utf-8"))
    for key in parser["Planet"]:
        assert key in PLANET_KEYS or key in reported, f"{key} is neither read nor reported"


def test_check_names_the_reading_list_of_a_real_config(tmp_path: Path) -> None:
    """The Venus reading list of a real config is reported as one, with its URL."""
    config = tmp_path / "003.ini"
    shutil.copyfile(need(CONFIGS / "003.ini"), config)
    result = planetd("check", config)
    assert "reading list: http://www.techmeme.com/lb.opml (opml)" in result.stdout


@pytest.mark.parametrize("name", cases(sorted(OPML_COUNTS)))
def test_opml_import_reads_every_real_list(name: str, tmp_path: Path) -> None:
    """``planetd opml import`` adds each real list's http(s) feeds to an empty planet, with
    the expected counts, and the result is a config ``check`` accepts with that many feeds."""
    config = tmp_path / "planet.ini"
    config.write_text("[Planet]\nname = Imported\n")
    result = planetd("opml", "import", need(CONFIGS / name), "--config", config)
    assert result.returncode == 0, result.stderr
    added, already, unusable = OPML_COUNTS[name]
    assert f"added {added} feeds to {config}; skipped {already} already present" in result.stdout
    assert (f", {unusable} not http(s) URLs" in result.stdout) == bool(unusable)
    checked = planetd("check", config)
    assert checked.returncode == 0, checked.stderr
    assert f"\nfeeds: {added}\n" in checked.stdout
