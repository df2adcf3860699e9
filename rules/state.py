"""What the caps need to remember between batches, and which of it one batch needs.

The service keeps these counters in the database. Before scoring a batch it asks `state_keys(events, rules)`
which rows the batch can touch, loads just those into a `ScoreState` (plus which of the batch's event ids it
has already stored, into `seen`), scores, then writes the same keys back and stores `accepted` as seen ids.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable

PointsKey = tuple[Hashable, str, str]      # (target id, rule id, China period label) -> points awarded
VideoKey = tuple[Hashable, str]            # (member id, video id) -> highest saved position, seconds
DayKey = tuple[Hashable, str]              # (member id, China day label) -> credited video seconds


@dataclass
class ScoreState:
    """Counters for caps and video progress, plus event ids already scored.

    `seen` holds the ids the caller knows were scored before (it loads them for the batch's `event_ids`);
    `score()` skips those, adds every newly accepted id to `seen` and appends it to `accepted`, so a
    duplicate inside one batch is skipped too. Only capped rules have `points` entries.
    """

    points: dict[PointsKey, int] = field(default_factory=dict)
    video_positions: dict[VideoKey, int] = field(default_factory=dict)
    video_seconds: dict[DayKey, int] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    accepted: list[str] = field(default_factory=list)


@dataclass
class StateKeys:
    """Every state row a batch may read or write (a duplicate event's rows included)."""

    event_ids: set[str] = field(default_factory=set)
    points: set[PointsKey] = field(default_factory=set)
    video_positions: set[VideoKey] = field(default_factory=set)
    video_seconds: set[DayKey] = field(default_factory=set)

    def subset_of(self, state: ScoreState) -> ScoreState:
        """A new state holding only this batch's rows of `state` (what the service would load)."""
        return ScoreState(points={k: state.points[k] for k in self.points if k in state.points},
                          video_positions={k: state.video_positions[k] for k in self.video_positions
                                           if k in state.video_positions},
                          video_seconds={k: state.video_seconds[k] for k in self.video_seconds
                                         if k in state.video_seconds},
                          seen=self.event_ids & state.seen)
