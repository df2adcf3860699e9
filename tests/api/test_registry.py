"""The member registry: import with accounts, the template, the history library, history, export, edits."""
import io
from datetime import datetime

from openpyxl import Workbook, load_workbook

from service.extensions import db
from service.models import Member, Notification, Transfer, User
from service.services import member_import, spreadsheet_files

from .helpers import assert_problem

HEADER = "姓名,手机号,身份证号,党小组,人员类别,入党日期,出生日期,性别,支委职务,使用智能手机不便"
ELDER_ID = "11010519480101018X"  # born 1948-01-01, check character X
OTHER_ID = "320102195001150015"
BAD_ID = "320102195001150016"  # wrong check character


def upload(api, data: bytes, filename="m.csv", **form):
    form = {"org_id": str(form.pop("org_id")), **{k: str(v) for k, v in form.items()}}
    return api.client.post("/api/members/import", data={**form, "file": (io.BytesIO(data), filename)},
                           headers=api._headers(), content_type="multipart/form-data")


def csv_bytes(*lines: str, bom=True) -> bytes:
    return ("\ufeff" if bom else "").encode() + "\r\n".join((HEADER,) + lines).encode("utf-8")


def patch(api, member_id, body):
    return api.client.patch(f"/api/members/{member_id}", json=body, headers=api._headers())


def remove(api, member_id, reason=None):
    query = f"?reason={reason}" if reason else ""
    return api.client.delete(f"/api/members/{member_id}{query}", headers=api._headers())


def login(client, username, password):
    return client.post("/api/auth/login", json={"username": username, "password": password})


def names_in(api, org_id, deleted=False):
    return {m["name"] for m in api.ok("get", f"/api/members?org_id={org_id}&deleted={str(deleted).lower()}")}


def test_csv_import_creates_good_rows_and_reports_bad_ones_by_spreadsheet_row(world):
    w, sec = world, world.users["sec_a"]
    group = w.admin.ok("post", "/api/orgs", {"name": "第一小组", "kind": "group", "parent_id": w.ids["branch_a"]}, 201)
    body = upload(sec, csv_bytes(
        "张好,13700000001,,第一小组,正式党员,2015/7/1,,男,委员,否",   # row 2
        ",,,,,,,,,",                                                   # row 3: blank, skipped but counted
        ",13700000002,,,正式党员,2015-13-01,,,,",                      # row 4: no name, no such month
        f"王老,,{ELDER_ID.lower()},,正式党员,1970-07-01,,女,,是",       # row 5: elderly, no phone
        "抢号,13900000001,,,正式党员,2015-07-01,,,,",                  # row 6: B支部's number
        "重号,13700000001,,,预备党员,2020-07-01,,,,",                  # row 7: same phone as row 2
        f"错证,13700000003,{BAD_ID},,正式党员,2015-07-01,,,,",         # row 8
        "迷路,13700000004,,第九小组,正式党员,2015-07-01,,,,",           # row 9
        "无号,,,,预备党员,2021-07-01,,,,",                              # row 10: no account, not an error
        f"同证,13700000005,{ELDER_ID},,正式党员,2015-07-01,,,,",       # row 11: same ID as row 5
    ), org_id=w.ids["branch_a"])
    assert body.status_code == 200, body.get_json()
    result = body.get_json()
    assert result["created"] == 3
    assert [(e["row"], e["field"], e["code"]) for e in result["errors"]] == [
        (4, "name", "required"), (4, "joined_at", "invalid"), (6, "phone", "phone_taken"),
        (7, "phone", "phone_taken"), (8, "id_number", "invalid_id_number"), (9, "group", "unknown_group"),
        (11, "id_number", "id_number_taken")]
    messages = {e["row"]: e["message"] for e in result["errors"]}
    assert "B支部" in messages[6] and "row 2" in messages[7] and "row 5" in messages[11]
    accounts = {a["row"]: a for a in result["accounts"]}
    assert set(accounts) == {2, 5}  # row 10 has neither phone nor ID number
    assert accounts[2]["username"] == "13700000001" and accounts[5]["username"] == ELDER_ID
    members = {m["name"]: m for m in sec.ok("get", f"/api/members?org_id={w.ids['branch_a']}")}
    assert {"张好", "王老", "无号"} <= set(members) and len(members) == 10
    assert members["张好"]["group_id"] == group["id"] and members["张好"]["committee_role"] == "committee_member"
    assert members["王老"]["birth_date"] == "1948-01-01" and members["王老"]["id_number"] == ELDER_ID
    assert members["王老"]["smartphone_exempt"] is True and members["王老"]["smartphone_exempt_approved"] is False
    assert members["王老"]["gender"] == "female" and members["无号"]["category"] == "probationary"
    # The elderly member logs in with the ID number and the initial password, and must change it first.
    response = login(w.client, ELDER_ID, accounts[5]["initial_password"])
    assert response.status_code == 200 and response.get_json()["must_change_password"] is True
    elder = w.admin.as_user(ELDER_ID, accounts[5]["initial_password"])
    assert_problem(elder.get(f"/api/members/{accounts[5]['member_id']}"), 403, "password_change_required")
    elder.ok("post", "/api/auth/password", {"old_password": accounts[5]["initial_password"],
                                            "new_password": "Elder#2026x"}, 204)
    assert elder.ok("get", "/api/me")["roles"] == [{"role": "member", "org_id": w.ids["branch_a"]}]
    history = elder.ok("get", f"/api/members/{accounts[5]['member_id']}/history")
    assert [(p["org_name"], p["start_reason"]) for p in history] == [("A支部", "imported")]


def test_xlsx_import_with_one_initial_password(world):
    w = world
    book = Workbook()
    sheet = book.active
    sheet.append(["name", "phone", "id_number", "category", "joined_at", "committee_role", "smartphone_exempt"])
    sheet.append(["赵一", 13600000001, OTHER_ID, "预备党员", datetime(2019, 3, 8), "副书记", "是"])
    sheet.append([])
    sheet.append(["钱二", "13600000002", None, "full", "2018/05/04", None, None])
    sheet.append(["孙三", "13600000003", None, "党员", "2018-05-04", None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    assert_problem(upload(w.admin, buffer.getvalue(), "m.xlsx", org_id=w.ids["branch_a"],
                          initial_password="short"), 422, "weak_password")
    result = upload(w.admin, buffer.getvalue(), "m.xlsx", org_id=w.ids["branch_a"],
                    initial_password="Start#2026").get_json()
    assert result["created"] == 2
    assert [(e["row"], e["field"], e["code"]) for e in result["errors"]] == [(5, "category", "invalid")]
    assert [(a["row"], a["username"]) for a in result["accounts"]] == [(2, "13600000001"), (4, "13600000002")]
    assert all("initial_password" not in a for a in result["accounts"])
    zhao = w.admin.ok("get", f"/api/members/{result['accounts'][0]['member_id']}")
    assert (zhao["category"], zhao["joined_at"], zhao["birth_date"]) == ("probationary", "2019-03-08", "1950-01-15")
    assert zhao["committee_role"] == "deputy_secretary" and zhao["phone"] == "13600000001"
    assert zhao["smartphone_exempt_approved"] is True  # a platform admin's flag counts as approved
    response = login(w.client, "13600000002", "Start#2026")
    assert response.status_code == 200 and response.get_json()["must_change_password"] is True


def test_template_downloads_and_imports_as_it_is(world):
    response = world.users["sec_a"].get("/api/members/import-template.xlsx")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.data))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert ",".join(rows[0]) == HEADER and rows[1][0] == "张三" and len(rows) == 2
    help_rows = list(book["填写说明"].iter_rows(values_only=True))
    assert [r[0] for r in help_rows[1:11]] == HEADER.split(",")
    result = upload(world.users["sec_a"], response.data, "template.xlsx", org_id=world.ids["branch_a"]).get_json()
    assert result["created"] == 1 and result["errors"] == [] and result["accounts"][0]["initial_password"]


def test_a_file_that_cannot_be_imported_writes_nothing(world, monkeypatch):
    w, sec, branch = world, world.users["sec_a"], world.ids["branch_a"]
    good = "新人,13500000001,,,正式党员,2015-07-01,,,,"
    missing = "姓名,手机号,入党日期\n新人,13500000001,2015-07-01".encode()  # no 人员类别
    unknown = csv_bytes(good).replace("使用智能手机不便".encode(), "备注".encode())
    twice = csv_bytes(good).replace("性别".encode(), "姓名".encode())
    cases = [  # (file, name, words of the detail)
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "m.png", ".xlsx file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 20, "m.xls", ".xlsx file"),
        (b"PK\x03\x04 not really a workbook", "m.xlsx", "cannot be read"),
        (b"\x00\x01 binary,stuff", "m.csv", "not a CSV"),
        ("\r\n".join((HEADER, good)).encode("gbk"), "m.csv", "UTF-8"),
        (b"", "m.csv", "header"),
        ("\n".join(["", HEADER, good]).encode(), "m.csv", "header"),  # the header is not on row 1
        (missing, "m.csv", "template"), (unknown, "m.csv", "template"), (twice, "m.csv", "template"),
    ]
    for data, name, words in cases:
        assert words in assert_problem(upload(sec, data, name, org_id=branch), 422, "invalid_import")["detail"]
    header_problem = lambda data: assert_problem(upload(sec, data, org_id=branch), 422, "invalid_import")
    assert header_problem(unknown)["unknown_columns"] == ["备注"]
    assert header_problem(missing)["missing_columns"] == ["人员类别"]
    assert header_problem(twice)["duplicate_columns"] == ["name"]
    monkeypatch.setattr(spreadsheet_files, "MAX_BYTES", 1000)  # the test client leaks temp files for 5 MB bodies
    body = assert_problem(upload(sec, csv_bytes(good) + b"," * 1000, org_id=branch), 422, "invalid_import")
    assert body["max_bytes"] == 1000
    assert_problem(upload(sec, b"", "", org_id=branch), 422, "invalid_import")  # no file at all
    assert len(names_in(sec, branch)) == 7
    assert login(w.client, "13500000001", "whatever").status_code == 401
    assert upload(sec, csv_bytes(good), org_id=branch).get_json()["created"] == 1  # the same row, well framed


def test_five_thousand_rows_at_most(world):
    many = [f"人{i},,,,正式党员,2015-07-01,,,," for i in range(5001)]
    body = assert_problem(upload(world.admin, csv_bytes(*many), org_id=world.ids["branch_b"]), 422, "invalid_import")
    assert body["max_rows"] == 5000
    assert len(names_in(world.admin, world.ids["branch_b"])) == 1
    many[2500] = ""  # blank rows do not count
    result = upload(world.admin, csv_bytes(*many), org_id=world.ids["branch_b"]).get_json()
    assert result["created"] == 5000 and result["errors"] == [] and result["accounts"] == []


def test_a_database_conflict_aborts_the_whole_import(world, monkeypatch):
    # Validation misses a taken number only when someone takes it meanwhile; simulate that race.
    monkeypatch.setattr(member_import, "_holders", lambda column, values: {})
    data = csv_bytes("先到,13500000009,,,正式党员,2015-07-01,,,,", "撞号,13900000001,,,正式党员,2015-07-01,,,,")
    assert_problem(upload(world.admin, data, org_id=world.ids["branch_a"]), 409, "import_conflict")
    assert len(names_in(world.admin, world.ids["branch_a"])) == 7
    assert login(world.client, "13500000009", "x").status_code == 401


def test_import_is_for_admins_of_the_branch_or_above(world):
    data = csv_bytes("新人,13500000001,,,正式党员,2015-07-01,,,,")
    assert_problem(upload(world.users["sec_b"], data, org_id=world.ids["branch_a"]), 403, "forbidden")
    assert_problem(upload(world.users["m1"], data, org_id=world.ids["branch_a"]), 403, "forbidden")
    assert_problem(upload(world.users["zongzhi"], data, org_id=world.ids["general"]), 422, "invalid_org")
    assert upload(world.users["zongzhi"], data, org_id=world.ids["branch_a"]).get_json()["created"] == 1


def test_delete_to_the_history_library_and_restore(world):
    w, sec, branch = world, world.users["sec_a"], world.ids["branch_a"]
    m1 = w.ids["members_a"][1]
    assert remove(sec, m1, "出国定居").status_code == 204
    assert "乙" not in names_in(sec, branch) and names_in(sec, branch, deleted=True) == {"乙"}
    library = sec.ok("get", f"/api/members?org_id={branch}&deleted=true")
    assert library[0]["deleted_reason"] == "出国定居" and library[0]["deleted_at"]
    assert_problem(login(w.client, "m1", "Passw0rd!x2"), 403, "account_disabled")
    assert_problem(w.users["m1"].get("/api/me"), 403, "account_disabled")  # tokens already issued stop too
    assert_problem(remove(sec, m1), 409, "already_deleted")
    assert_problem(patch(sec, m1, {"name": "乙乙"}), 409, "member_deleted")
    assert_problem(w.users["sec_b"].post(f"/api/members/{m1}/restore"), 404, "member_not_found")
    assert sec.ok("post", f"/api/members/{m1}/restore")["deleted_at"] is None
    assert_problem(sec.post(f"/api/members/{m1}/restore"), 409, "not_deleted")
    assert "乙" in names_in(sec, branch) and names_in(sec, branch, deleted=True) == set()
    assert w.users["m1"].ok("get", "/api/me")["member_id"] == m1
    history = w.users["m1"].ok("get", f"/api/members/{m1}/history")
    assert [(p["start_reason"], p["end_reason"]) for p in history] == [("registered", "deleted"), ("restored", None)]
    assert history[0]["ended_at"] and history[1]["org_id"] == branch and history[1]["org_name"] == "A支部"


def test_delete_waits_for_a_pending_transfer(world, clean_app):
    m2 = world.ids["members_a"][2]
    with clean_app.app_context():
        db.session.add(Transfer(kind="in_system", member_id=m2, from_org_id=world.ids["branch_a"],
                                to_org_id=world.ids["branch_b"], reason="工作调动", status="pending", chain=[]))
        db.session.commit()
    assert_problem(remove(world.users["sec_a"], m2), 409, "transfer_pending")
    assert "丙" in names_in(world.users["sec_a"], world.ids["branch_a"])


def test_purge_is_a_platform_admins_act_and_erases_the_person(world, clean_app):
    w, sec, m3 = world, world.users["sec_a"], world.ids["members_a"][3]
    with clean_app.app_context():
        user_id = db.session.query(User).filter_by(username="m3").one().id
        db.session.add(Notification(user_id=user_id, kind="task_overdue", title="逾期"))
        db.session.commit()
    assert_problem(w.admin.post(f"/api/members/{m3}/purge"), 409, "not_deleted")
    assert remove(sec, m3).status_code == 204
    assert_problem(sec.post(f"/api/members/{m3}/purge"), 403, "forbidden")
    assert w.admin.post(f"/api/members/{m3}/purge").status_code == 204
    for path in (f"/api/members/{m3}", f"/api/members/{m3}/history"):
        assert_problem(w.admin.get(path), 404, "member_not_found")
    assert_problem(w.admin.post(f"/api/members/{m3}/restore"), 404, "member_not_found")
    assert names_in(sec, w.ids["branch_a"], deleted=True) == set()
    assert_problem(login(w.client, "m3", "Passw0rd!x2"), 401, "invalid_credentials")
    with clean_app.app_context():
        row = db.session.get(Member, m3)
        assert (row.name, row.phone, row.id_number, row.purged_at is not None) == ("（已清除）", None, None, True)
        assert db.session.get(User, user_id) is None
    # The number is free again.
    w.admin.ok("post", "/api/members", {"name": "新丁", "phone": "13800000003", "org_id": w.ids["branch_b"],
                                        "category": "full", "joined_at": "2020-01-01"}, 201)


def test_history_is_visible_to_whoever_may_see_the_member(world):
    m1 = world.ids["members_a"][1]
    mine = world.users["m1"].ok("get", f"/api/members/{m1}/history")
    assert [(p["org_id"], p["start_reason"], p["ended_at"]) for p in mine] == [(world.ids["branch_a"], "registered", None)]
    assert world.users["zongzhi"].ok("get", f"/api/members/{m1}/history") == mine
    assert_problem(world.users["sec_b"].get(f"/api/members/{m1}/history"), 404, "member_not_found")
    assert_problem(world.users["m2"].get(f"/api/members/{m1}/history"), 404, "member_not_found")


def test_export_covers_the_subtree_and_never_writes_formulas(world):
    w = world
    w.admin.ok("post", "/api/members", {"name": "=1+1", "phone": "13500000077", "org_id": w.ids["branch_b"],
                                        "category": "full", "joined_at": "2020-01-01", "id_number": OTHER_ID}, 201)
    assert remove(w.users["sec_a"], w.ids["members_a"][4], "=HYPERLINK(\"x\")").status_code == 204
    response = w.users["dangwei"].get(f"/api/members/export.xlsx?org_id={w.ids['committee']}")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("编号", "姓名", "手机号", "身份证号", "所在支部")
    by_name = {r[1]: r for r in rows[1:]}
    assert len(by_name) == 8 and "戊" not in by_name  # 6 current of A, 2 of B
    assert by_name["=1+1"][3:5] == (OTHER_ID, "B支部") and by_name["甲书记"][4] == "A支部"
    assert by_name["甲书记"][6] == "正式党员" and by_name["甲书记"][10] == "书记" and by_name["丁"][11] == "是"
    formula_cell = next(c for c in sheet["B"] if c.value == "=1+1")
    assert formula_cell.data_type == "s"
    library = load_workbook(io.BytesIO(w.users["sec_a"].get(
        f"/api/members/export.xlsx?org_id={w.ids['branch_a']}&deleted=true").data)).active
    rows = list(library.iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][1] == "戊" and rows[0][-1] == "删除原因" and rows[1][-1] == "=HYPERLINK(\"x\")"
    assert library.cell(row=2, column=len(rows[0])).data_type == "s"
    assert_problem(w.users["sec_b"].get(f"/api/members/export.xlsx?org_id={w.ids['branch_a']}"), 403, "forbidden")


def test_create_member_with_id_number(world):
    w = world
    body = {"name": "新人", "phone": "13500000011", "org_id": w.ids["branch_a"], "category": "full",
            "joined_at": "2020-01-01", "id_number": ELDER_ID.lower(), "smartphone_exempt": True}
    created = w.users["sec_a"].ok("post", "/api/members", body, 201)
    assert created["id_number"] == ELDER_ID and created["smartphone_exempt_approved"] is False
    again = {**body, "phone": "13500000012", "org_id": w.ids["branch_b"], "id_number": ELDER_ID}
    problem = assert_problem(w.admin.post("/api/members", json=again), 409, "id_number_taken")
    assert problem["org_name"] == "A支部" and "A支部" in problem["detail"]
    assert_problem(w.admin.post("/api/members", json={**again, "id_number": BAD_ID}), 422, "invalid_id_number")
    by_admin = w.admin.ok("post", "/api/members", {**again, "id_number": None}, 201)
    assert by_admin["smartphone_exempt_approved"] is True and by_admin["deleted_reason"] is None


def test_patch_edits_the_registry_entry(world):
    w, sec = world, world.users["sec_a"]
    probationary = w.ids["members_a"][5]
    edited = patch(sec, probationary, {"category": "full", "id_number": OTHER_ID, "gender": "female"}).get_json()
    assert (edited["category"], edited["id_number"], edited["gender"]) == ("full", OTHER_ID, "female")
    assert w.users["m5"].ok("get", f"/api/members/{probationary}")["id_number"] == OTHER_ID  # the member sees it
    other = w.ids["members_a"][6]
    assert_problem(patch(sec, other, {"id_number": OTHER_ID}), 409, "id_number_taken")
    assert_problem(patch(sec, other, {"id_number": BAD_ID}), 422, "invalid_id_number")
    assert assert_problem(patch(sec, other, {"phone": "13900000001"}), 409, "phone_taken")["org_name"] == "B支部"
    assert patch(sec, other, {"phone": "13800000006"}).status_code == 200  # its own number is no conflict
    group_b = w.admin.ok("post", "/api/orgs", {"name": "B小组", "kind": "group", "parent_id": w.ids["branch_b"]}, 201)
    assert_problem(patch(sec, other, {"group_id": group_b["id"]}), 422, "invalid_group")
    group_a = w.admin.ok("post", "/api/orgs", {"name": "A小组", "kind": "group", "parent_id": w.ids["branch_a"]}, 201)
    assert patch(sec, other, {"group_id": group_a["id"]}).get_json()["group_id"] == group_a["id"]
    assert_problem(patch(sec, other, {"org_id": w.ids["branch_b"]}), 422, "use_transfer")
    assert_problem(patch(sec, other, {}), 422, "no_changes")
    assert_problem(patch(w.users["sec_b"], other, {"name": "x"}), 404, "member_not_found")
    assert_problem(patch(w.users["m5"], probationary, {"name": "x"}), 403, "forbidden")
    assert w.users["zongzhi"].client.patch(f"/api/members/{other}", json={"committee_role": "committee_member"},
                                           headers=w.users["zongzhi"]._headers()).status_code == 200


def test_patch_smartphone_exempt_approval(world):
    w, sec, member = world, world.users["sec_a"], world.ids["members_a"][2]
    flagged = patch(sec, member, {"smartphone_exempt": True}).get_json()
    assert flagged["smartphone_exempt"] is True and flagged["smartphone_exempt_approved"] is False
    approved = patch(w.admin, member, {"smartphone_exempt": True}).get_json()
    assert approved["smartphone_exempt_approved"] is True
    assert patch(sec, member, {"name": "丙丙"}).get_json()["smartphone_exempt_approved"] is True
    cleared = patch(sec, member, {"smartphone_exempt": False}).get_json()
    assert cleared["smartphone_exempt"] is False and cleared["smartphone_exempt_approved"] is False


def test_a_branch_admin_cannot_disable_a_superiors_account(world):
    w = world
    member = w.ids["members_a"][4]  # 戊 has no account yet: give them the 党总支's administration
    w.admin.ok("post", "/api/users", {"username": "zz_member", "password": "Passw0rd!x", "member_id": member,
                                      "roles": [{"role": "org_admin", "org_id": w.ids["general"]}]}, 201)
    assert_problem(remove(w.users["sec_a"], member), 403, "forbidden")
    assert remove(w.users["zongzhi"], member).status_code == 204


def test_a_deleted_member_leaves_the_meetings_not_yet_held(world):
    from .helpers import future
    w = world
    meeting = w.users["sec_a"].ok("post", "/api/meetings", {"process_key": "branch_congress",
                                                             "org_id": w.ids["branch_a"], "title": "大会",
                                                             "scheduled_at": future(5)}, 201)
    before = w.users["sec_a"].ok("get", f"/api/meetings/{meeting['id']}")["attendance"]
    assert remove(w.users["sec_a"], w.ids["members_a"][2]).status_code == 204
    after = w.users["sec_a"].ok("get", f"/api/meetings/{meeting['id']}")["attendance"]
    assert (after["invited"], after["expected_voting"]) == (before["invited"] - 1, before["expected_voting"] - 1)


def test_a_rejected_row_does_not_reserve_its_number_for_the_rows_after_it(world):
    sec = world.users["sec_a"]
    result = upload(sec, csv_bytes(",13711110000,,,正式党员,2010-07-01,,,,",
                                   "好行,13711110000,,,正式党员,2010-07-01,,,,"), org_id=world.ids["branch_a"])
    body = result.get_json()
    assert body["created"] == 1 and [(e["row"], e["code"]) for e in body["errors"]] == [(2, "required")]


def test_generated_passwords_still_log_in_and_must_be_changed(world):
    sec = world.users["sec_a"]
    body = upload(sec, csv_bytes("新人,13711112222,,,正式党员,2010-07-01,,,,"), org_id=world.ids["branch_a"]).get_json()
    account = body["accounts"][0]
    response = login(world.client, account["username"], account["initial_password"])
    assert response.status_code == 200 and response.get_json()["must_change_password"] is True


def test_no_import_into_a_retired_branch(world):
    w = world
    branch_d = w.admin.ok("post", "/api/orgs", {"name": "D支部", "kind": "branch", "parent_id": w.ids["general"]},
                          201)["id"]
    merge = w.users["zongzhi"].ok("post", "/api/org-transfers", {"kind": "merge", "org_id": branch_d,
                                                                  "into_org_id": w.ids["branch_a"], "reason": "合并"},
                                  201)
    task = [t for t in w.users["zongzhi"].ok("get", "/api/tasks?state=open") if t["subject"]["id"] == merge["id"]][0]
    w.users["zongzhi"].ok("post", f"/api/tasks/{task['id']}/complete", {"approved": True})
    assert_problem(upload(w.users["zongzhi"], csv_bytes("x,13711113333,,,正式党员,2010-07-01,,,,"), org_id=branch_d),
                   422, "org_retired")


def test_purge_blanks_the_notices_that_named_the_member(world):
    w = world
    member = w.ids["members_a"][2]
    w.users["sec_b"].ok("post", "/api/flows", {"member_id": member, "direction": "in", "org_id": w.ids["branch_b"],
                                               "destination": "B支部所在地", "from_date": "2026-12-01",
                                               "contact": "本人"}, 201)
    assert any("丙" in n["title"] for n in w.users["sec_a"].ok("get", "/api/notifications"))
    assert remove(w.users["sec_a"], member).status_code == 204
    assert w.admin.post(f"/api/members/{member}/purge").status_code == 204
    assert not any("丙" in (n["title"] + (n["body"] or "")) for n in w.users["sec_a"].ok("get", "/api/notifications"))
