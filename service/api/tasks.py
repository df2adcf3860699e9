"""The task inbox."""
from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import current_user
from ..errors import ApiError
from ..schemas.work import CommentIn, CommentOut, CompletionOut, TaskDetailOut, TaskOut, TaskQuery
from ..services import tasks

blp = Blueprint("tasks", __name__, url_prefix="/api/tasks", description="Human tasks (the inbox)")


@blp.route("")
class Tasks(MethodView):
    @blp.arguments(TaskQuery, location="query")
    @blp.response(200, TaskOut(many=True))
    def get(self, query):
        """Open tasks the caller may complete, or (state=completed) those the caller completed."""
        return tasks.list_tasks(current_user(), query.pop("state"), query)


@blp.route("/<int:task_id>")
class TaskById(MethodView):
    @blp.response(200, TaskDetailOut)
    def get(self, task_id):
        """A task with the form its action takes."""
        return tasks.get_visible(current_user(), task_id)


@blp.route("/<int:task_id>/claim")
class Claim(MethodView):
    @blp.response(200, TaskOut)
    def post(self, task_id):
        """Claim a task: it leaves the other candidates' open lists."""
        return tasks.claim(current_user(), task_id)


@blp.route("/<int:task_id>/unclaim")
class Unclaim(MethodView):
    @blp.response(200, TaskOut)
    def post(self, task_id):
        """Give a claimed task back."""
        return tasks.unclaim(current_user(), task_id)


@blp.route("/<int:task_id>/comments")
class Comments(MethodView):
    @blp.arguments(CommentIn)
    @blp.response(201, CommentOut)
    def post(self, data, task_id):
        """Comment on a task (shown in the timeline)."""
        return tasks.comment(current_user(), task_id, data["text"])


@blp.route("/<int:task_id>/complete")
class Complete(MethodView):
    @blp.response(200, CompletionOut)
    @blp.alt_response(409, description="task_not_open")
    @blp.alt_response(403, description="not_candidate")
    def post(self, task_id):
        """Complete a task with its action's data; one transaction."""
        data = request.get_json(silent=True)
        if data is None and request.get_data():
            raise ApiError("invalid_json", 400, "The body is not valid JSON.")
        if data is not None and not isinstance(data, dict):
            raise ApiError("validation_error", 422, "The body must be a JSON object.", errors={"_schema": ["not an object"]})
        task, next_tasks = tasks.complete(current_user(), task_id, data or {})
        return {"task": task, "next_tasks": next_tasks}
