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

FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len, "min": min, "max": max, "abs": abs, "round": round,
    "int": int, "float": float, "str": str, "bool": bool,
}

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
        if node.id.startswith("_"):
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
