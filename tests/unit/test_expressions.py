"""The safe expression checker/evaluator accepts the small subset and nothing else."""

from __future__ import annotations

import pytest

from workflows import UnsafeExpression, WorkflowError
from workflows import expressions
from workflows.expressions import ExpressionError, check, evaluate

NAMES = {"ratio": 0.6, "approved": True, "cancelled": False, "count": 3, "items": [1, 2, 3], "label": "会议"}

ACCEPTED = [
    ("ratio > 0.5", True),
    ("voting_feedback_ratio > 0.5", True),
    ("approved", True),
    ("not cancelled", True),
    ("approved and not cancelled", True),
    ("cancelled or count", 3),
    ("1 < count <= 3", True),
    ("count in [1, 2, 3]", True),
    ("count not in (4, 5)", True),
    ("label == '会议'", True),
    ("-count + 10 * 2 // 3 % 4 - 1 / 2", -3 + 2 - 0.5),
    ("len(items) >= 2 if items else False", True),
    ("max(items) + min(1, 2) + abs(-1) + round(2.4)", 7),
    ("int('3') + float(1) + bool(1)", 5.0),
    ("str(count) == '3'", True),
    ("ratio is not None", True),
    ("'P3D'", "P3D"),
    ("'ab' * 3", "ababab"),
]


@pytest.mark.parametrize(("expr", "expected"), ACCEPTED)
def test_accepted_forms_evaluate(expr, expected):
    check(expr)
    assert evaluate(expr, {"voting_feedback_ratio": 0.9, **NAMES}) == expected


HOSTILE = [
    "().__class__",
    "().__class__.__bases__[0].__subclasses__()",
    "__builtins__",
    "__import__('os')",
    "_private",
    "open('/etc/passwd')",
    "getattr(items, 'append')",
    "sentinel()",
    "type(1)",
    "lambda: sentinel()",
    "[sentinel() for x in items]",
    "{sentinel() for x in items}",
    "{x: sentinel() for x in items}",
    "(sentinel() for x in items)",
    "(y := sentinel())",
    "max(*items)",
    "f'{sentinel()}'",
    "max(items, key=sentinel)",
    "import os",
    "sentinel(",
    "1; sentinel()",
    "9 ** 999999999",
    "2 ** 10",
    "'a' * 100000000",
    "'" + "x" * 300 + "'",
    "-" * 50 + "1",
    "(" * 30 + "not " * 30 + "x" + ")" * 30,
    " + ".join(["count"] * 200),
    "items[0]",
    "label.upper()",
    "{'a': 1}",
    "b'bytes'",
    "1j",
    "...",
    "~count",
    "count << 999",
    "count @ count",
    "await sentinel()",
    "yield 1",
]


@pytest.fixture
def sentinel_names():
    """Names including a callable that records being called."""
    calls = []
    return calls, {**NAMES, "x": 1, "sentinel": lambda *a, **k: calls.append(a) or 1}


@pytest.mark.parametrize("expr", HOSTILE)
def test_hostile_rejected_by_check(expr):
    with pytest.raises(UnsafeExpression):
        check(expr)


@pytest.mark.parametrize("expr", HOSTILE)
def test_hostile_rejected_by_evaluate_without_running(expr, sentinel_names):
    calls, names = sentinel_names
    with pytest.raises(UnsafeExpression):
        evaluate(expr, names)
    assert calls == []


def test_data_callables_are_never_called(sentinel_names):
    calls, names = sentinel_names
    check("sentinel")  # a bare name is fine: it is only looked up
    assert evaluate("sentinel", names) is names["sentinel"]
    assert calls == []


def test_unknown_name_is_a_workflow_error_naming_the_expression():
    with pytest.raises(WorkflowError) as info:
        evaluate("voting_feedback_ratio > 0.5", {})
    assert isinstance(info.value, ExpressionError)
    assert "voting_feedback_ratio > 0.5" in info.value.message
    assert not isinstance(info.value, NameError)


@pytest.mark.parametrize("expr", ["1 / 0", "label + 1", "label % 3", "items * 100000", "label > 1"])
def test_runtime_failures_are_expression_errors(expr):
    with pytest.raises(ExpressionError):
        evaluate(expr, NAMES)


def test_runtime_growth_is_bounded():
    names = {"s": "x" * 1000}
    with pytest.raises(ExpressionError):
        evaluate("s + s + s + s + s + s + s + s + s + s + s", names)


def test_parsed_expressions_are_cached():
    expressions._compile.cache_clear()
    for _ in range(5):
        evaluate("approved", NAMES)
    assert expressions._compile.cache_info().hits == 4


def test_non_string_rejected():
    with pytest.raises(UnsafeExpression):
        check(123)  # type: ignore[arg-type]
