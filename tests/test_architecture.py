"""Import direction: the core (`curate/`) imports no wing, and the wings do not import each other.

    pipelines (recipes)  ->  filters, synth (wings)  ->  curate (core)

The wings install inside the core's package (`curate.filters`, `curate.synth`, `curate.pipelines`:
pyproject's package-dir), so imports name them so; the rules are about the folders.
Only the composition root, `curate/cli.py`, may import recipes and wings (it wires them into commands).
Inside the core, the base at its root (record, options, errors, steps, wiring, ...) imports none of the
concern subpackages (`curate/pdf`, `curate/run`, `curate/output`, `curate/web`), and no module imports
itself back through others: no import circle anywhere, imports inside functions and type-only ones included.
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


WINGS = ("filters", "synth", "pipelines")


def installed_name(relative: Path) -> str:
    """The module name of a file (relative to the repository) once installed: wings inside `curate`."""
    parts = relative.with_suffix("").parts
    name = ".".join(("curate", *parts) if parts[0] in WINGS else parts)
    return name.removesuffix(".__init__")


def folder_of(module: str) -> str:
    """The repository folder a module name comes from: `curate.synth.x` -> synth, `curate.x` -> curate."""
    parts = module.split(".")
    return parts[1] if parts[0] == "curate" and len(parts) > 1 and parts[1] in WINGS else parts[0]


def imported_packages(path: Path) -> set[str]:
    """The folders of every module `path` imports, at module level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(folder_of(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(folder_of(node.module))
            if node.module == "curate":  # from curate import synth
                names.update(folder_of(f"curate.{alias.name}") for alias in node.names)
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


PACKAGES = ("curate", "filters", "synth", "pipelines", "benchmarks")
CONCERNS = ("curate.pdf", "curate.run", "curate.output", "curate.web")


def module_graph(repo: Path = REPO) -> dict[str, set[str]]:
    """Each module of the project -> the project modules it imports (`from a.b import c` is `a.b.c` when
    that is a module, else `a.b`), at module level, inside functions or under TYPE_CHECKING."""
    modules = {}
    for package in PACKAGES:
        for path in (repo / package).rglob("*.py"):
            modules[installed_name(path.relative_to(repo))] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets.update(f"{node.module}.{alias.name}" for alias in node.names)
                targets.add(node.module)
        graph[name] = {t for t in targets if t in modules and t != name and not name.startswith(t + ".")}
        # `from a.b import c` where c is a module: the edge is to a.b.c, not to the package a.b
        graph[name] -= {t for t in graph[name] if any(u.startswith(t + ".") for u in graph[name])}
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def test_no_import_circles():
    assert import_circles(module_graph()) == []


def test_the_base_imports_no_concern_subpackage():
    graph = module_graph()
    base = [
        m for m in graph
        if m.count(".") == 1 and m.startswith("curate.") and m != "curate.cli" and folder_of(m) == "curate"
    ]  # fmt: skip
    found = {m: sorted(t for t in graph[m] if t.startswith(CONCERNS)) for m in base}
    assert {m: t for m, t in found.items() if t} == {}


def test_the_circle_finder_finds_a_circle_through_a_function_import(tmp_path):
    (tmp_path / "curate").mkdir()
    (tmp_path / "curate" / "a.py").write_text("from curate.b import x\n")
    (tmp_path / "curate" / "b.py").write_text("def f():\n    from curate import a\n")
    assert import_circles(module_graph(tmp_path)) == [["curate.a", "curate.b"]]


def test_the_walk_sees_imports_inside_functions(tmp_path):
    (tmp_path / "curate").mkdir()
    (tmp_path / "curate" / "x.py").write_text("def f():\n    from curate.filters.stages import filters_stage\n")
    (tmp_path / "synth").mkdir()
    (tmp_path / "synth" / "y.py").write_text("import curate.filters.packaged\nfrom . import prompts\n")
    (tmp_path / "filters").mkdir()
    (tmp_path / "filters" / "z.py").write_text("from curate.record import scores\n")
    assert violations(tmp_path) == ["curate/x.py imports filters", "synth/y.py imports filters"]
