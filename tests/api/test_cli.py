"""`flask --app service init` and `demo` are idempotent."""
from sqlalchemy import func, select

from service.extensions import db
from service.models import Member, Org, ProcessDefinition, User


def _counts():
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (User, Org, Member, ProcessDefinition))


def test_init_and_demo_twice(clean_app):
    runner = clean_app.test_cli_runner()
    first = runner.invoke(args=["init", "--admin-password", "Another#Pass1"])
    assert first.exit_code == 0, first.output
    assert "branch_congress v1" in first.output
    demo = runner.invoke(args=["demo"])
    assert demo.exit_code == 0 and "zhibu1" in demo.output
    with clean_app.app_context():
        after_first = _counts()
    assert runner.invoke(args=["init", "--admin-password", "Another#Pass1"]).exit_code == 0
    assert runner.invoke(args=["demo"]).exit_code == 0
    with clean_app.app_context():
        assert _counts() == after_first
        assert db.session.scalar(select(func.count()).select_from(User).where(User.username == "admin")) == 1
    client = clean_app.test_client()
    login = client.post("/api/auth/login", json={"username": "zhibu1", "password": "Demo#2026"})
    assert login.status_code == 200


def test_init_refuses_a_weak_admin_password(clean_app):
    result = clean_app.test_cli_runner().invoke(args=["init", "--admin-password", "admin"])
    assert result.exit_code == 2 and "letters, digits and a symbol" in result.output
