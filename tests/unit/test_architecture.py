"""The import direction of the packages, read from the source with ``ast``.

docs/architecture.md describes the layout; these tests keep it true: a new import that goes
the wrong way, or that closes a circle between modules, fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("standard", "edge", "hub", "web", "provisioning", "hallwatch")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_imports(path: Path, *, runtime_only: bool) -> set[str]:
    """Project modules that ``path`` imports (``if TYPE_CHECKING:`` blocks left out if asked)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    skipped: set[int] = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped.update(id(n) for child in node.body for n in ast.walk(child))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        found.update(name for name in names if name.split(".")[0] in PACKAGES)
    return found


def sources(*packages: str) -> list[Path]:
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py"))


MODULES = {module_name(p): p for p in sources(*PACKAGES)}


def resolve(name: str) -> str | None:
    """The project module an imported name lives in (``edge.store.Store`` -> ``edge.store``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


@pytest.mark.parametrize("path", sources("standard"), ids=lambda p: module_name(p))
def test_standard_imports_nothing_else_of_the_project(path: Path) -> None:
    wrong = {name for name in project_imports(path, runtime_only=False)
             if name.split(".")[0] != "standard"}
    assert not wrong, f"{module_name(path)} imports {sorted(wrong)}"


@pytest.mark.parametrize("path", sources("standard", "edge", "hub", "web"),
                         ids=lambda p: module_name(p))
def test_nothing_that_runs_imports_provisioning(path: Path) -> None:
    wrong = {name for name in project_imports(path, runtime_only=False)
             if name.split(".")[0] == "provisioning"}
    assert not wrong, f"{module_name(path)} imports the technicians' package: {sorted(wrong)}"


def test_capabilities_do_not_import_the_cli() -> None:
    wrong = {module_name(p): sorted(n for n in project_imports(p, runtime_only=False)
                                    if resolve(n) == "edge.cli")
             for p in sources("edge") if module_name(p) != "edge.cli"}
    assert not {m: n for m, n in wrong.items() if n}


def test_web_uses_capability_surfaces_only() -> None:
    """Pages import a capability's package (its __init__), never its modules."""
    capabilities = ("edge.supervision", "edge.presence", "edge.evaluations", "edge.integration")
    wrong = {}
    for path in sources("web"):
        inside = sorted(n for n in project_imports(path, runtime_only=False)
                        for cap in capabilities
                        if (resolve(n) or "").startswith(cap + "."))
        if inside:
            wrong[module_name(path)] = inside
    assert not wrong, wrong


def test_no_import_circles_between_modules() -> None:
    graph = {name: {resolve(n) for n in project_imports(path, runtime_only=True)} - {None, name}
             for name, path in MODULES.items()}
    # A package's __init__ re-exporting its modules is not a circle of its modules.
    for name in graph:
        graph[name] = {dep for dep in graph[name] if not name.startswith(dep + ".")}
    circles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                circles.append(trail[trail.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, trail + [dep])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)
