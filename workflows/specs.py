"""Turning a validated BPMN tree into SpiffWorkflow specs, and caching them."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.exceptions import SpiffWorkflowException

from .errors import BpmnValidationError, problem


@dataclass(frozen=True)
class CompiledSpec:
    """A parsed process: the SpiffWorkflow specs plus metadata SpiffWorkflow drops."""

    key: str
    spec: object
    subprocess_specs: dict
    due: dict[str, str]


def build_specs(root: etree._Element, process_id: str) -> tuple[object, dict]:
    """Parse the (already validated) lxml tree with CamundaParser."""
    parser = CamundaParser()
    try:
        parser.add_bpmn_xml(root, filename=process_id)
        spec = parser.get_spec(process_id)
        return spec, parser.get_subprocess_specs(process_id)
    except ValidationException as exc:
        line = exc.line_number if isinstance(exc.line_number, int) else None
        raise BpmnValidationError([problem(str(exc), exc.id or None, line)]) from None
    except (SpiffWorkflowException, ValueError, KeyError, TypeError) as exc:
        raise BpmnValidationError([problem(f"cannot build process: {exc}", process_id)]) from None


class SpecCache:
    """Thread-safe bounded LRU of CompiledSpec keyed by (key, version)."""

    def __init__(self, maxsize: int = 128) -> None:
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[tuple[str, int], CompiledSpec] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple[str, int], threading.Lock] = {}

    def get(self, key: tuple[str, int], build: Callable[[], CompiledSpec]) -> CompiledSpec:
        """Return the cached spec, building it (once, even under concurrency) on a miss."""
        found = self._lookup(key)
        if found is not None:
            return found
        with self._key_lock(key):
            found = self._lookup(key, count=False)
            if found is not None:
                return found
            compiled = build()
            self._store(key, compiled)
            return compiled

    def __len__(self) -> int:
        return len(self._items)

    def _lookup(self, key, count: bool = True) -> CompiledSpec | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
            elif count:
                self.misses += 1
            return found

    def _key_lock(self, key) -> threading.Lock:
        with self._lock:
            return self._loading.setdefault(key, threading.Lock())

    def _store(self, key, compiled: CompiledSpec) -> None:
        with self._lock:
            self._items[key] = compiled
            self._items.move_to_end(key)
            self._loading.pop(key, None)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
