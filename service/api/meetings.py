"""Meetings: create, list, read, cancel, export; minutes edits."""
import io

from flask import send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import current_user
from ..schemas.work import (CancelIn, MeetingDetailOut, MeetingFilter, MeetingIn, MeetingOut, MeetingQuery,
                            MinutesEditIn, RevisionOut)
from ..services import meeting_export, meetings, minutes

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
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


@blp.route("/export.xlsx")
class Export(MethodView):
    @blp.arguments(MeetingFilter, location="query")
    @blp.response(200, content_type=XLSX)
    def get(self, query):
        """The meeting ledger (会议台账) as xlsx: one row per meeting the caller may see, same filters as the list."""
        data = meeting_export.workbook(meetings.list_meetings(current_user(), query, paged=False))
        return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True, download_name="meetings.xlsx")


@blp.route("/<int:meeting_id>")
class MeetingById(MethodView):
    @blp.response(200, MeetingDetailOut)
    def get(self, meeting_id):
        """A meeting with attendance, open tasks, timeline and minutes."""
        return meetings.meeting_view(meetings.get_visible(current_user(), meeting_id), current_user())


@blp.route("/<int:meeting_id>/cancel")
class Cancel(MethodView):
    @blp.arguments(CancelIn)
    @blp.response(200, MeetingOut)
    def post(self, data, meeting_id):
        """The organiser cancels a meeting that has not finished."""
        return meetings.cancel_meeting(current_user(), meeting_id, data["reason"])


@blp.route("/<int:meeting_id>/minutes")
class MinutesEdit(MethodView):
    @blp.arguments(MinutesEditIn)
    @blp.response(200, MeetingDetailOut)
    def put(self, data, meeting_id):
        """An admin edits completed minutes; give a reason. The old values and the edit are kept."""
        reason = data.pop("reason")
        return meetings.meeting_view(minutes.edit(current_user(), meeting_id, data, reason), current_user())


@blp.route("/<int:meeting_id>/minutes/revisions")
class MinutesRevisions(MethodView):
    @blp.response(200, RevisionOut(many=True))
    def get(self, meeting_id):
        """Every edit made to the minutes after completion, oldest first."""
        return minutes.revisions(current_user(), meeting_id)
