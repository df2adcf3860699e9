"""The rule kinds. Each answers one question: how many points is this event worth before the cap?"""
from __future__ import annotations

from .model import Event, Moment, Rule
from .periods import period_key
from .registry import RuleKind, register
from .state import ScoreState, StateKeys


DAY_SECONDS = 86_400


@register("per_event")
class PerEvent(RuleKind):
    """`points` per event (login, like, exam, meeting completions...); with min_seconds, only above it."""

    def award(self, rule: Rule, event: Event, when: Moment, state: ScoreState) -> int:
        """The rule's points, or 0 when the event is too short (read: 30 s or less on screen)."""
        if rule.min_seconds is not None and (event.seconds is None or event.seconds <= rule.min_seconds):
            return 0
        return rule.points


@register("video_progress")
class VideoProgress(RuleKind):
    """`points` per full `unit_seconds` of new progress credited in one China day.

    `object_id` is the video and `seconds` the saved position. Only an increase of the member's highest saved
    position for that video is credited, so replays and rewinds credit nothing; credited seconds of all
    videos add up within the China day and the remainder below a full unit is lost at midnight.
    """

    units = frozenset({"seconds"})

    def award(self, rule: Rule, event: Event, when: Moment, state: ScoreState) -> int:
        """Points for the full units crossed by this event's newly credited seconds."""
        if event.seconds is None or event.object_id is None:
            return 0
        watched = (event.member_id, event.object_id)
        best = state.video_positions.get(watched, 0)
        if event.seconds <= best:
            return 0
        state.video_positions[watched] = event.seconds
        today = (event.member_id, when.day)
        before = state.video_seconds.get(today, 0)
        # A day holds at most 86,400 seconds of watching; the stored total stays within a 32-bit column.
        after = min(before + event.seconds - best, DAY_SECONDS)
        state.video_seconds[today] = after
        return rule.points * (after // rule.unit_seconds - before // rule.unit_seconds)

    def keys(self, rule: Rule, event: Event, when: Moment, keys: StateKeys) -> None:
        """The member's best position on the video and the day's credited seconds."""
        if event.seconds is not None and event.object_id is not None:
            keys.video_positions.add((event.member_id, event.object_id))
            keys.video_seconds.add((event.member_id, when.day))


@register("dues")
class Dues(RuleKind):
    """三晋先锋: `points` for dues paid online within the China month they pay for; nothing otherwise."""

    def award(self, rule: Rule, event: Event, when: Moment, state: ScoreState) -> int:
        """The rule's points for an online payment of the month it was paid in, else 0."""
        if event.channel != "online" or event.month is None:
            return 0
        paid_in = when.month if event.paid_at is None else period_key(event.paid_at, "month")
        return rule.points if paid_in == event.month else 0


@register("declared")
class Declared(RuleKind):
    """积分申报: the points the approval granted (`event.points`), else the rule's points.

    A declared item's points are its base points (基本分), what a claim naming none asks for: at most
    `max_points`, which is also the most one claim may ask, and within the item's cap.
    """

    max_points = 100

    def check(self, rule: Rule) -> None:
        """Base points a claim could ask for: no more than max_points nor the item's cap."""
        super().check(rule)
        if rule.points > self.max_points:
            raise ValueError(f"rule {rule.id}: base points above {self.max_points}, the most one claim may ask")
        if rule.cap is not None and rule.points > rule.cap:
            raise ValueError(f"rule {rule.id}: base points {rule.points} above its cap {rule.cap}")

    def award(self, rule: Rule, event: Event, when: Moment, state: ScoreState) -> int:
        """The approved points."""
        return rule.points if event.points is None else event.points
