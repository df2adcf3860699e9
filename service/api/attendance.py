"""Attendance: feedback on the notice, sign-in by code, by proxy and by video."""
import io

import segno
from flask import send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import current_user
from ..schemas.work import CheckInCodeOut, CheckInIn, FeedbackIn, InviteeOut, ProxyCheckInIn, VideoAttendanceIn
from ..services import attendance

blp = Blueprint("attendance", __name__, url_prefix="/api/meetings", description="Feedback and sign-in (反馈, 签到)")


@blp.route("/<int:meeting_id>/feedback")
class Feedback(MethodView):
    @blp.arguments(FeedbackIn)
    @blp.response(200, InviteeOut)
    def post(self, data, meeting_id):
        """The calling member's answer to the notice (反馈)."""
        return attendance.give_feedback(current_user(), meeting_id, data["attend"], data["reason"])


@blp.route("/<int:meeting_id>/check-in-code")
class CheckInCode(MethodView):
    @blp.response(200, CheckInCodeOut)
    def get(self, meeting_id):
        """The current sign-in code, for the organiser to show."""
        return attendance.check_in_code(current_user(), meeting_id)


@blp.route("/<int:meeting_id>/check-in-code.png")
class CheckInQr(MethodView):
    @blp.response(200, content_type="image/png")
    def get(self, meeting_id):
        """The sign-in code as a QR image."""
        code = attendance.check_in_code(current_user(), meeting_id)["code"]
        buffer = io.BytesIO()
        segno.make(attendance.qr_payload(meeting_id, code), error="m").save(buffer, kind="png", scale=8)
        buffer.seek(0)
        return send_file(buffer, mimetype="image/png", max_age=0)


@blp.route("/<int:meeting_id>/check-in")
class CheckIn(MethodView):
    @blp.arguments(CheckInIn)
    @blp.response(200, InviteeOut)
    def post(self, data, meeting_id):
        """The calling member signs in with the code (签到)."""
        return attendance.check_in(current_user(), meeting_id, data["code"])


@blp.route("/<int:meeting_id>/proxy-check-in")
class ProxyCheckIn(MethodView):
    @blp.arguments(ProxyCheckInIn)
    @blp.response(200, InviteeOut)
    def post(self, data, meeting_id):
        """The organiser signs in a member flagged smartphone_exempt (代签到)."""
        return attendance.proxy_check_in(current_user(), meeting_id, data["member_id"])


@blp.route("/<int:meeting_id>/video-attendance")
class VideoAttendance(MethodView):
    @blp.arguments(VideoAttendanceIn)
    @blp.response(200, InviteeOut(many=True))
    def post(self, data, meeting_id):
        """Online meetings (焦作): the organiser adds video attendees, with screenshots as evidence."""
        return attendance.video_attendance(current_user(), meeting_id, data["member_ids"], data["evidence_ids"])
