"""The caller's notices: list, unread count, 签阅."""
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ..auth import current_user
from ..schemas import ChinaDateTime
from ..services import notifications

blp = Blueprint("notifications", __name__, url_prefix="/api/notifications", description="Notices (通知, 签阅)")


class NotificationOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    body = fields.String(allow_none=True)
    subject = fields.Function(lambda n: {"kind": n.subject_kind, "id": n.subject_id} if n.subject_kind else None)
    created_at = ChinaDateTime()
    read_at = ChinaDateTime(allow_none=True)


class NotificationQuery(Schema):
    unread = fields.Boolean(load_default=False)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class CountOut(Schema):
    unread = fields.Integer()


class MarkedOut(Schema):
    marked = fields.Integer()


@blp.route("")
class Notifications(MethodView):
    @blp.arguments(NotificationQuery, location="query")
    @blp.response(200, NotificationOut(many=True))
    def get(self, query):
        """The caller's notices, newest first (`unread=true` for unread only); header X-Unread-Count."""
        rows = notifications.list_for(current_user(), query["unread"], query["limit"], query["offset"])
        return rows, {"X-Unread-Count": str(notifications.unread_count(current_user()))}


@blp.route("/unread-count")
class UnreadCount(MethodView):
    @blp.response(200, CountOut)
    def get(self):
        """How many notices the caller has not read."""
        return {"unread": notifications.unread_count(current_user())}


@blp.route("/<int:notification_id>/read")
class Read(MethodView):
    @blp.response(200, NotificationOut)
    def post(self, notification_id):
        """签阅: mark one notice as read."""
        return notifications.mark_read(current_user(), notification_id)


@blp.route("/read-all")
class ReadAll(MethodView):
    @blp.response(200, MarkedOut)
    def post(self):
        """Mark all the caller's notices as read."""
        return {"marked": notifications.mark_all_read(current_user())}
