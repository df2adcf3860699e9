"""rules/ stays pure: no web framework, no ORM, no dynamic code, small documented modules."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "rules"
SOURCES = sorted(PACKAGE.rglob("*.py"))
FORBIDDEN = {"flask", "sqlalchemy", "flask_sqlalchemy", "flask_smorest", "service", "workflows"}


def _imported_roots(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("__import__", "import_module"):
            names.add("<dynamic import>")
    return {name.split(".")[0].lower() for name in names}


def test_sources_found():
    assert {p.name for p in SOURCES} >= {"periods.py", "model.py", "kinds.py", "scoring.py", "rollup.py",
                                         "compliance.py", "sets.py"}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_web_orm_or_service_imports(path):
    roots = _imported_roots(path)
    assert not roots & FORBIDDEN
    assert "<dynamic import>" not in roots


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_dynamic_code_and_small_modules(path):
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"(?<![\w.])(eval|exec|compile)\(", text)
    assert len(text.splitlines()) < 400


def test_public_functions_documented():
    undocumented = [f"{path.name}:{node.name}" for path in SOURCES
                    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                    if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_")
                    and ast.get_docstring(node) is None]
    assert undocumented == []


@pytest.mark.parametrize("path", sorted((PACKAGE / "data").glob("*.json")), ids=lambda p: p.name)
def test_data_files_are_json_objects(path):
    assert isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
