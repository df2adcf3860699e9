"""民主评议: members' self and peer assessments, and the overview."""
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ..actions.appraisal import RATINGS, RateSchema  # the same shape: each member rated once
from ..actions.meeting import not_blank
from ..auth import current_user
from ..schemas import ChinaDateTime
from ..services import appraisals

blp = Blueprint("appraisals", __name__, url_prefix="/api/meetings", description="民主评议 (self and peer assessment)")


class SelfAssessmentIn(Schema):
    text = fields.String(required=True, validate=[not_blank, validate.Length(max=20000)])


class SelfAssessmentOut(Schema):
    member_id = fields.Integer()
    self_assessment = fields.String()
    self_assessed_at = ChinaDateTime()


class PeerOut(Schema):
    ratee_id = fields.Integer()
    rating = fields.String()
    comment = fields.String(allow_none=True)
    at = ChinaDateTime()


class AppraisalEntryOut(Schema):
    member_id = fields.Integer()
    name = fields.String(allow_none=True)
    voting = fields.Boolean()
    self_assessment = fields.String(allow_none=True)
    self_assessed_at = ChinaDateTime(allow_none=True)
    peer = fields.Dict(keys=fields.String(validate=validate.OneOf(RATINGS)), values=fields.Integer())
    rating = fields.String(allow_none=True)
    rating_comment = fields.String(allow_none=True)


class AppraisalOut(Schema):
    meeting_id = fields.Integer()
    ratings = fields.List(fields.String())
    members = fields.List(fields.Nested(AppraisalEntryOut))
    given = fields.List(fields.Nested(PeerOut))


@blp.route("/<int:meeting_id>/self-assessment")
class SelfAssessment(MethodView):
    @blp.arguments(SelfAssessmentIn)
    @blp.response(200, SelfAssessmentOut)
    def post(self, data, meeting_id):
        """The calling member's self-assessment (自评), while the branch has it open."""
        return appraisals.self_assess(current_user(), meeting_id, data["text"])


@blp.route("/<int:meeting_id>/peer-assessments")
class PeerAssessments(MethodView):
    @blp.arguments(RateSchema)
    @blp.response(200, PeerOut(many=True))
    def post(self, data, meeting_id):
        """The calling member rates other invitees (互评): excellent, qualified, basically_qualified, unqualified."""
        return appraisals.peer_assess(current_user(), meeting_id, data["ratings"])


@blp.route("/<int:meeting_id>/appraisal")
class Appraisal(MethodView):
    @blp.response(200, AppraisalOut)
    def get(self, meeting_id):
        """Admins: everyone's self-assessment, peer tallies and rating. Members: their own part."""
        return appraisals.overview(current_user(), meeting_id)
