"""Points at the boundary: score events, member scores, rules administration, integration tokens, dues."""
import re
from datetime import datetime

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from rules import CATEGORIES, NOTICE, PERIODS

from ..actions.meeting import not_blank
from ..models.scoring import SOURCE_PREFIXES
from .claims import MAX_POINTS as MAX_CLAIM_POINTS
from .times import ChinaDateTime

NOTICE_DOC = f"Points are a reference, never the measure of a person: always {NOTICE!r}."
MAX_EVENTS = 10_000
INT32 = validate.Range(min=1, max=2**31 - 1)
RESERVED_PREFIXES = tuple(SOURCE_PREFIXES)  # ids the service gives its own events (meeting:12, dues:3)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _event_id(value: str) -> None:
    if _CONTROL.search(value):
        raise ValidationError("Must not contain control characters.")
    if value.startswith(RESERVED_PREFIXES):
        raise ValidationError(f"Ids starting with {', '.join(RESERVED_PREFIXES)} are reserved.")


def _month(value: str) -> None:
    match = re.fullmatch(r"(\d{4})-(\d{2})", value)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValidationError("Must be a month like 2026-11.")


class ScoreNotice(Schema):
    notice = fields.Constant(NOTICE, dump_only=True, metadata={"description": NOTICE_DOC})


class ScoreEventIn(Schema):
    id = fields.String(required=True, validate=[validate.Length(min=1, max=100), _event_id],
                       metadata={"description": "the platform's event id; an id seen before awards nothing again"})
    member_id = fields.Integer(required=True, strict=True, validate=INT32)
    action = fields.String(required=True, validate=validate.Length(min=1, max=40), metadata={
        "description": "login, favorite, comment, like, share, read, video, exam, third_party, donation_published, "
                       "donation_completed, wish_fulfilled, snapshot_approved"})
    occurred_at = fields.AwareDateTime(required=True, metadata={
        "description": "ISO 8601 with an offset (a naive time is refused); caps count China days"})
    object_id = fields.String(allow_none=True, load_default=None, validate=validate.Length(min=1, max=100),
                              metadata={"description": "video: which video"})
    seconds = fields.Integer(allow_none=True, load_default=None, strict=True,
                             validate=validate.Range(min=0, max=2**31 - 1), metadata={
                                 "description": "read: seconds on screen (30 or less earns nothing); "
                                                "video: the saved progress position"})


class ScoreEventList(fields.List):
    """A list of ScoreEventIn. A well-formed batch takes a fast path (10,000 events in milliseconds instead of the
    ~200 ms the nested schema needs); anything doubtful goes through the schema, which explains what is wrong."""

    def __init__(self, **kwargs):
        super().__init__(fields.Nested(ScoreEventIn), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        events = _well_formed(value)
        return events if events is not None else super()._deserialize(value, attr, data, **kwargs)


_EVENT_FIELDS = frozenset(ScoreEventIn().fields)


def _well_formed(items) -> list[dict] | None:
    """The events exactly as ScoreEventIn loads them, or None at the first doubt."""
    if type(items) is not list:
        return None
    out = []
    for item in items:
        if type(item) is not dict or not item.keys() <= _EVENT_FIELDS:
            return None
        event = _well_formed_event(item)
        if event is None:
            return None
        out.append(event)
    return out


def _well_formed_event(item: dict) -> dict | None:
    event_id, member_id, action = item.get("id"), item.get("member_id"), item.get("action")
    object_id, seconds, at = item.get("object_id"), item.get("seconds"), item.get("occurred_at")
    if not (type(event_id) is str and 0 < len(event_id) <= 100 and type(member_id) is int
            and 0 < member_id < 2**31 and type(action) is str and 0 < len(action) <= 40 and type(at) is str
            and (object_id is None or (type(object_id) is str and 0 < len(object_id) <= 100))
            and (seconds is None or (type(seconds) is int and 0 <= seconds < 2**31))):
        return None
    if _CONTROL.search(event_id) or event_id.startswith(RESERVED_PREFIXES):
        return None
    try:
        when = datetime.fromisoformat(at)  # what fields.AwareDateTime uses
    except ValueError:
        return None
    if when.utcoffset() is None:
        return None
    return {"id": event_id, "member_id": member_id, "action": action, "occurred_at": when,
            "object_id": object_id, "seconds": seconds}


class ScoreEventsIn(Schema):
    events = ScoreEventList(required=True, validate=validate.Length(min=1, max=MAX_EVENTS))


class ScoreIngestOut(ScoreNotice):
    accepted = fields.Integer(metadata={"description": "events not seen before"})
    duplicates = fields.Integer(metadata={"description": "events whose id was seen before (or twice in the batch)"})
    points_awarded = fields.Integer()


class IntegrationTokenIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))


class IntegrationTokenOut(Schema):
    id = fields.Integer()
    name = fields.String()
    created_by = fields.Integer(allow_none=True)
    created_at = ChinaDateTime()
    revoked_at = ChinaDateTime(allow_none=True)


class IntegrationTokenCreatedOut(IntegrationTokenOut):
    token = fields.String(metadata={"description": "itk_...: shown this once; send as 'Authorization: Bearer <token>'"})


class ScorePeriodQuery(Schema):
    period = fields.String(load_default=None, metadata={
        "description": "a day 2026-11-18, a month 2026-11, a quarter 2026-Q4 or a year 2026 (China time); "
                       "default: the current China month"})


class ScoreEntryOut(Schema):
    id = fields.Integer()
    rule_id = fields.String()
    category = fields.String()
    points = fields.Integer(metadata={"description": "negative for a reversal"})
    occurred_at = ChinaDateTime()
    source = fields.String(metadata={"description": "event | meeting | dues | claim | reversal"})
    source_id = fields.String(allow_none=True)
    reverses_id = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)


class MemberScoreOut(ScoreNotice):
    member_id = fields.Integer()
    period = fields.String()
    total = fields.Integer()
    by_category = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "organizational_life, education, pioneer"})
    entries = fields.List(fields.Nested(ScoreEntryOut))


class ScoreRuleOut(ScoreNotice):
    id = fields.String()
    set = fields.String(metadata={"description": "the rule set (data file) the rule comes from"})
    action = fields.String()
    kind = fields.String()
    category = fields.String()
    points = fields.Integer()
    unit = fields.String()
    unit_seconds = fields.Integer(allow_none=True)
    min_seconds = fields.Integer(allow_none=True)
    cap = fields.Integer(allow_none=True)
    cap_period = fields.String(allow_none=True)
    target = fields.String()
    enabled = fields.Boolean()
    label = fields.String()


class ScoreRuleUpdateIn(Schema):
    """Only points, cap and enabled change; any other field is 422 not_editable (the logic is code)."""

    class Meta:
        unknown = INCLUDE  # the service names the fields that may not change

    points = fields.Integer(strict=True, validate=validate.Range(min=0, max=10_000))
    cap = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=0, max=100_000),
                         metadata={"description": "null removes the cap"})
    enabled = fields.Boolean()


class ScoreRuleAuditOut(Schema):
    id = fields.Integer()
    rule_id = fields.String()
    changed_by = fields.Integer(allow_none=True)
    changed_at = ChinaDateTime()
    before = fields.Dict()
    after = fields.Dict()


class DuesPaymentIn(Schema):
    member_id = fields.Integer(required=True, strict=True, validate=INT32)
    month = fields.String(required=True, validate=_month, metadata={"description": "the month paid for, 2026-11"})
    channel = fields.String(required=True, validate=validate.OneOf(["online", "offline"]))
    paid_at = ChinaDateTime(required=True, metadata={"description": "ISO 8601; a naive time is China time"})
    amount = fields.Decimal(required=True, places=2, as_string=True,
                            validate=validate.Range(min=0, max=99_999_999.99, min_inclusive=False))


class DuesPaymentOut(ScoreNotice):
    id = fields.Integer()
    member_id = fields.Integer()
    month = fields.String()
    channel = fields.String()
    paid_at = ChinaDateTime()
    amount = fields.Decimal(places=2, as_string=True)
    points = fields.Integer(metadata={"description": "5 only for an online payment within the China month it pays "
                                                     "for; back-payments and offline payments earn 0"})
    recorded_by = fields.Integer(allow_none=True)
    created_at = ChinaDateTime()


class DuesPaymentQuery(Schema):
    member_id = fields.Integer(load_default=None)
    org_id = fields.Integer(load_default=None, metadata={"description": "members of this org and its subtree"})
    month = fields.String(load_default=None, validate=_month)
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


MEETING_FIELDS = ("process_key", "points", "cap", "cap_period", "category", "label")
DECLARED_KEY_LENGTH = 28  # its action score_claim.<key> fits score_event.action (40)


def _declared_key(value: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", value):
        raise ValidationError("Lower-case letters, digits and _, starting with a letter.")


class DeclaredItemIn(Schema):
    """A declared-points item (申报积分项): rule custom.declared.<key>, action score_claim.<key>, to the member."""

    key = fields.String(required=True, validate=[validate.Length(min=1, max=DECLARED_KEY_LENGTH), _declared_key],
                        metadata={"description": "the item's id: custom.declared.<key>"})
    label = fields.String(required=True, validate=[validate.Length(min=1, max=200), not_blank],
                          metadata={"description": "its name, e.g. 志愿服务"})
    category = fields.String(load_default="pioneer", validate=validate.OneOf(CATEGORIES))
    points = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=MAX_CLAIM_POINTS), metadata={
        "description": "the base points (基本分) a claim gets unless it names its own; 0: every claim names its points"})
    cap = fields.Integer(load_default=None, strict=True, allow_none=True, validate=validate.Range(min=0, max=100_000),
                         metadata={"description": "the maximum (最高分值) per member per cap_period; null: none yet"})
    cap_period = fields.String(load_default="year", validate=validate.OneOf(PERIODS), metadata={
        "description": "the China period the cap counts (and a cap set later will count)"})


class ScoreRuleIn(Schema):
    """Either a meeting type's rule (process_key, points, ...) or a declared item (declared: {...}), not both."""

    process_key = fields.String(validate=validate.Length(min=1, max=100))
    points = fields.Integer(validate=validate.Range(min=0, max=10_000))
    cap = fields.Integer(validate=validate.Range(min=0, max=1_000_000))
    cap_period = fields.String(validate=validate.OneOf(PERIODS))
    category = fields.String(validate=validate.OneOf(CATEGORIES),
                             metadata={"description": "default organizational_life"})
    label = fields.String(validate=validate.Length(max=200))
    declared = fields.Nested(DeclaredItemIn,
                             metadata={"description": "a declared-points item instead of a meeting rule"})

    @validates_schema
    def _one_kind(self, data, **kwargs):
        if "declared" in data:
            mixed = [name for name in MEETING_FIELDS if name in data]
            if mixed:
                raise ValidationError({name: ["not with declared"] for name in mixed})
            return
        missing = [name for name in ("process_key", "points") if name not in data]
        if missing:
            raise ValidationError({name: ["Missing data for required field."] for name in missing})
