"""Every file of the hostile BPMN corpus, uploaded over HTTP by a platform admin, is refused and stored nowhere."""
from pathlib import Path

from .helpers import assert_problem

HOSTILE = Path(__file__).resolve().parents[1] / "data" / "hostile"
CORPUS = sorted(HOSTILE.rglob("*.bpmn"))
BUNDLED = Path(__file__).resolve().parents[2] / "bpmn" / "branch_congress.bpmn"
SENTINEL = Path("/tmp/orglife-hostile-pwned")


def post_xml(api, xml: bytes):
    return api.client.post("/api/process-definitions", data=xml, headers={
        **api._headers(), "Content-Type": "application/xml"})


def _stored(api) -> set:
    return {(d["key"], d["version"]) for d in api.ok("get", "/api/process-definitions")}


def test_every_hostile_file_is_refused_over_http_and_nothing_is_stored(world):
    SENTINEL.unlink(missing_ok=True)
    before = _stored(world.admin)
    assert len(CORPUS) >= 180
    for path in CORPUS:
        data = path.read_bytes()
        response = post_xml(world.admin, data)
        if not data.strip():  # the empty document: refused before the engine sees it
            assert_problem(response, 422, "invalid_bpmn")
            continue
        body = assert_problem(response, 422, "invalid_bpmn")
        assert body["errors"], path.name
        for error in body["errors"]:
            assert set(error) >= {"element_id", "message", "line"}, (path.name, error)
        assert any(isinstance(e["line"], int) for e in body["errors"]), (path.name, body["errors"])
        multipart = world.admin.client.post("/api/process-definitions", headers=world.admin._headers(),
                                            data={"file": (__import__("io").BytesIO(data), path.name)})
        assert multipart.status_code == 422, (path.name, multipart.status_code)
    assert _stored(world.admin) == before
    assert not SENTINEL.exists()


def test_oversized_files_are_413_and_not_stored(world):
    before = _stored(world.admin)
    padding = b"<!--" + b"x" * 2_000_001 + b"-->"
    for name in ("structure/plain_task.bpmn", "conditions/cond_dunder_import.bpmn", "xml/xxe_parameter_entity.bpmn"):
        xml = (HOSTILE / name).read_bytes()
        big = xml.replace(b"</bpmn:definitions>", padding + b"</bpmn:definitions>")
        assert_problem(post_xml(world.admin, big), 413, "bpmn_too_large")
    valid_but_big = BUNDLED.read_bytes().replace(b"</bpmn:definitions>", padding + b"</bpmn:definitions>")
    assert_problem(post_xml(world.admin, valid_but_big), 413, "bpmn_too_large")
    assert _stored(world.admin) == before
