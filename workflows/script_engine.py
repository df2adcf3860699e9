"""A SpiffWorkflow script engine that can only evaluate allowlisted expressions."""

from __future__ import annotations

from collections import ChainMap

from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from . import expressions
from .errors import WorkflowError


class SafeEnvironment(BasePythonScriptEngineEnvironment):
    """Evaluates expressions with the AST allowlist; never runs scripts or services."""

    def evaluate(self, expression, context, external_context=None):
        """Evaluate ``expression`` over task data (and data objects) safely."""
        names = ChainMap(context, external_context or {})
        return expressions.evaluate(expression, names)

    def execute(self, script, context, external_context=None):
        """Refuse: uploaded BPMN must never run code."""
        raise WorkflowError("script execution is disabled")

    def call_service(self, context, **kwargs):
        """Refuse: service tasks are not supported."""
        raise WorkflowError("service calls are disabled")


class SafeScriptEngine(PythonScriptEngine):
    """Script engine wired to SafeEnvironment that reports failures as WorkflowError."""

    def __init__(self) -> None:
        super().__init__(environment=SafeEnvironment())

    def validate(self, expression):
        """Check an expression against the allowlist (raises UnsafeExpression)."""
        expressions.check(expression)

    def evaluate(self, task, expression, external_context=None):
        """Evaluate for ``task``; errors name the BPMN element."""
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except expressions.UnsafeExpression as exc:
            raise WorkflowError(f"unsafe expression {expression!r}: {exc}", _element(task)) from None
        except WorkflowError as exc:
            raise WorkflowError(exc.message, _element(task)) from None

    def execute(self, task, script, external_context=None):
        """Refuse: uploaded BPMN must never run code."""
        raise WorkflowError("script execution is disabled", _element(task))

    def call_service(self, task, **kwargs):
        """Refuse: service tasks are not supported."""
        raise WorkflowError("service calls are disabled", _element(task))


def _element(task) -> str | None:
    return getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name
