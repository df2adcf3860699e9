"""A SpiffWorkflow script engine that can only evaluate allowlisted expressions."""

from __future__ import annotations

from collections import ChainMap

from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition, DurationTimerEventDefinition, TimeDateEventDefinition,
)

from . import expressions
from .errors import WorkflowError

_TIMER_KINDS = (
    (TimeDateEventDefinition, "timeDate"),
    (DurationTimerEventDefinition, "timeDuration"),
    (CycleTimerEventDefinition, "timeCycle"),
)


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
            value = self.environment.evaluate(expression, task.data, external_context)
        except expressions.UnsafeExpression as exc:
            raise WorkflowError(f"unsafe expression {expression!r}: {exc}", _element(task)) from None
        except WorkflowError as exc:
            raise WorkflowError(exc.message, _element(task)) from None
        _check_timer_value(task, expression, value)
        return value

    def execute(self, task, script, external_context=None):
        """Refuse: uploaded BPMN must never run code."""
        raise WorkflowError("script execution is disabled", _element(task))

    def call_service(self, task, **kwargs):
        """Refuse: service tasks are not supported."""
        raise WorkflowError("service calls are disabled", _element(task))


def _check_timer_value(task, expression, value) -> None:
    # SpiffWorkflow parses a timer's value itself: it loops once per month of a
    # duration (P99999999Y hangs the worker) and raises bare Exception on junk.
    definition = getattr(task.task_spec, "event_definition", None)
    if getattr(definition, "expression", None) != expression:
        return
    for cls, kind in _TIMER_KINDS:
        if isinstance(definition, cls):
            problem = expressions.timer_value_problem(kind, value)
            if problem is not None:
                raise WorkflowError(f"timer {expression!r}: {problem}", _element(task))
            return


def _element(task) -> str | None:
    return getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name
