"""Safe evaluation of BPMN condition and timer expressions.

BPMN files are uploaded by admins and therefore untrusted, so expressions are
never handed to Python's compiler-backed evaluation.  They are parsed with
``ast.parse`` and walked by a small interpreter that knows only an allowlist of
node types, names and functions.
"""

from __future__ import annotations

import ast
import functools
import operator
import re
from datetime import datetime, timezone
from collections.abc import Mapping
from typing import Any, Callable

from .errors import UnsafeExpression, WorkflowError

MAX_EXPRESSION_LENGTH = 500
MAX_STRING_CONSTANT = 200
MAX_DEPTH = 20
MAX_NODES = 120
# Bounds what ``*`` and ``+`` may build, so data cannot be blown up in memory.
MAX_SEQUENCE_RESULT = 10_000
MAX_INT_BITS = 256
MAX_ROUND_DIGITS = 20


def _round(number: Any, ndigits: Any = None) -> Any:
    # ``round(5, -10**9)`` computes 10**10**9: bound the digits before Python tries.
    if ndigits is not None and (not isinstance(ndigits, int) or abs(ndigits) > MAX_ROUND_DIGITS):
        raise ValueError(f"round() digits must be an integer within +/-{MAX_ROUND_DIGITS}")
    return round(number, ndigits)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len, "min": min, "max": max, "abs": abs, "round": _round,
    "int": int, "float": float, "str": str, "bool": bool,
}
# Names that can only be a mistake or a probe for the engine's internals: a
# condition reads task data, never builtins or the objects around it.
RESERVED_NAMES = frozenset({
    "eval", "exec", "compile", "open", "getattr", "setattr", "delattr", "hasattr", "globals", "locals",
    "vars", "dir", "breakpoint", "input", "help", "exit", "quit", "memoryview", "object", "super",
    "classmethod", "staticmethod", "property", "builtins", "self", "cls", "task", "my_task", "workflow",
    "script_engine", "environment", "spec", "os", "sys", "subprocess", "importlib",
})

_BIN_OPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_UNARY_OPS = {ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos}
_CMP_OPS = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b, ast.Is: operator.is_, ast.IsNot: operator.is_not,
}
_CONSTANT_TYPES = (bool, int, float, str, type(None))
# Operator and context nodes are vetted by their parent's handler, not walked.
_MARKER_NODES = (ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop)


class ExpressionError(WorkflowError):
    """Evaluating an (already checked) expression failed at run time."""


def check(expr: str) -> None:
    """Raise UnsafeExpression unless ``expr`` is within the safe subset."""
    _compile(expr)


def free_names(expr: str) -> set[str]:
    """The data names a (checked) expression reads; empty for a constant expression."""
    tree = _compile(expr)
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called}


def evaluate(expr: str, names: Mapping[str, Any]) -> Any:
    """Evaluate a checked expression against ``names``; failures raise ExpressionError."""
    tree = _compile(expr)
    try:
        return _Evaluator(expr, names).visit(tree.body)
    except ExpressionError:
        raise
    except (ArithmeticError, TypeError, ValueError, RecursionError) as exc:
        raise ExpressionError(f"cannot evaluate {expr!r}: {type(exc).__name__}: {exc}") from None


@functools.lru_cache(maxsize=1024)
def _compile(expr: str) -> ast.Expression:
    if not isinstance(expr, str):
        raise UnsafeExpression("expression must be a string")
    if len(expr) > MAX_EXPRESSION_LENGTH:
        raise UnsafeExpression(f"expression longer than {MAX_EXPRESSION_LENGTH} characters")
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise UnsafeExpression(f"invalid expression syntax: {exc}") from None
    _Checker().check(tree.body)
    return tree


class _Checker:
    """Walks an AST and rejects any node outside the allowlist."""

    def __init__(self) -> None:
        self.count = 0

    def check(self, node: ast.AST, depth: int = 0) -> None:
        """Reject ``node`` or any descendant outside the allowlist or size limits."""
        self.count += 1
        if depth > MAX_DEPTH:
            raise UnsafeExpression("expression nested too deeply")
        if self.count > MAX_NODES:
            raise UnsafeExpression("expression too long")
        handler = getattr(self, f"_{type(node).__name__}", None)
        if handler is None:
            raise UnsafeExpression(f"{type(node).__name__} is not allowed in expressions")
        handler(node)
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, _MARKER_NODES):
                self.check(child, depth + 1)

    def _Name(self, node: ast.Name) -> None:
        if node.id.startswith("_") or node.id in RESERVED_NAMES or not node.id.isidentifier():
            raise UnsafeExpression(f"name {node.id!r} is not allowed")

    def _Constant(self, node: ast.Constant) -> None:
        if type(node.value) not in _CONSTANT_TYPES:
            raise UnsafeExpression(f"constant of type {type(node.value).__name__} is not allowed")
        if isinstance(node.value, str) and len(node.value) > MAX_STRING_CONSTANT:
            raise UnsafeExpression("string constant too long")
        if isinstance(node.value, int) and node.value.bit_length() > MAX_INT_BITS:
            raise UnsafeExpression("integer constant too large")

    def _BinOp(self, node: ast.BinOp) -> None:
        if type(node.op) not in _BIN_OPS:
            raise UnsafeExpression(f"operator {type(node.op).__name__} is not allowed")
        if isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
            raise UnsafeExpression("string formatting is not allowed")
        operands = [node.left, node.right]
        if all(isinstance(n, ast.Constant) for n in operands):
            try:  # constant operands: reject blow-ups before anything runs
                _guard_binop(node.op, node.left.value, node.right.value)
            except ExpressionError as exc:
                raise UnsafeExpression(exc.message) from None

    def _UnaryOp(self, node: ast.UnaryOp) -> None:
        if type(node.op) not in _UNARY_OPS:
            raise UnsafeExpression(f"operator {type(node.op).__name__} is not allowed")

    def _Compare(self, node: ast.Compare) -> None:
        for op in node.ops:
            if type(op) not in _CMP_OPS:
                raise UnsafeExpression(f"comparison {type(op).__name__} is not allowed")

    def _Call(self, node: ast.Call) -> None:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise UnsafeExpression(f"call of {ast.unparse(node.func)!r} is not allowed")
        if node.keywords:
            raise UnsafeExpression("keyword arguments are not allowed")
        digits = node.args[1] if node.func.id == "round" and len(node.args) > 1 else None
        if isinstance(digits, ast.UnaryOp) and isinstance(digits.operand, ast.Constant):
            digits = digits.operand
        if isinstance(digits, ast.Constant) and isinstance(digits.value, int) and abs(digits.value) > MAX_ROUND_DIGITS:
            raise UnsafeExpression(f"round() digits must be within +/-{MAX_ROUND_DIGITS}")

    def _BoolOp(self, node: ast.BoolOp) -> None:
        """Operands are checked by the generic walk."""

    def _IfExp(self, node: ast.IfExp) -> None:
        """Operands are checked by the generic walk."""

    def _List(self, node: ast.List) -> None:
        """Elements are checked by the generic walk (Starred has no handler)."""

    def _Tuple(self, node: ast.Tuple) -> None:
        """Elements are checked by the generic walk (Starred has no handler)."""


class _Evaluator:
    """Interprets a checked AST; only node types accepted by _Checker reach here."""

    def __init__(self, expr: str, names: Mapping[str, Any]) -> None:
        self.expr = expr
        self.names = names

    def visit(self, node: ast.AST) -> Any:
        """Evaluate one node."""
        return getattr(self, f"_{type(node).__name__}")(node)

    def _Name(self, node: ast.Name) -> Any:
        try:
            return self.names[node.id]
        except KeyError:
            raise ExpressionError(f"unknown name {node.id!r} in expression {self.expr!r}") from None

    def _Constant(self, node: ast.Constant) -> Any:
        return node.value

    def _BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.visit(node.left), self.visit(node.right)
        _guard_binop(node.op, left, right)
        return _bounded(_BIN_OPS[type(node.op)](left, right))

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        return _UNARY_OPS[type(node.op)](self.visit(node.operand))

    def _BoolOp(self, node: ast.BoolOp) -> Any:
        is_and = isinstance(node.op, ast.And)
        value = None
        for operand in node.values:
            value = self.visit(operand)
            if bool(value) != is_and:  # short-circuit exactly like Python
                return value
        return value

    def _Compare(self, node: ast.Compare) -> bool:
        left = self.visit(node.left)
        for op, comparator in zip(node.ops, node.comparators):
            right = self.visit(comparator)
            if not _CMP_OPS[type(op)](left, right):
                return False
            left = right
        return True

    def _IfExp(self, node: ast.IfExp) -> Any:
        return self.visit(node.body) if self.visit(node.test) else self.visit(node.orelse)

    def _List(self, node: ast.List) -> list:
        return [self.visit(item) for item in node.elts]

    def _Tuple(self, node: ast.Tuple) -> tuple:
        return tuple(self.visit(item) for item in node.elts)

    def _Call(self, node: ast.Call) -> Any:
        args = [self.visit(arg) for arg in node.args]
        return _bounded(FUNCTIONS[node.func.id](*args))


def _guard_binop(op: ast.operator, left: Any, right: Any) -> None:
    # String ``%`` is printf formatting, which can allocate arbitrarily wide output.
    if isinstance(op, ast.Mod) and isinstance(left, (str, bytes)):
        raise ExpressionError("string formatting is not allowed")
    if isinstance(op, ast.Mult):
        sizes = [len(v) for v in (left, right) if isinstance(v, (str, list, tuple))]
        counts = [v for v in (left, right) if isinstance(v, int)]
        if sizes and counts and sizes[0] * max(counts[0], 0) > MAX_SEQUENCE_RESULT:
            raise ExpressionError("sequence repetition too large")


def _bounded(value: Any) -> Any:
    if isinstance(value, (str, list, tuple)) and len(value) > MAX_SEQUENCE_RESULT:
        raise ExpressionError("expression result too large")
    if isinstance(value, int) and value.bit_length() > 4 * MAX_INT_BITS:
        raise ExpressionError("integer result too large")
    return value


# --- timer values -------------------------------------------------------------
# What a timer expression may evaluate to.  SpiffWorkflow's own ISO 8601 parsing
# loops once per month of a duration and raises bare ``Exception`` on bad input,
# so values are vetted here first: at upload for constants, at run time for data.
ISO_DURATION = re.compile(
    r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
    r"(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)
ISO_CYCLE = re.compile(r"^R(\d*)/(P.*)$")
MAX_TIMER_SECONDS = 10 * 366 * 86400  # ten years
MIN_CONSTANT_TIMER_SECONDS = 60  # a constant timer shorter than this is a typo or a busy loop
MAX_CYCLE_REPEATS = 100
_DURATION_SECONDS = (366 * 86400, 31 * 86400, 7 * 86400, 86400, 3600, 60, 1)


def duration_seconds(text: str) -> float:
    """Seconds of an ISO 8601 duration (years and months counted long); ValueError if malformed."""
    match = ISO_DURATION.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{_short(text)} is not an ISO 8601 duration such as 'PT2H' or 'P3D'")
    parts = match.groups()
    if parts[2] is not None and any(p is not None for p in (parts[0], parts[1], parts[3])):
        raise ValueError(f"{_short(text)} mixes weeks with years, months or days")
    return sum(float(p) * unit for p, unit in zip(parts, _DURATION_SECONDS) if p is not None)


def constant_timer_problem(kind: str, expr: str) -> str | None:
    """For a checked timer expression that reads no data: why its value cannot drive the timer, or None."""
    try:
        value = evaluate(expr, {})
    except ExpressionError as exc:
        return exc.message
    return timer_value_problem(kind, value, constant=True)


def timer_value_problem(kind: str, value: Any, *, constant: bool = False) -> str | None:
    """Why ``value`` cannot drive a ``kind`` timer (timeDate/timeDuration/timeCycle), or None."""
    if not isinstance(value, str):
        return f"{kind} must be a string, not {type(value).__name__}"
    text = value.strip()
    try:
        if kind == "timeDate":
            return _date_problem(text)
        if kind == "timeDuration":
            return _duration_problem(text, MIN_CONSTANT_TIMER_SECONDS if constant else 0)
        if kind == "timeCycle":
            return _cycle_problem(text)
    except (ValueError, OverflowError) as exc:
        return f"{kind} {_short(value)} is invalid: {exc}"
    return f"unknown timer kind {kind!r}"


def _date_problem(text: str) -> str | None:
    if text.upper().startswith("P") or "W" in text.upper():
        return f"timeDate {_short(text)} must be an ISO 8601 date-time such as '2030-01-01T09:00:00+08:00'"
    datetime.fromisoformat(text).astimezone(timezone.utc)  # what SpiffWorkflow will do with it
    return None


def _duration_problem(text: str, minimum: float) -> str | None:
    seconds = duration_seconds(text)
    if seconds > MAX_TIMER_SECONDS:
        return f"timeDuration {_short(text)} is longer than ten years"
    if seconds < minimum:
        return f"timeDuration {_short(text)} is shorter than {minimum:g} seconds"
    return None


def _cycle_problem(text: str) -> str | None:
    match = ISO_CYCLE.match(text)
    if match is None:
        return f"timeCycle {_short(text)} must look like 'R3/P1D' (a bounded count and a duration)"
    repeats, duration = match.groups()
    if not repeats or not 1 <= int(repeats) <= MAX_CYCLE_REPEATS:
        return f"timeCycle {_short(text)} must repeat between 1 and {MAX_CYCLE_REPEATS} times"
    return _duration_problem(duration, MIN_CONSTANT_TIMER_SECONDS)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"
