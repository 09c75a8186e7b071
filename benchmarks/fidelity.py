"""The fidelity guard's count: the differences the differential test lists.

The fast parse path is held to feedparser's output by ``tests/test_differential.py``:
every document both paths read gives the same entries, or the difference is
listed in the test with its reason. The number of listed differences is the
guard's figure; this module counts them without importing the test (which
needs pytest and the corpus): it reads the module's top-level assignments and
counts the items of each literal dict, list, set or tuple whose name speaks of
differences (``KNOWN_DIFFERENCES``, ``LISTED_DIFFERENCES``, ...).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from harness import REPO

TEST = REPO / "tests" / "test_differential.py"


def listed_differences(path: Path = TEST) -> dict[str, Any]:
    """``{"test": path, "listed": count, "names": [...]}``; ``listed`` None without the test."""
    found: dict[str, Any] = {"test": str(path.relative_to(REPO)), "listed": None, "names": []}
    if not path.exists():
        return found
    tree = ast.parse(path.read_text(encoding="utf-8"))
    count = 0
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if not (isinstance(target, ast.Name) and "DIFF" in target.id.upper()):
                continue
            if isinstance(value, ast.Dict):
                count += len(value.keys)
            elif isinstance(value, ast.List | ast.Set | ast.Tuple):
                count += len(value.elts)
            else:
                continue
            found["names"].append(target.id)
    found["listed"] = count if found["names"] else None
    return found
