"""The Flask service: application factory."""
from flask import Flask

from .config import load_config
from .extensions import db, migrate


def create_app(config: dict | None = None) -> Flask:
    """Build the app; tests pass a mapping that overrides the environment."""
    app = Flask(__name__, static_folder=None)
    app.config.update(load_config())
    app.config.update(config or {})
    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()))
    from .api import register_api
    from .auth import install_auth_guard
    from .cli import register_cli
    from .errors import register_error_handlers
    from .services.runtime import install_engine
    from .web import register_web
    install_engine(app)
    with app.app_context():
        _tune_sqlite(db.engine)
    register_error_handlers(app, db)
    register_api(app)
    register_web(app)  # the BPMN modeler page (/admin/modeler)
    install_auth_guard(app)
    register_cli(app)
    return app


def _migrations_dir():
    from pathlib import Path
    return Path(__file__).resolve().parent.parent / "migrations"


def _tune_sqlite(engine) -> None:
    """SQLite: WAL, a busy timeout, and BEGIN IMMEDIATE so two writers queue instead of deadlocking."""
    if engine.dialect.name != "sqlite":
        return
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
