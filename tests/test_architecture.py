"""The import rules of docs/design.md, checked on the source: a violation fails here.

planetd is a functional core with thin shells. That only stays true if the core
cannot reach the shells' machinery: the tests below read every module's imports
(with :mod:`ast`, so nothing is executed) and check them against the layer each
module belongs to. A new module must be given a layer here before it can land.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import planetd

SOURCE = Path(planetd.__file__).resolve().parent

#: Every module of the package, by layer. docs/design.md's module table says the same.
LAYERS: dict[str, str] = {
    # The values and seams: imports nothing of planetd.
    "boundaries": "values",
    "values": "values",
    "featureseams": "values",
    "featurevalues": "values",
    # The functional core: pure functions over values; no Twisted, no SQLite, no network.
    "config": "core",
    "configvalues": "core",
    "schedule": "core",
    "hints": "core",
    "discovery": "core",
    "decide": "core",
    "plan": "core",
    "normalize": "core",
    "parse": "core",
    "fastparse": "core",
    "fastrules": "core",
    "dates": "core",
    "entryrules": "core",
    "sanitize": "core",
    "trackers": "core",
    "river": "core",
    "render": "core",
    "site": "core",
    "sitegroups": "core",
    "sitemedia": "core",
    "sitesearch": "core",
    "shapes": "core",
    "opml": "core",
    "reload": "core",
    "subscriptions": "core",
    "faces": "core",
    "nometrics": "core",
    "search": "core",
    "groups": "core",
    "planets": "core",
    "planetview": "core",
    "planetspage": "core",
    "submissions": "core",
    "websublinks": "core",
    "websubplan": "core",
    "changes": "core",
    "feedsdoc": "core",
    # Storage: the only place SQL and sqlite3 live; blocking, no Twisted.
    "store": "store",
    "schema": "store",
    "entrywrite": "store",
    "searchindex": "store",
    "submissionstore": "store",
    "websubstore": "store",
    "statememo": "store",
    "storerows": "store",
    "readingliststore": "store",
    "planetreads": "store",
    "pgschema": "store",
    "pgstore": "store",
    "pgmigrate": "store",
    # Shells: sequence I/O on the reactor; depend on the seams, not on each other.
    "dbthreads": "shell",
    "pgthreads": "shell",
    "workers": "shell",
    "fetch": "shell",
    "bodylimits": "shell",
    "fetcherrors": "shell",
    "fetchfile": "shell",
    "poller": "shell",
    "polldigest": "shell",
    "web": "shell",
    "websearch": "shell",
    "webargs": "shell",
    "outputs": "shell",
    "httpcache": "shell",
    "terminal": "shell",
    "prometheus": "shell",
    "router": "shell",
    "guardedfetch": "shell",
    "submitweb": "shell",
    "websub": "shell",
    "websubweb": "shell",
    "livefeed": "shell",
    # Composition roots: build the concrete parts and hand them to each other.
    "wiring": "root",
    "aggregation": "root",  # split from wiring: the poll path
    "webface": "root",  # split from wiring: the web face
    "service": "root",
    "tap": "root",
    "cli": "root",
    "commands": "root",
    "cliargs": "root",  # part of cli, split for size
    "datacommands": "root",  # commands over a planet's data, split from commands
    "reloading": "root",
    "moderation": "root",
}

#: Layers a module may import from, besides itself (and the package's ``__version__``).
MAY_IMPORT: dict[str, set[str]] = {
    "values": {"values"},
    "core": {"values", "core"},
    "store": {"values", "core", "store"},
    "shell": {"values", "core"},
    "root": {"values", "core", "store", "shell", "root"},
}

#: Modules that are parts of one shell, split for size: they may import each other.
PART_OF: dict[str, str] = {
    "bodylimits": "fetch",
    "fetcherrors": "fetch",
    "fetchfile": "fetch",
    "outputs": "web",
    "httpcache": "web",
    "router": "web",
    "guardedfetch": "fetch",
    "submitweb": "web",
    "websubweb": "websub",
    "polldigest": "poller",
    "websearch": "web",
    "webargs": "web",
}

#: A shell may wrap exactly one concrete part of a lower layer: its own backend.
WRAPS: set[tuple[str, str]] = {
    ("dbthreads", "store"),  # runs the SQLite store on threads
    ("pgthreads", "pgstore"),  # runs the PostgreSQL store on threads
    ("pgthreads", "dbthreads"),  # with the same named operations as SQLite's
}

#: Third-party and stdlib modules only some layers may import at run time.
FORBIDDEN_IN: dict[str, set[str]] = {
    "twisted": {"values", "core", "store"},
    "klein": {"values", "core", "store"},
    "treq": {"values", "core", "store"},
    "sqlite3": {"values", "core", "shell", "root"},
    "psycopg": {"values", "core", "shell", "root"},
}


def _runtime_imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every module imported when the file runs: ``if TYPE_CHECKING:`` blocks excluded,
    imports inside functions included (a lazy import is still an import)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module == "planetd":
                for alias in node.names:
                    yield node.lineno, f"planetd.{alias.name}"
            else:
                yield node.lineno, node.module


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _modules() -> list[str]:
    return sorted(p.stem for p in SOURCE.glob("*.py") if p.stem != "__init__")


def violations(module: str, source: str) -> list[str]:
    """What in ``source`` (the text of ``planetd.<module>``) breaks the layer rules."""
    layer = LAYERS[module]
    found = []
    for line, name in _runtime_imports(ast.parse(source)):
        top = name.split(".")[0]
        if top in FORBIDDEN_IN and layer in FORBIDDEN_IN[top]:
            found.append(f"{module}.py:{line}: a {layer} module imports {name}")
        if top != "planetd" or name == "planetd" or name == "planetd.__version__":
            continue
        target = name.split(".")[1]
        if target not in LAYERS:
            continue  # an unknown module fails test_every_module_has_a_layer instead
        same_part = PART_OF.get(module, module) == PART_OF.get(target, target)
        allowed = same_part or (module, target) in WRAPS
        if LAYERS[target] not in MAY_IMPORT[layer] and not allowed:
            found.append(f"{module}.py:{line}: a {layer} module imports {name} ({LAYERS[target]})")
    return found


def test_every_module_has_a_layer() -> None:
    """A module nobody placed in a layer could import anything: each one must be named."""
    assert [m for m in _modules() if m not in LAYERS] == []
    assert [m for m in LAYERS if m not in _modules()] == []


@pytest.mark.parametrize("module", _modules())
def test_module_keeps_to_its_layer(module: str) -> None:
    """The core imports no Twisted and no sqlite3 and no shell; only the store imports
    sqlite3; a shell depends on the seams in boundaries.py, not on another shell's class."""
    if module not in LAYERS:
        pytest.skip(f"{module} has no layer yet (test_every_module_has_a_layer fails)")
    source = (SOURCE / f"{module}.py").read_text(encoding="utf-8")
    assert violations(module, source) == []


@pytest.mark.parametrize(
    ("module", "source", "says"),
    [
        ("river", "import twisted.internet.reactor\n", "a core module imports twisted"),
        ("decide", "def f():\n    import sqlite3\n", "a core module imports sqlite3"),
        ("poller", "from planetd.fetch import Fetcher\n", "a shell module imports planetd.fetch"),
        ("parse", "from planetd import store\n", "a core module imports planetd.store"),
        ("web", "import sqlite3\n", "a shell module imports sqlite3"),
        ("fetchfile", "from planetd.poller import x\n", "a shell module imports planetd.poller"),
        ("boundaries", "from planetd.config import x\n", "a values module imports planetd"),
    ],
)
def test_the_checker_catches_violations(module: str, source: str, says: str) -> None:
    """The checker itself bites: each of these imports is reported."""
    found = violations(module, source)
    assert any(says in v for v in found), found


def test_imports_only_for_type_checking_are_allowed() -> None:
    """Names imported under ``if TYPE_CHECKING:`` cost nothing at run time and are fine."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from twisted.internet.defer import Deferred\n"
    )
    assert violations("boundaries", source) == []


def test_the_design_note_lists_every_module_in_its_layer() -> None:
    """docs/design.md's module table names every module with the layer this test holds it
    to, so the map a newcomer reads first cannot drift from the code."""
    design = (Path(__file__).resolve().parents[1] / "docs" / "design.md").read_text(
        encoding="utf-8"
    )
    rows = {
        cells[1].strip("` "): cells[3].strip()
        for line in design.splitlines()
        if line.startswith("| `") and len(cells := line.split("|")) == 6
    }
    assert {m: rows.get(m) for m in _modules()} == {m: LAYERS.get(m) for m in _modules()}
