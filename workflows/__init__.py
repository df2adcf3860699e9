"""BPMN engine adapter: validates untrusted BPMN and runs it on SpiffWorkflow safely.

This package must not depend on Flask or SQLAlchemy; the service layer owns I/O.
"""

from .engine import ROLE_LANES, DefinitionInfo, Engine, Instance, ReadyTask
from .migration import MigrationRefused
from .errors import BpmnTooLarge, BpmnValidationError, UnsafeExpression, WorkflowError
from .state import SERIALIZER_VERSION

__all__ = [
    "ROLE_LANES", "BpmnTooLarge", "BpmnValidationError", "DefinitionInfo", "Engine", "Instance",
    "MigrationRefused", "ReadyTask", "SERIALIZER_VERSION", "UnsafeExpression", "WorkflowError",
]
