"""民主评议党员 at the 组织生活会: members assess themselves and each other, then the branch rates each one."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..errors import ApiError
from . import NoData, action, meeting_data

# 优秀 / 合格 / 基本合格 / 不合格
RATINGS = ("excellent", "qualified", "basically_qualified", "unqualified")


class RatingIn(Schema):
    member_id = fields.Integer(required=True)
    rating = fields.String(required=True, validate=validate.OneOf(RATINGS))
    comment = fields.String(load_default=None)


class RateSchema(Schema):
    ratings = fields.List(fields.Nested(RatingIn), required=True, validate=validate.Length(min=1))

    @validates_schema
    def _once_each(self, data, **kwargs):
        ids = [r["member_id"] for r in data["ratings"]]
        if len(ids) != len(set(ids)):
            raise ValidationError("Rate each member once.", "ratings")


@action("appraisal.close_self", NoData, sets=("self_assessment_ratio",))
def close_self(ctx, data):
    """Close self-assessment (自评); sets self_assessment_ratio."""
    rows = meeting_data.attendance_rows(ctx.subject)
    return {"self_assessment_ratio": meeting_data.ratio(sum(1 for r in rows if r.self_assessment), len(rows))}


@action("appraisal.close_peer", NoData, sets=("peer_assessment_ratio",))
def close_peer(ctx, data):
    """Close peer assessment (互评); sets peer_assessment_ratio (members who rated anyone / invitees)."""
    rows = meeting_data.attendance_rows(ctx.subject)
    raters = meeting_data.peer_raters(ctx.subject)
    return {"peer_assessment_ratio": meeting_data.ratio(len(raters), len(rows))}


@action("appraisal.rate", RateSchema, sets=("unqualified_count",))
def rate(ctx, data):
    """The branch rates every invited full member (评定等次); sets unqualified_count."""
    invited = {r.member_id: r for r in meeting_data.attendance_rows(ctx.subject)}
    rows = {m: r for m, r in invited.items() if r.voting}  # 预备党员 take part in 评议 but get no 等次
    given = {r["member_id"]: r for r in data["ratings"]}
    missing, unknown = sorted(rows.keys() - given.keys()), sorted(given.keys() - invited.keys())
    probationary = sorted(given.keys() & (invited.keys() - rows.keys()))
    if missing or unknown or probationary:
        raise ApiError("invalid_ratings", 422, "Rate every invited full member, and only them (probationary "
                       "members take part in the appraisal but are not rated).",
                       errors={"missing": missing, "not_invited": unknown, "probationary": probationary})
    for member_id, row in rows.items():
        row.rating, row.rating_comment = given[member_id]["rating"], given[member_id]["comment"]
    return {"unqualified_count": sum(1 for r in given.values() if r["rating"] == "unqualified")}

