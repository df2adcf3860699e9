"""The org tree, members and users."""
from .helpers import assert_problem


def test_superior_is_nearest_general_branch_else_committee(world):
    a = world.admin.ok("get", f"/api/orgs/{world.ids['branch_a']}")
    b = world.admin.ok("get", f"/api/orgs/{world.ids['branch_b']}")
    assert a["superior_id"] == world.ids["general"] and b["superior_id"] == world.ids["committee"]
    kids = world.admin.ok("get", f"/api/orgs/{world.ids['committee']}/children")
    assert {k["id"] for k in kids} == {world.ids["general"], world.ids["branch_b"]}


def test_invalid_parents(world):
    admin, ids = world.admin, world.ids
    for kind, parent in [("general_branch", ids["branch_a"]), ("branch", None), ("group", ids["general"]),
                         ("committee", ids["branch_a"])]:
        response = admin.post("/api/orgs", json={"name": "x", "kind": kind, "parent_id": parent})
        assert_problem(response, 422, "invalid_parent")
    assert_problem(admin.post("/api/orgs", json={"name": "x", "kind": "branch", "parent_id": 9999}), 404,
                   "org_not_found")
    group = admin.ok("post", "/api/orgs", {"name": "第一小组", "kind": "group", "parent_id": ids["branch_a"]}, 201)
    assert group["superior_id"] == ids["general"]


def test_phone_is_unique_system_wide_and_error_names_the_org(world):
    body = {"name": "重复", "phone": "13800000001", "org_id": world.ids["branch_b"], "category": "full",
            "joined_at": "2020-01-01"}
    problem = assert_problem(world.admin.post("/api/members", json=body), 409, "phone_taken")
    assert problem["org_name"] == "A支部" and "A支部" in problem["detail"]


def test_members_only_in_branches_and_scoped(world):
    body = {"name": "x", "org_id": world.ids["general"], "category": "full", "joined_at": "2020-01-01"}
    assert_problem(world.admin.post("/api/members", json=body), 422, "invalid_org")
    body["org_id"] = world.ids["branch_a"]
    assert_problem(world.users["sec_b"].post("/api/members", json=body), 403, "forbidden")
    assert_problem(world.admin.post("/api/members", json={**body, "category": "guest"}), 422, "validation_error")
    listed = world.users["zongzhi"].ok("get", f"/api/members?org_id={world.ids['branch_a']}")
    assert len(listed) == 7
    assert_problem(world.users["sec_b"].get(f"/api/members?org_id={world.ids['branch_a']}"), 403, "forbidden")


def test_branch_admin_cannot_grant_platform_admin(world):
    body = {"username": "sneaky", "password": "Passw0rd!x", "roles": [{"role": "platform_admin"}]}
    assert_problem(world.users["sec_a"].post("/api/users", json=body), 403, "forbidden")
    body["roles"] = [{"role": "org_admin", "org_id": world.ids["branch_b"]}]
    assert_problem(world.users["sec_a"].post("/api/users", json=body), 403, "forbidden")
    body["roles"] = [{"role": "member", "org_id": world.ids["branch_a"]}]
    assert world.users["sec_a"].post("/api/users", json=body).status_code == 201
    assert_problem(world.users["sec_a"].post("/api/users", json=body), 409, "username_taken")


def test_a_member_has_at_most_one_account(world):
    body = {"username": "m1_again", "password": "Passw0rd!x", "member_id": world.ids["members_a"][1],
            "roles": [{"role": "member", "org_id": world.ids["branch_a"]}]}
    assert_problem(world.users["sec_a"].post("/api/users", json=body), 409, "member_has_account")
