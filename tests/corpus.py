"""Where the third-party test corpora live, and what a test does when they are absent.

The corpora are not part of the repository: they sit in ``shared/corpus`` beside the clone
(``../shared/corpus`` from the repository's root; the same layout in CI), and
``PLANETD_CORPUS`` overrides the location.

A fresh clone on its own has no corpus, and its suite must still pass: every test that
needs a corpus file asks :func:`need` for it and is skipped, with the one line
:data:`MISSING`, when it is absent. CI sets ``PLANETD_REQUIRE_CORPUS=1``: there a missing
corpus fails the run instead, since a suite that silently skips its hostile inputs would
pass while proving nothing.
"""

from __future__ import annotations

import os
import unittest
from pathlib import Path
from typing import Any

import pytest

#: The ``shared/corpus`` directory (``tests/corpus.py`` → ``tests`` → repository → its parent).
CORPUS: Path = Path(
    os.environ.get("PLANETD_CORPUS") or Path(__file__).resolve().parents[2] / "shared" / "corpus"
)

#: Whether a missing corpus is an error (CI) rather than a reason to skip (a fresh clone).
REQUIRED: bool = os.environ.get("PLANETD_REQUIRE_CORPUS", "") not in ("", "0")

#: The one line a skipped corpus test reports.
MISSING = (
    "third-party corpus not found at ../shared/corpus; "
    "set PLANETD_CORPUS to its folder to run these tests"
)


def available() -> bool:
    """Whether the corpus folder is there at all."""
    return CORPUS.is_dir()


def need(path: Path) -> Path:
    """``path`` inside the corpus, or skip the calling test (fail under ``REQUIRED``).

    Callable at module level too: a module whose cases are read from the corpus at
    import is then skipped as a whole.
    """
    if path.exists():
        return path
    if REQUIRED or available():
        # Under CI, or with the corpus present but a file gone: that is a broken
        # checkout of the corpus, not a fresh clone, and must fail loudly.
        raise FileNotFoundError(f"{path} is missing from the test corpus at {CORPUS}")
    pytest.skip(MISSING, allow_module_level=True)


def text(path: Path) -> str | None:
    """A corpus file's text, or None when the corpus is absent (raises as :func:`need` would
    where a missing file is an error)."""
    if path.exists() or REQUIRED or available():
        return path.read_text(encoding="utf-8")
    return None


def cases(params: list[Any]) -> list[Any]:
    """Parameters read from the corpus; without it, one case skipped with :data:`MISSING`."""
    if params or REQUIRED or available():
        return params
    return [pytest.param(None, marks=pytest.mark.skip(reason=MISSING), id="no-corpus")]


#: For a test class whose every test reads the corpus: skipped, with :data:`MISSING`,
#: when the corpus is absent (never under ``REQUIRED``, where the tests then fail loudly).
skip_without_corpus = unittest.skipIf(not REQUIRED and not available(), MISSING)
