"""One error path: every failure leaves as application/problem+json with a stable code."""
import logging

from flask import jsonify
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from workflows import BpmnTooLarge, BpmnValidationError, WorkflowError

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"


class ApiError(Exception):
    """A failure the client can act on: status, stable code, human detail, extra members."""

    def __init__(self, code: str, status: int, detail: str, **ext):
        super().__init__(detail)
        self.code, self.status, self.detail, self.ext = code, status, detail, ext


def problem(status: int, code: str, detail: str, title: str | None = None, **ext):
    """Build a problem+json response."""
    body = {"type": f"/problems/{code}", "title": title or code.replace("_", " ").capitalize(),
            "status": status, "detail": detail, "code": code, **ext}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM
    return response


def from_http_exception(error: HTTPException):
    """Translate werkzeug/flask-smorest HTTP errors, including webargs validation failures."""
    data = getattr(error, "data", None) or {}
    if error.code == 422 and ("messages" in data or "errors" in data):
        errors = data.get("errors") or data.get("messages")
        # webargs nests messages by location ("json", "query"); the client only needs the field map.
        if isinstance(errors, dict) and len(errors) == 1 and next(iter(errors)) in ("json", "query", "form", "files"):
            errors = next(iter(errors.values()))
        return problem(422, "validation_error", "The request data is invalid.", errors=errors)
    if error.code == 400 and "messages" in data:  # webargs could not parse the body
        return problem(400, "invalid_json", "The request body is not valid JSON.", errors=data["messages"])
    code = (error.name or "error").lower().replace(" ", "_").replace("'", "")
    headers = data.get("headers") or {}
    response = problem(error.code or 500, code, error.description or error.name)
    response.headers.update(headers)
    return response


def _out_of_range(error: Exception) -> bool:
    """SQLite raises OverflowError for integers past 64 bits, Postgres a DataError (numeric value out of range)."""
    from sqlalchemy.exc import DataError, StatementError
    if isinstance(error, OverflowError):
        return True
    original = getattr(error, "orig", None)
    if isinstance(error, StatementError) and isinstance(original, OverflowError):
        return True
    return isinstance(error, DataError) and getattr(original, "pgcode", None) == "22003"


def register_error_handlers(app, db) -> None:
    """Install the handlers that turn every exception into problem+json."""

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        db.session.rollback()
        return problem(error.status, error.code, error.detail, **error.ext)

    @app.errorhandler(ValidationError)
    def _validation(error: ValidationError):
        db.session.rollback()
        return problem(422, "validation_error", "The request data is invalid.", errors=error.messages)

    @app.errorhandler(BpmnValidationError)
    def _bpmn(error: BpmnValidationError):
        db.session.rollback()
        if isinstance(error, BpmnTooLarge):
            return problem(413, "bpmn_too_large", str(error), errors=error.errors)
        return problem(422, "invalid_bpmn", "The BPMN file was rejected.", errors=error.errors)

    @app.errorhandler(WorkflowError)
    def _workflow(error: WorkflowError):
        db.session.rollback()
        log.warning("workflow error at %s: %s", error.element_id, error.message)
        return problem(409, "workflow_error", error.message, element_id=error.element_id)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return from_http_exception(error)
        db.session.rollback()
        if _out_of_range(error):  # an id of 2**63 or more: no such row, not a server fault
            return problem(422, "value_out_of_range", "A number in the request is too large.")
        log.exception("unhandled error")
        return problem(500, "internal_error", "An unexpected error occurred; it has been logged.")
