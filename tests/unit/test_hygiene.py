"""Static guarantees about the workflows package source."""

from __future__ import annotations

import ast
import re
import statistics
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "workflows"
SOURCES = sorted(PACKAGE.rglob("*.py"))
FORBIDDEN_IMPORTS = ("flask", "sqlalchemy", "flask_sqlalchemy", "flask_smorest")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            names.add("<dynamic __import__>")
    return names


def test_sources_found():
    assert len(SOURCES) >= 5


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_web_or_orm_imports(path):
    roots = {name.split(".")[0].lower() for name in _imported_modules(path)}
    assert not roots & set(FORBIDDEN_IMPORTS)
    assert "<dynamic __import__>" not in roots


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_dynamic_code_execution_tokens(path):
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"(?<![\w.])(eval|exec|compile)\(", text)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_modules_are_small(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) < 400


def test_functions_are_small_and_documented():
    lengths, undocumented = [], []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lengths.append(node.end_lineno - node.lineno + 1)
                public = not node.name.startswith("_")
                if public and ast.get_docstring(node) is None:
                    undocumented.append(f"{path.name}:{node.name}")
    assert statistics.median(lengths) <= 12
    assert undocumented == []
