"""Where the third-party test corpora live, for every test that reads them.

The corpora are not part of the repository: they sit in ``shared/corpus`` beside the clone
(``/work/shared/corpus`` next to ``/work/main`` here, and the same layout in CI).
``PLANETD_CORPUS`` overrides the location. A missing corpus is an error, not a reason to skip:
a suite that silently skips its hostile inputs would pass while proving nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The ``shared/corpus`` directory (``tests/corpus.py`` → ``tests`` → repository → its parent).
CORPUS: Path = Path(
    os.environ.get("PLANETD_CORPUS") or Path(__file__).resolve().parents[2] / "shared" / "corpus"
)
