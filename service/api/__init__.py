"""HTTP API: one flask-smorest blueprint per resource."""
from flask import send_from_directory
from flask_smorest import Api

from ..errors import from_http_exception


class ProblemApi(Api):
    """flask-smorest's Api, answering HTTP errors as problem+json."""

    def handle_http_exception(self, error):
        return from_http_exception(error)


api = ProblemApi()


def register_api(app) -> None:
    """Bind the API, its blueprints, bearer security in the spec, and Swagger UI's local assets."""
    from . import (appraisals, attachments, attendance, auth, claims, compliance, definitions, exemptions, flows,
                   meeting_types, meetings, notifications, org_transfers, orgs, people, registry, rollups, scores, tasks, transfers)
    api.init_app(app, spec_kwargs={"security": [{"bearerAuth": []}]})
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    for module in (auth, orgs, people, definitions, tasks, meetings, attendance, appraisals, notifications,
                   attachments, registry, transfers, org_transfers, exemptions, flows, scores, rollups, compliance,
                   claims, meeting_types):
        api.register_blueprint(module.blp)
    _serve_swagger_assets(app)


def _serve_swagger_assets(app) -> None:
    # Swagger UI ships inside a PyPI package, so the docs work with no CDN.
    import swagger_ui_bundle

    @app.route("/static/swagger-ui/<path:filename>")
    def swagger_assets(filename):
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)
