"""Exceptions raised by the workflow engine adapter."""

from __future__ import annotations


class BpmnValidationError(Exception):
    """A BPMN definition was rejected; ``errors`` lists every problem found."""

    def __init__(self, errors: list[dict]):
        self.errors = list(errors)
        super().__init__(_summarise(self.errors))


class BpmnTooLarge(BpmnValidationError):
    """The BPMN document exceeds the configured size limit (HTTP 413)."""


class WorkflowError(Exception):
    """A runtime failure of a workflow instance, tied to a BPMN element when known."""

    def __init__(self, message: str, element_id: str | None = None):
        self.message = message
        self.element_id = element_id
        super().__init__(f"{element_id}: {message}" if element_id else message)


class UnsafeExpression(ValueError):
    """An expression uses syntax or names outside the safe allowlist."""


def problem(message: str, element_id: str | None = None, line: int | None = None) -> dict:
    """Build one validation problem record."""
    return {"element_id": element_id, "message": message, "line": line}


def _summarise(errors: list[dict]) -> str:
    if not errors:
        return "invalid BPMN"
    first = errors[0]
    where = f" ({first['element_id']})" if first.get("element_id") else ""
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{first['message']}{where}{more}"
