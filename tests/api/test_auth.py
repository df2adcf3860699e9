"""Login, lockout, first-login password change, password policy, problem+json."""
from datetime import timedelta

from service.database import utcnow
from service.extensions import db
from service.models import User

from .helpers import assert_problem


def login(client, username, password):
    return client.post("/api/auth/login", json={"username": username, "password": password})


def test_login_and_me(world):
    me = world.users["sec_a"].ok("get", "/api/me")
    assert me["username"] == "sec_a" and me["member_id"] == world.ids["members_a"][0]
    assert me["roles"] == [{"role": "org_admin", "org_id": world.ids["branch_a"]}]
    assert me["must_change_password"] is False


def test_wrong_password_and_unknown_user_are_401(world):
    assert_problem(login(world.client, "sec_a", "nope"), 401, "invalid_credentials")
    assert_problem(login(world.client, "ghost", "nope"), 401, "invalid_credentials")


def test_three_failures_lock_for_an_hour(world, clean_app):
    for _ in range(3):
        assert_problem(login(world.client, "m1", "wrong-password"), 401, "invalid_credentials")
    body = assert_problem(login(world.client, "m1", "Passw0rd!x2"), 423, "account_locked")
    assert body["locked_until"]
    with clean_app.app_context():  # an hour later the lock has lapsed
        user = db.session.query(User).filter_by(username="m1").one()
        user.locked_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert login(world.client, "m1", "Passw0rd!x2").status_code == 200


def test_success_resets_the_failure_count(world):
    for _ in range(2):
        login(world.client, "m2", "wrong-password")
    assert login(world.client, "m2", "Passw0rd!x2").status_code == 200
    for _ in range(2):
        login(world.client, "m2", "wrong-password")
    assert login(world.client, "m2", "Passw0rd!x2").status_code == 200


def test_admin_unlocks(world):
    uid = world.users["m3"].ok("get", "/api/me")["id"]
    for _ in range(3):
        login(world.client, "m3", "wrong-password")
    assert_problem(login(world.client, "m3", "Passw0rd!x2"), 423, "account_locked")
    assert_problem(world.users["sec_b"].post(f"/api/users/{uid}/unlock"), 403, "forbidden")
    world.users["sec_a"].ok("post", f"/api/users/{uid}/unlock")
    assert login(world.client, "m3", "Passw0rd!x2").status_code == 200


def test_new_account_must_change_password_first(world):
    w = world
    w.admin.ok("post", "/api/users", {"username": "newbie", "password": "Init#1234",
                                       "roles": [{"role": "member", "org_id": w.ids["branch_a"]}]}, 201)
    token = login(w.client, "newbie", "Init#1234").get_json()
    assert token["must_change_password"] is True
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert_problem(w.client.get("/api/tasks", headers=headers), 403, "password_change_required")
    assert w.client.get("/api/me", headers=headers).get_json()["must_change_password"] is True
    for weak in ("short1!", "noDigits!!", "NoSymbol123", "12345678!"):
        response = w.client.post("/api/auth/password", json={"old_password": "Init#1234", "new_password": weak},
                                 headers=headers)
        assert_problem(response, 422, "weak_password")
    assert_problem(w.client.post("/api/auth/password", json={"old_password": "bad", "new_password": "Good#Pass1"},
                                 headers=headers), 422, "wrong_password")
    assert w.client.post("/api/auth/password", json={"old_password": "Init#1234", "new_password": "Good#Pass1"},
                         headers=headers).status_code == 204
    assert w.client.get("/api/tasks", headers=headers).status_code == 200


def test_weak_initial_password_refused(world):
    body = {"username": "weak", "password": "password", "roles": [{"role": "member", "org_id": world.ids["branch_a"]}]}
    assert_problem(world.admin.post("/api/users", json=body), 422, "weak_password")


def test_missing_or_bad_token(world):
    assert_problem(world.client.get("/api/tasks"), 401, "unauthenticated")
    assert_problem(world.client.get("/api/tasks", headers={"Authorization": "Bearer forged"}), 401, "invalid_token")


def test_validation_errors_are_problems_with_field_map(world):
    body = assert_problem(world.client.post("/api/auth/login", json={"username": "x"}), 422, "validation_error")
    assert "password" in body["errors"]


def test_unknown_route_is_problem(world):
    assert_problem(world.admin.get("/api/nothing-here"), 404, "not_found")


def test_openapi_and_docs(world):
    spec = world.client.get("/api/openapi.json").get_json()
    assert "/api/tasks/{task_id}/complete" in spec["paths"] and "bearerAuth" in spec["components"]["securitySchemes"]
    docs = world.client.get("/api/docs")
    assert docs.status_code == 200 and b"swagger-ui" in docs.data
    asset = world.client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert asset.status_code == 200
    asset.close()


def test_malformed_json_is_a_clear_problem(world):
    response = world.client.post("/api/auth/login", data="not json", headers={"Content-Type": "application/json"})
    assert_problem(response, 400, "invalid_json")


def test_wrong_old_passwords_lock_the_account_and_its_tokens(world):
    m1 = world.users["m1"]
    for _ in range(3):
        assert_problem(m1.post("/api/auth/password", json={"old_password": "guess", "new_password": "Good#Pass1"}),
                       422, "wrong_password")
    assert_problem(m1.get("/api/me"), 423, "account_locked")
    assert_problem(login(world.client, "m1", "Passw0rd!x2"), 423, "account_locked")
