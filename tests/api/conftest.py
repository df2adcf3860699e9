"""A world for the API tests: 党委 > 党总支 > branch A (7 members), branch B under the 党委, their admins."""
from dataclasses import dataclass, field

import pytest

from .helpers import Api

PW = "Passw0rd!x"


@dataclass
class World:
    admin: Api
    client: object
    ids: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)

    def login(self, name: str) -> Api:
        return self.admin.as_user(name, PW + "2")


def _user(admin: Api, world: World, name: str, roles, member_id=None):
    admin.ok("post", "/api/users", {"username": name, "password": PW, "member_id": member_id, "roles": roles}, 201)
    api = admin.as_user(name, PW)
    api.ok("post", "/api/auth/password", {"old_password": PW, "new_password": PW + "2"}, 204)
    world.users[name] = api


MEMBERS_A = [("甲书记", "full", "secretary", False), ("乙", "full", None, False), ("丙", "full", None, False),
             ("丁", "full", None, True), ("戊", "full", None, False), ("己预备", "probationary", None, False),
             ("庚预备", "probationary", None, False)]


@pytest.fixture()
def world(clean_app):
    client = clean_app.test_client()
    admin = Api(client).as_user("admin", "Admin#2026")
    w = World(admin=admin, client=client)
    org = lambda name, kind, parent: admin.ok("post", "/api/orgs", {"name": name, "kind": kind, "parent_id": parent}, 201)["id"]
    w.ids["committee"] = org("党委", "committee", None)
    w.ids["general"] = org("党总支", "general_branch", w.ids["committee"])
    w.ids["branch_a"] = org("A支部", "branch", w.ids["general"])
    w.ids["branch_b"] = org("B支部", "branch", w.ids["committee"])
    w.ids["members_a"] = [admin.ok("post", "/api/members", {
        "name": n, "phone": f"1380000{i:04d}", "org_id": w.ids["branch_a"], "category": c, "joined_at": "2015-07-01",
        "committee_role": r, "smartphone_exempt": ex}, 201)["id"] for i, (n, c, r, ex) in enumerate(MEMBERS_A)]
    w.ids["member_b"] = admin.ok("post", "/api/members", {"name": "B党员", "phone": "13900000001",
                                 "org_id": w.ids["branch_b"], "category": "full", "joined_at": "2015-07-01"}, 201)["id"]
    _user(admin, w, "sec_a", [{"role": "org_admin", "org_id": w.ids["branch_a"]}], w.ids["members_a"][0])
    _user(admin, w, "sec_b", [{"role": "org_admin", "org_id": w.ids["branch_b"]}], w.ids["member_b"])
    _user(admin, w, "zongzhi", [{"role": "org_admin", "org_id": w.ids["general"]}])
    _user(admin, w, "dangwei", [{"role": "org_admin", "org_id": w.ids["committee"]}])
    for i in (1, 2, 3, 5):
        _user(admin, w, f"m{i}", [{"role": "member", "org_id": w.ids["branch_a"]}], w.ids["members_a"][i])
    return w
