"""Meetings: create, read, feedback, sign-in."""
import io

import segno
from flask import send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import current_user
from ..schemas.work import (CancelIn, CheckInCodeOut, CheckInIn, FeedbackIn, InviteeOut, MeetingDetailOut,
                            MeetingIn, MeetingOut, MeetingQuery, ProxyCheckInIn)
from ..services import meetings

blp = Blueprint("meetings", __name__, url_prefix="/api/meetings", description="Meetings (三会一课, 主题党日)")


@blp.route("")
class Meetings(MethodView):
    @blp.arguments(MeetingIn)
    @blp.response(201, MeetingDetailOut)
    def post(self, data):
        """Create a meeting and start its process; 422 backdated_meeting for a time in the past."""
        return meetings.meeting_view(meetings.create_meeting(current_user(), data), current_user())

    @blp.arguments(MeetingQuery, location="query")
    @blp.response(200, MeetingOut(many=True))
    def get(self, query):
        """Meetings the caller may see (org filter covers the org's subtree)."""
        return meetings.list_meetings(current_user(), query)


@blp.route("/<int:meeting_id>")
class MeetingById(MethodView):
    @blp.response(200, MeetingDetailOut)
    def get(self, meeting_id):
        """A meeting with attendance, open tasks, timeline and minutes."""
        return meetings.meeting_view(meetings.get_visible(current_user(), meeting_id), current_user())


@blp.route("/<int:meeting_id>/feedback")
class Feedback(MethodView):
    @blp.arguments(FeedbackIn)
    @blp.response(200, InviteeOut)
    def post(self, data, meeting_id):
        """The calling member's answer to the notice (反馈)."""
        return meetings.give_feedback(current_user(), meeting_id, data["attend"], data["reason"])


@blp.route("/<int:meeting_id>/check-in-code")
class CheckInCode(MethodView):
    @blp.response(200, CheckInCodeOut)
    def get(self, meeting_id):
        """The current sign-in code, for the organiser to show."""
        return meetings.check_in_code(current_user(), meeting_id)


@blp.route("/<int:meeting_id>/check-in-code.png")
class CheckInQr(MethodView):
    @blp.response(200, content_type="image/png")
    def get(self, meeting_id):
        """The sign-in code as a QR image."""
        code = meetings.check_in_code(current_user(), meeting_id)["code"]
        buffer = io.BytesIO()
        segno.make(meetings.qr_payload(meeting_id, code), error="m").save(buffer, kind="png", scale=8)
        buffer.seek(0)
        return send_file(buffer, mimetype="image/png", max_age=0)


@blp.route("/<int:meeting_id>/check-in")
class CheckIn(MethodView):
    @blp.arguments(CheckInIn)
    @blp.response(200, InviteeOut)
    def post(self, data, meeting_id):
        """The calling member signs in with the code (签到)."""
        return meetings.check_in(current_user(), meeting_id, data["code"])


@blp.route("/<int:meeting_id>/proxy-check-in")
class ProxyCheckIn(MethodView):
    @blp.arguments(ProxyCheckInIn)
    @blp.response(200, InviteeOut)
    def post(self, data, meeting_id):
        """The organiser signs in a member flagged smartphone_exempt (代签到)."""
        return meetings.proxy_check_in(current_user(), meeting_id, data["member_id"])


@blp.route("/<int:meeting_id>/cancel")
class Cancel(MethodView):
    @blp.arguments(CancelIn)
    @blp.response(200, MeetingOut)
    def post(self, data, meeting_id):
        """The organiser cancels a meeting that has not finished."""
        return meetings.cancel_meeting(current_user(), meeting_id, data["reason"])
