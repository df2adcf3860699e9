"""The BPMN modeler page (/admin/modeler) in headless Chromium: edit, validate, deploy; refuse non-admins."""
import re
from pathlib import Path

from .conftest import ADMIN_PASSWORD, USER_PASSWORD

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or fail under ORGLIFE_REQUIRE_BROWSER=1) before expect is needed
    expect = None


def _log_in(page, username: str, password: str) -> None:
    page.goto("/admin/modeler")
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click("#login-submit")


def _set_text(page, selector: str, value: str) -> None:
    """Type into a properties panel field and leave it (blur commits at once, without the debounce)."""
    field = page.locator(selector)
    field.fill(value)
    field.press("Tab")
    expect(page.locator(selector)).to_have_value(value)


def _select_on_canvas(page, element_id: str) -> None:
    page.locator(f'.djs-element[data-element-id="{element_id}"]').first.click()
    expect(page.locator(f'.djs-element.selected[data-element-id="{element_id}"]')).to_have_count(1)
    expect(page.locator("#bio-properties-panel-id")).to_have_value(element_id)


def _select_by_api(page, element_id: str) -> None:
    """Select through bpmn-js' selection service: for lanes and short flows, whose labels cover them."""
    page.evaluate("""(id) => {
        const modeler = window.orglifeModeler;
        modeler.get('selection').select(modeler.get('elementRegistry').get(id));
    }""", element_id)
    expect(page.locator("#bio-properties-panel-id")).to_have_value(element_id)


def test_admin_edits_validates_and_deploys_a_meeting_definition(page, api):
    client, login = api
    admin = login("admin", ADMIN_PASSWORD)
    before = {d["key"]: d["version"] for d in client.get("/api/process-definitions", headers=admin).get_json()}

    _log_in(page, "admin", ADMIN_PASSWORD)
    expect(page.locator("#editor-view")).to_be_visible()
    expect(page.locator("#whoami-name")).to_have_text("admin")
    assert page.evaluate("sessionStorage.getItem('orglife.accessToken')")

    # open the deployed branch congress
    page.locator('.open-definition[data-key="branch_congress"]').click()
    expect(page.locator('.djs-element[data-element-id="notify"]')).to_be_visible()
    expect(page.locator("#current")).to_contain_text("branch_congress")

    # give the first task an action the service does not know, through the properties panel
    _select_on_canvas(page, "notify")
    expect(page.locator("#bio-properties-panel-formKey")).to_have_value("meeting.notify")
    _set_text(page, "#bio-properties-panel-formKey", "no.such_action")
    expect(page.locator("#dirty")).to_be_visible()

    # 校验: the report names the element and its line; clicking it selects the element in the canvas
    page.click("#btn-validate")
    problem = page.locator('#report-errors li[data-element-id="notify"]')
    expect(problem).to_contain_text("no.such_action")
    expect(problem.locator(".where")).to_have_text(re.compile(r"第 \d+ 行 · notify"))
    expect(page.locator('.djs-element.orglife-error[data-element-id="notify"]')).to_have_count(1)
    page.locator(".djs-element[data-element-id='start']").first.click()  # select something else first
    problem.click()
    expect(page.locator('.djs-element.selected[data-element-id="notify"]')).to_have_count(1)
    expect(page.locator("#bio-properties-panel-id")).to_have_value("notify")

    # fix it, rename the task, and a due date on the next task
    _set_text(page, "#bio-properties-panel-formKey", "meeting.notify")
    _set_text(page, "#bio-properties-panel-name", "发出会议通知")
    _select_on_canvas(page, "close_feedback")
    _set_text(page, "#bio-properties-panel-dueDate", "P5D")
    _select_by_api(page, "flow_quorum_met")
    expect(page.locator("#bio-properties-panel-conditionExpression")).to_have_value("voting_feedback_ratio > 0.5")
    _set_text(page, "#bio-properties-panel-conditionExpression", "voting_feedback_ratio >= 0.6")
    page.click("#btn-validate")
    expect(page.locator("#report")).to_have_class(re.compile(r"\bok\b"))
    expect(page.locator("#report-title")).to_contain_text("校验通过")
    expect(page.locator("#report-errors li")).to_have_count(0)

    # 部署: a new version
    page.click("#btn-deploy")
    new_version = before["branch_congress"] + 1
    expect(page.locator("#report-title")).to_contain_text(f"新版本 {new_version}")
    expect(page.locator("#dirty")).to_be_hidden()
    expect(page.locator('.open-definition[data-key="branch_congress"]')).to_contain_text(f"版本 {new_version}")

    listed = {d["key"]: d for d in client.get("/api/process-definitions", headers=admin).get_json()}
    assert listed["branch_congress"]["version"] == new_version
    xml = client.get(f"/api/process-definitions/branch_congress/xml?version={new_version}", headers=admin).get_data(
        as_text=True)
    assert re.search(r'id="notify"[^>]*name="发出会议通知"|name="发出会议通知"[^>]*id="notify"', xml)
    assert 'camunda:formKey="meeting.notify"' in xml and "no.such_action" not in xml
    assert re.search(r'id="close_feedback"[^>]*camunda:dueDate="P5D"', xml)
    assert "voting_feedback_ratio &gt;= 0.6" in xml
    assert ">cancelled</bpmn:conditionExpression>" in xml  # the other conditions survive the round trip

    # deploying the same diagram again is not a new version
    page.click("#btn-deploy")
    expect(page.locator("#report-title")).to_contain_text(f"内容未变化，仍为版本 {new_version}")


def test_deploy_shows_the_rejection_inline(page):
    _log_in(page, "admin", ADMIN_PASSWORD)
    page.locator('.open-definition[data-key="party_class"]').click()
    expect(page.locator('.djs-element[data-element-id^="lane_"]').first).to_be_visible()
    lane_id = page.locator('.djs-shape[data-element-id^="lane_"]').first.get_attribute("data-element-id")
    _select_by_api(page, lane_id)  # then rename the lane through its name field
    _set_text(page, "#bio-properties-panel-name", "no_such_role")
    page.click("#btn-deploy")
    expect(page.locator("#report-title")).to_contain_text("部署被拒绝")
    expect(page.locator(f'#report-errors li[data-element-id="{lane_id}"]')).to_contain_text("no_such_role")


def test_new_skeleton_and_vocabulary(page):
    _log_in(page, "admin", ADMIN_PASSWORD)
    expect(page.locator("#editor-view")).to_be_visible()
    page.click("#btn-new")
    expect(page.locator('.djs-element[data-element-id="start"]')).to_be_visible()
    expect(page.locator("#current")).to_contain_text("未部署")
    # the vocabulary from the API sets a lane's name
    expect(page.locator('#vocab-lanes button[data-value="superior_admin"]')).to_be_visible()
    _select_by_api(page, "lane_branch_admin")
    page.click('#vocab-lanes button[data-value="superior_admin"]')
    expect(page.locator("#bio-properties-panel-name")).to_have_value("superior_admin")
    with page.expect_download() as download:
        page.click("#btn-download")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert 'name="superior_admin"' in text and "camunda:property" in text


def test_a_non_admin_is_refused(page, api):
    client, login = api
    admin = login("admin", ADMIN_PASSWORD)
    org = client.post("/api/orgs", json={"name": "浏览器测试党委", "kind": "committee", "parent_id": None},
                      headers=admin)
    assert org.status_code == 201, org.get_json()
    created = client.post("/api/users", headers=admin, json={
        "username": "branch_sec", "password": "Initial#2026", "member_id": None,
        "roles": [{"role": "org_admin", "org_id": org.get_json()["id"]}]})
    assert created.status_code == 201, created.get_json()
    first = login("branch_sec", "Initial#2026")
    changed = client.post("/api/auth/password", headers=first,
                          json={"old_password": "Initial#2026", "new_password": USER_PASSWORD})
    assert changed.status_code == 204, changed.get_json()

    _log_in(page, "branch_sec", "wrong password")
    expect(page.locator("#login-error")).to_have_text("用户名或密码错误。")

    _log_in(page, "branch_sec", USER_PASSWORD)
    expect(page.locator("#denied-view")).to_be_visible()
    expect(page.locator("#denied-message")).to_contain_text("仅平台管理员可用")
    expect(page.locator("#editor-view")).to_be_hidden()
    expect(page.locator(".djs-container")).to_have_count(0)  # no editor was even created

    page.click("#logout")
    expect(page.locator("#login-view")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('orglife.accessToken')") is None
