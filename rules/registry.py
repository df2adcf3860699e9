"""The registry of rule kinds: small classes behind one interface, looked up by name.

A rule (data) names its kind; the kind (code) decides how many points one event is worth before the cap.
Caps, duplicate events and the ledger rows are the scorer's business, so a kind stays a few lines.
Admins may change a rule's points, cap and enabled flag, never its kind: the logic is code.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, ClassVar

if TYPE_CHECKING:  # annotations only; model imports this module
    from .model import Event, Moment, Rule
    from .state import ScoreState, StateKeys

KINDS: dict[str, "RuleKind"] = {}


class RuleKind:
    """The one interface every rule kind implements."""

    name: ClassVar[str] = ""
    units: ClassVar[frozenset[str]] = frozenset({"event"})

    def check(self, rule: Rule) -> None:
        """Raise ValueError when a rule's data does not suit this kind."""
        if rule.unit not in self.units:
            raise ValueError(f"rule {rule.id}: kind {self.name!r} needs unit in {sorted(self.units)}")

    def award(self, rule: Rule, event: Event, when: Moment, state: ScoreState) -> int:
        """Points the event earns under the rule before the cap; may update kind-specific state."""
        raise NotImplementedError

    def keys(self, rule: Rule, event: Event, when: Moment, keys: StateKeys) -> None:
        """Add the kind-specific state rows award() will read for this event (none by default)."""


def register(name: str) -> Callable[[type[RuleKind]], type[RuleKind]]:
    """Class decorator: register one instance of a RuleKind under a name."""
    def decorate(cls: type[RuleKind]) -> type[RuleKind]:
        """Register the class and hand it back unchanged."""
        if name in KINDS:
            raise ValueError(f"rule kind {name!r} registered twice")
        cls.name = name
        KINDS[name] = cls()
        return cls
    return decorate


def kind_of(name: str) -> RuleKind:
    """The registered kind of that name; ValueError for an unknown one."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown rule kind {name!r}; one of {sorted(KINDS)}") from None
