"""Import direction: the core (`curate/`) imports no wing, and the wings do not import each other.

    pipelines (recipes)  ->  filters, synth (wings)  ->  curate (core)

Only the composition root, `curate/cli.py`, may import recipes and wings (it wires them into commands).
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMPOSITION_ROOT = {"curate/cli.py"}
# package -> the top-level packages of this repository it must not import
FORBIDDEN = {
    "curate": {"filters", "synth", "pipelines"},
    "filters": {"synth", "pipelines"},
    "synth": {"filters", "pipelines"},
}


def imported_packages(path: Path) -> set[str]:
    """Top-level names of every module `path` imports, at module level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def violations(repo: Path = REPO) -> list[str]:
    found = []
    for package, forbidden in FORBIDDEN.items():
        for path in sorted((repo / package).rglob("*.py")):
            relative = path.relative_to(repo).as_posix()
            if relative in COMPOSITION_ROOT:
                continue
            for name in sorted(imported_packages(path) & forbidden):
                found.append(f"{relative} imports {name}")
    return found


def test_core_imports_no_wing_and_wings_do_not_import_each_other():
    assert violations() == []


def test_the_walk_sees_imports_inside_functions(tmp_path):
    (tmp_path / "curate").mkdir()
    (tmp_path / "curate" / "x.py").write_text("def f():\n    from filters.stages import filters_stage\n")
    (tmp_path / "synth").mkdir()
    (tmp_path / "synth" / "y.py").write_text("import filters.packaged\nfrom . import prompts\n")
    (tmp_path / "filters").mkdir()
    (tmp_path / "filters" / "z.py").write_text("from curate.record import scores\n")
    assert violations(tmp_path) == ["curate/x.py imports filters", "synth/y.py imports filters"]
