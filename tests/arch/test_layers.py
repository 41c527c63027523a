"""The layering, read from the imports (at any depth, functions included):
- the library packages import nothing from the app (`agent`);
- the app's modules import each other without cycles."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIBRARIES = ("speech", "nlu", "dialogs", "scripts_library", "telephony_adapter")
APP = "agent"

# Known exceptions, each named with its reason (the test below fails on an entry that no longer imports
# the app, so the list cannot go stale). None today.
KNOWN_LIBRARY_TO_APP: set[str] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, module: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of every import in a file, at any depth; `from a import b` yields a.b
    as well as a; `importlib.import_module("a.b")` with a literal name counts as an import."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = (module or _module_name(path)).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))
                and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            out.append((node.lineno, node.args[0].value))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.append((node.lineno, module))
            out += [(node.lineno, f"{module}.{alias.name}") for alias in node.names if alias.name != "*"]
    return out


def _files(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


def library_to_app_imports() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for package in LIBRARIES:
        for path in _files(package):
            hits = sorted({f"{line}: {name}" for line, name in imported_modules(path)
                           if name == APP or name.startswith(APP + ".")})
            if hits:
                found[str(path.relative_to(ROOT))] = hits
    return found


def app_import_graph() -> dict[str, set[str]]:
    """Module -> the app modules it imports (names resolved to existing modules)."""
    modules = {_module_name(p): p for p in _files(APP)}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for _, imported in imported_modules(path):
            while imported and imported not in modules:  # `from a.b import f`: a.b is the module
                imported = imported.rpartition(".")[0]
            if imported and imported != name and not name.startswith(imported + "."):
                targets.add(imported)  # (a package's own __init__ imported by its modules is no cycle)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_libraries_import_nothing_from_the_app():
    found = library_to_app_imports()
    unexpected = {f: hits for f, hits in found.items() if f not in KNOWN_LIBRARY_TO_APP}
    assert not unexpected, f"library modules importing {APP}: {unexpected}; take options and raise own errors"


def test_known_exceptions_are_still_needed():
    stale = sorted(KNOWN_LIBRARY_TO_APP - set(library_to_app_imports()))
    assert not stale, f"{stale} no longer import {APP}: delete them from KNOWN_LIBRARY_TO_APP"


def test_the_app_has_no_import_cycles():
    assert cycles(app_import_graph()) == []


def test_the_checks_can_fail(tmp_path):
    """The helpers see imports inside functions, relative and dynamic ones, and a two-module cycle."""
    nested = tmp_path / "mod.py"
    nested.write_text("def f():\n    from agent.errors import UserError\n    from . import sib\n"
                      "    importlib.import_module('agent.cli')\n")
    found = imported_modules(nested, "speech.mod")
    assert (2, "agent.errors") in found and (3, "speech.sib") in found and (4, "agent.cli") in found
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
