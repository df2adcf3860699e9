"""Shared fixtures: an app from the factory on SQLite (default) or DATABASE_URL, isolated per test."""
import os
import tempfile

import pytest
from sqlalchemy import text

from service import create_app
from service.extensions import db


def _database_url(tmp_dir: str) -> str:
    return os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_dir}/test.sqlite3"


@pytest.fixture(scope="session")
def app():
    tmp = tempfile.mkdtemp(prefix="orglife-test-")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": _database_url(tmp),
                      "SECRET_KEY": "test-secret", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
                      "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True}})
    with app.app_context():
        from flask_migrate import upgrade
        upgrade()  # the schema comes from the migrations, so the tests exercise them too
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


def _wipe() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            db.session.execute(text(f"DELETE FROM {name}"))
    db.session.commit()


@pytest.fixture()
def clean_app(app):
    """The app with an empty database, the bundled BPMN deployed and user 'admin'."""
    from service.cli import init_command  # noqa: F401  (same path the CLI takes)
    from service.services.runtime import install_engine
    with app.app_context():
        _wipe()
        install_engine(app)  # a fresh spec cache: versions restart at 1 after the wipe
        from service.services.definitions import deploy_bundled
        from service.auth import hash_password
        from service.models import RoleGrant, User
        deploy_bundled()
        admin = User(username="admin", password_hash=hash_password("Admin#2026"), must_change_password=False,
                     failed_logins=0)
        admin.grants = [RoleGrant(role="platform_admin", org_id=None)]
        db.session.add(admin)
        db.session.commit()
        db.session.remove()
    yield app
