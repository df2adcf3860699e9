"""Process-definition upload: validation, versions, access."""
from pathlib import Path

from .helpers import assert_problem

BUNDLED = Path(__file__).resolve().parents[2] / "bpmn" / "branch_congress.bpmn"


def post_xml(api, xml: bytes):
    return api.client.post("/api/process-definitions", data=xml, headers={
        **api._headers(), "Content-Type": "application/xml"})


def test_bundled_definitions_listed(world):
    listed = world.users["sec_a"].ok("get", "/api/process-definitions")
    congress = next(d for d in listed if d["key"] == "branch_congress")
    assert congress["version"] == 1 and congress["category"] == "meeting" and congress["enabled"]
    xml = world.users["sec_a"].get("/api/process-definitions/branch_congress/xml?version=1")
    assert xml.status_code == 200 and xml.mimetype == "application/xml" and b"bpmndi:BPMNDiagram" in xml.data


def test_identical_upload_keeps_version_and_change_makes_new_one(world):
    xml = BUNDLED.read_bytes()
    same = post_xml(world.admin, xml)
    assert same.status_code == 200 and same.get_json()["version"] == 1
    changed = xml.replace("支部党员大会".encode(), "支部党员大会（修订）".encode(), 1)
    response = post_xml(world.admin, changed)
    assert response.status_code == 201 and response.get_json()["version"] == 2
    multipart = world.admin.client.post("/api/process-definitions", headers=world.admin._headers(),
                                        data={"file": (__import__("io").BytesIO(changed), "c.bpmn")})
    assert multipart.status_code == 200 and multipart.get_json()["version"] == 2


def test_only_platform_admin_uploads(world):
    assert_problem(post_xml(world.users["sec_a"], BUNDLED.read_bytes()), 403, "forbidden")


def test_invalid_bpmn_reports_element_ids(world):
    xml = BUNDLED.read_bytes().replace(b"voting_feedback_ratio &gt; 0.5", b"__import__('os').system('id')")
    xml = xml.replace(b'id="branch_congress"', b'id="evil_congress"')
    body = assert_problem(post_xml(world.admin, xml), 422, "invalid_bpmn")
    assert any(e["element_id"] == "flow_quorum_met" for e in body["errors"]), body
    doctype = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    assert_problem(post_xml(world.admin, doctype), 422, "invalid_bpmn")
    assert_problem(post_xml(world.admin, b""), 422, "invalid_bpmn")
    listed = world.admin.ok("get", "/api/process-definitions")
    assert "evil_congress" not in {d["key"] for d in listed}


def test_oversized_upload_is_413(world, clean_app):
    big = BUNDLED.read_bytes().replace(b"</bpmn:definitions>", b"<!--" + b"x" * 2_100_000 + b"--></bpmn:definitions>")
    assert_problem(post_xml(world.admin, big), 413, "bpmn_too_large")


def test_unknown_process_key(world):
    body = {"process_key": "no_such", "org_id": world.ids["branch_a"], "title": "x",
            "scheduled_at": "2099-01-01T09:00:00+08:00"}
    assert_problem(world.users["sec_a"].post("/api/meetings", json=body), 422, "unknown_process")


def _timed_meeting(**swap) -> bytes:
    xml = (Path(__file__).resolve().parents[1] / "data" / "timed_meeting.bpmn").read_bytes()
    for old, new in swap.items():
        xml = xml.replace(old.encode(), new.encode())
    return xml


def test_plain_tasks_and_unroutable_lanes_are_refused_at_upload(world):
    plain = _timed_meeting(**{'<bpmn:userTask id="confirm" name="确认" camunda:formKey="review.confirm" />':
                              '<bpmn:task id="confirm" name="确认" />'})
    body = assert_problem(post_xml(world.admin, plain), 422, "invalid_bpmn")
    assert [e["element_id"] for e in body["errors"]] == ["confirm"] and body["errors"][0]["line"]
    for lane in ("member", "sending_admin", "platform_admin"):
        body = assert_problem(post_xml(world.admin, _timed_meeting(**{'name="branch_admin"': f'name="{lane}"'})),
                              422, "invalid_bpmn")
        assert [e["element_id"] for e in body["errors"]] == ["lane_branch"], body
    assert "timed_meeting" not in {d["key"] for d in world.admin.ok("get", "/api/process-definitions")}
