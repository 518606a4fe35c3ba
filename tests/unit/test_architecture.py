"""The house rules of docs/architecture.md, checked on the code itself."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 800


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for top in ("shared", "services"):
        for path in (ROOT / top).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module of ours that `name` imports, wherever the import stands (deferred and
    TYPE_CHECKING imports count: they are dependencies all the same)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        for imported in names:
            while imported and imported not in MODULES:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                found.add(imported)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _service(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "services" and len(parts) > 1 else None


def test_no_service_imports_another_and_shared_imports_no_service() -> None:
    crossing = sorted(
        f"{a} -> {b}"
        for a, targets in GRAPH.items()
        for b in targets
        if _service(b) is not None and _service(a) != _service(b)
    )
    assert crossing == []


def test_no_import_cycles() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in GRAPH:
        if node not in index:
            visit(node)
    assert cycles == []


def test_no_module_is_over_800_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in MODULES.values()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def _typed(schema: dict[str, Any]) -> bool:
    """A schema an integrator can code against: a model, or a list or union of models."""
    if "$ref" in schema or "properties" in schema:
        return True
    if schema.get("type") == "array":
        return _typed(schema.get("items", {}))
    union = schema.get("anyOf") or schema.get("oneOf")
    return bool(union) and all(_typed(s) or s.get("type") == "null" for s in union)


@pytest.mark.parametrize("service", ["intake", "verification", "routing", "sla", "notify"])
def test_every_route_declares_a_typed_response(service: str, tmp_path: Path) -> None:
    """In the OpenAPI document every operation names what its success looks like: a JSON model
    (never a bare object or `dict[str, Any]`), or another media type (HTML, XML, a file)."""
    from importlib import import_module

    from shared.settings import Settings

    settings = Settings(data_dir=tmp_path, secret_key="architecture-test")
    app = import_module(f"services.{service}.bootstrap").create_app(settings, in_process=True)
    untyped: list[str] = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            successes = {
                code: response
                for code, response in operation.get("responses", {}).items()
                if code.startswith("2")
            }
            fine = bool(successes) and all(
                code == "204"
                or (
                    "content" in response
                    and all(
                        _typed(body.get("schema", {})) or media != "application/json"
                        for media, body in response["content"].items()
                    )
                )
                for code, response in successes.items()
            )
            if not fine:
                untyped.append(f"{method.upper()} {path}")
    assert untyped == []


def _architecture_doc() -> str:
    return (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def test_the_map_has_a_line_for_every_package() -> None:
    """docs/architecture.md's map stays the code's map: every folder of `shared/` and
    `services/` that holds Python modules has its own entry."""
    block = _architecture_doc().split("## The map", 1)[1].split("```")[1]
    entries = {line.split()[0].rstrip("/") for line in block.splitlines() if line[:1].strip()}
    packages = {
        str(path.parent.relative_to(ROOT))
        for top in ("shared", "services")
        for path in (ROOT / top).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert sorted(packages - entries) == []


def test_the_path_of_a_report_names_modules_that_exist() -> None:
    """Every module the path of one report names by its path is there."""
    import re

    path_section = _architecture_doc().split("## The path of one report", 1)[1]
    named = set(re.findall(r"`((?:shared|services)/[\w/]+\.py)`", path_section))
    assert named, "the path names no module"
    assert sorted(name for name in named if not (ROOT / name).is_file()) == []
