"""Org totals, leaderboards and compliance at the boundary."""
from marshmallow import Schema, fields, validate

from .times import ChinaDateTime

NOTICE_DOC = "points are a reference, never the only measure of a member (积分仅供参考)"


def period_field(kinds: str = "a day 2026-11-18, a month 2026-11, a quarter 2026-Q4 or a year 2026"):
    """A China-time period label; checked by the service (422 invalid_period, as for member scores)."""
    return fields.String(load_default=None, metadata={"description": f"{kinds}; default this month (China time)"})


class OrgTotalQuery(Schema):
    period = period_field()
    fresh = fields.Boolean(load_default=False, metadata={"description": "true: compute now even for a large scope "
                                                                       "(a province takes seconds to tens of seconds)"})


class OrgTotalOut(Schema):
    org_id = fields.Integer()
    period = fields.String()
    own = fields.Float(metadata={"description": "the org's own points (党委 and 党总支 usually earn none)"})
    members_average = fields.Float(metadata={"description": "branch/group: members' total / members (approved "
                                                            "smartphone exemptions left out); above: mean of the "
                                                            "branch totals below"})
    total = fields.Float()
    computed_at = ChinaDateTime(metadata={"description": "live: the moment of the answer; nightly: when the nightly "
                                                         "roll-up computed the row"})
    source = fields.String(metadata={"description": "live: computed for this request; nightly: the nightly roll-up's "
                                                    "row (large scopes; the nightly periods), as of computed_at"})
    notice = fields.String(metadata={"description": NOTICE_DOC})


class LeaderboardQuery(Schema):
    org_id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["member", "branch"]),
                         metadata={"description": "member: by learning (教育学习) points; branch: by total"})
    period = period_field()


class LeaderboardRowOut(Schema):
    rank = fields.Integer(metadata={"description": "equal points share a rank (1, 1, 3)"})
    member_id = fields.Integer(metadata={"description": "member boards"})
    org_id = fields.Integer(metadata={"description": "branch boards"})
    name = fields.String()
    points = fields.Raw(metadata={"description": "learning points (member) or branch total (branch)"})


class LeaderboardOut(Schema):
    org_id = fields.Integer()
    kind = fields.String()
    period = fields.String()
    computed_at = ChinaDateTime(metadata={"description": "when the board was computed (nightly, or on first request)"})
    notice = fields.String(metadata={"description": NOTICE_DOC})
    rows = fields.List(fields.Nested(LeaderboardRowOut), metadata={"description": "at most 100"})


class ComplianceExportQuery(Schema):
    org_id = fields.Integer(required=True)
    period = period_field("a month 2026-11, a quarter 2026-Q4 (with its months) or a year 2026 (with its quarters and months)")


class ComplianceQuery(ComplianceExportQuery):
    limit = fields.Integer(load_default=2000, validate=validate.Range(min=1, max=5000),
                           metadata={"description": "units (branches and groups) per page; a unit has all its rows"})
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0),
                            metadata={"description": "units to skip, in tree order; take next_offset for the next page"})


class ComplianceRowOut(Schema):
    org_id = fields.Integer()
    org_name = fields.String()
    process_key = fields.String()
    period = fields.String(metadata={"description": "the period this row is about (a month inside a quarter, ...)"})
    required = fields.Integer()
    held = fields.Integer(metadata={"description": "completed meetings scheduled in the period (China time)"})
    status = fields.String(metadata={"description": "green: held >= required; red otherwise"})


class ComplianceSummaryOut(Schema):
    green = fields.Integer()
    red = fields.Integer()


class ComplianceOut(Schema):
    org_id = fields.Integer()
    period = fields.String()
    computed_at = ChinaDateTime()
    rows = fields.List(fields.Nested(ComplianceRowOut), metadata={
        "description": "the page's units in tree order (each branch, then its groups), every row of each unit"})
    units_total = fields.Integer(metadata={"description": "branches and groups in the org's subtree"})
    offset = fields.Integer()
    limit = fields.Integer()
    next_offset = fields.Integer(allow_none=True, metadata={"description": "the next page's offset; null on the last"})
    summary = fields.Nested(ComplianceSummaryOut, metadata={"description": "green and red rows of this page only"})


class RequirementIn(Schema):
    period = fields.String(required=True, validate=validate.OneOf(["month", "quarter", "year"]))
    required = fields.Integer(required=True, validate=validate.Range(min=1, max=1000))
    held_by = fields.String(validate=validate.OneOf(["branch", "group"]))
    label = fields.String(validate=validate.Length(max=200))
    enabled = fields.Boolean(load_default=True)


class RequirementView(Schema):
    process_key = fields.String()
    period = fields.String()
    required = fields.Integer()
    held_by = fields.String()
    label = fields.String()
    enabled = fields.Boolean()
    source = fields.String(metadata={"description": "packaged | changed | added"})
