"""What each BPMN user task does: camunda:formKey names an action registered here.

An action validates the submitted data with its schema, performs its side effects inside the
task-completion transaction, and returns the variables downstream gateways may read.
"""
from dataclasses import dataclass
from typing import Any, Callable

from marshmallow import Schema, fields


@dataclass
class ActionContext:
    """What an action gets to work with."""

    user: Any          # the completing User
    task: Any          # the HumanTask row
    instance: Any      # the ProcessInstance row
    subject: Any       # the domain row the process is about (Meeting, ...)
    variables: dict    # process variables before this task


@dataclass(frozen=True)
class Action:
    name: str
    schema: type[Schema]
    handler: Callable[[ActionContext, dict], dict]
    subject_kinds: tuple[str, ...]
    description: str
    sets: tuple[str, ...] = ()  # the process variables it returns, for gateways (documented vocabulary)


REGISTRY: dict[str, Action] = {}


def action(name: str, schema: type[Schema], subject_kinds=("meeting",), description: str = "",
           sets: tuple[str, ...] = ()):
    """Register a handler under a formKey; ``sets`` names the variables it returns for gateways."""

    def register(fn):
        REGISTRY[name] = Action(name, schema, fn, tuple(subject_kinds), description or (fn.__doc__ or "").strip(),
                                tuple(sets))
        return fn

    return register


class NoData(Schema):
    """Actions that take no input."""


_FIELD_TYPES = {fields.String: "string", fields.Boolean: "boolean", fields.Integer: "integer",
                fields.Float: "number", fields.AwareDateTime: "datetime", fields.DateTime: "datetime",
                fields.List: "list"}


def form_fields(name: str) -> list[dict]:
    """Describe an action's input for clients: [{name, type, required}]."""
    schema = REGISTRY[name].schema()
    return [{"name": key, "type": _type_name(f), "required": f.required}
            for key, f in schema.fields.items() if not f.dump_only]


def _type_name(field) -> str:
    return next((t for cls, t in _FIELD_TYPES.items() if isinstance(field, cls)), "string")


def vocabulary() -> list[dict]:
    """Every action for BPMN authors: formKey name, what it works on, the variables it sets, its input."""
    return [{"name": a.name, "subject_kinds": list(a.subject_kinds), "sets": list(a.sets),
             "description": a.description, "fields": form_fields(a.name)}
            for a in sorted(REGISTRY.values(), key=lambda a: a.name)]


def names() -> frozenset[str]:
    """Every registered action name."""
    return frozenset(REGISTRY)


from . import appraisal, meeting, review, transfer  # noqa: E402,F401  (registers the actions)
