"""Meeting attachments through the HTTP API: who may upload and download, and what is refused."""
import io

import pytest
from sqlalchemy import event, select
from werkzeug.datastructures import FileStorage

from service.database import transaction
from service.errors import ApiError
from service.extensions import db
from service.models import Attachment, Meeting, User
from service.services import attachments

from .helpers import assert_problem, future

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"


@pytest.fixture()
def store(clean_app, tmp_path, monkeypatch):
    """Attachments go to a per-test directory (clean_app is shared by the whole session)."""
    monkeypatch.setitem(clean_app.config, "ATTACHMENT_DIR", str(tmp_path))
    return tmp_path


def create_meeting(w):
    body = {"process_key": "branch_congress", "org_id": w.ids["branch_a"], "title": "第四季度支部党员大会",
            "scheduled_at": future(), "location": "党员活动室"}
    return w.users["sec_a"].ok("post", "/api/meetings", body, 201)["id"]


def send(api, meeting_id, content: bytes, filename="photo.png"):
    return api.client.post(f"/api/meetings/{meeting_id}/attachments", data={"file": (io.BytesIO(content), filename)},
                           headers=api._headers(), content_type="multipart/form-data")


def upload(api, meeting_id, content: bytes, filename="photo.png"):
    response = send(api, meeting_id, content, filename)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def stored_files(store):
    return [p for p in store.rglob("*") if p.is_file()]


def test_upload_and_download_by_everyone_who_may_see_the_meeting(world, store):
    meeting_id = create_meeting(world)
    body = upload(world.users["sec_a"], meeting_id, PNG, "会议现场.png")
    assert body["filename"] == "会议现场.png" and body["content_type"] == "image/png"
    assert body["size"] == len(PNG) and body["meeting_id"] == meeting_id and len(body["sha256"]) == 64
    assert body["url"] == f"/api/attachments/{body['id']}" and body["uploaded_at"].endswith("+08:00")
    for name in ("sec_a", "m1", "zongzhi"):
        response = world.users[name].get(body["url"])
        assert response.status_code == 200 and response.data == PNG, name
        assert response.mimetype == "image/png" and response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        response.close()
    listed = world.users["m1"].ok("get", f"/api/meetings/{meeting_id}/attachments")
    assert [a["id"] for a in listed] == [body["id"]]


def test_another_branch_sees_neither_list_nor_file(world, store):
    meeting_id = create_meeting(world)
    url = upload(world.users["sec_a"], meeting_id, PNG)["url"]
    sec_b = world.users["sec_b"]
    assert_problem(sec_b.get(url), 404, "attachment_not_found")
    assert_problem(sec_b.get(f"/api/meetings/{meeting_id}/attachments"), 404, "meeting_not_found")
    assert_problem(sec_b.get("/api/attachments/999999"), 404, "attachment_not_found")
    assert_problem(send(sec_b, meeting_id, PNG), 404, "meeting_not_found")


def test_a_member_may_not_upload(world, store):
    meeting_id = create_meeting(world)
    assert_problem(send(world.users["m1"], meeting_id, PNG), 403, "forbidden")
    assert stored_files(store) == []


def test_disguised_and_unlisted_types_are_refused(world, store):
    meeting_id, sec = create_meeting(world), world.users["sec_a"]
    body = assert_problem(send(sec, meeting_id, b"MZ\x90\x00" + bytes(60), "setup.exe"), 415,
                          "unsupported_attachment_type")
    assert "png" in body["allowed"] and "exe" not in body["allowed"] and "pdf" in body["detail"]
    assert_problem(send(sec, meeting_id, b"<html><script>alert(1)</script>", "photo.png"), 415,
                   "unsupported_attachment_type")
    assert_problem(send(sec, meeting_id, PNG, "photo.pdf"), 415, "unsupported_attachment_type")
    assert stored_files(store) == []


def test_content_type_comes_from_the_content_not_the_client(world, store):
    meeting_id, sec = create_meeting(world), world.users["sec_a"]
    data = {"file": (io.BytesIO(PDF), "议程.PDF", "text/html")}
    response = sec.client.post(f"/api/meetings/{meeting_id}/attachments", data=data, headers=sec._headers(),
                               content_type="multipart/form-data")
    assert response.status_code == 201 and response.get_json()["content_type"] == "application/pdf"


def test_oversized_upload_is_413(world, store, clean_app, monkeypatch):
    meeting_id, sec = create_meeting(world), world.users["sec_a"]
    monkeypatch.setitem(clean_app.config, "ATTACHMENT_MAX_BYTES", 100)
    body = assert_problem(send(sec, meeting_id, PNG + bytes(100)), 413, "attachment_too_large")
    assert body["max_bytes"] == 100
    upload(sec, meeting_id, PNG[:100])  # exactly the limit is allowed
    monkeypatch.setitem(clean_app.config, "MAX_CONTENT_LENGTH", 1000)  # Flask's own limit answers alike
    assert_problem(send(sec, meeting_id, PNG + bytes(2000)), 413, "attachment_too_large")
    assert len(stored_files(store)) == 1


def test_missing_or_empty_file_is_422(world, store):
    meeting_id, sec = create_meeting(world), world.users["sec_a"]
    assert_problem(send(sec, meeting_id, b""), 422, "file_required")
    response = sec.client.post(f"/api/meetings/{meeting_id}/attachments", data={"note": "no file"},
                               headers=sec._headers(), content_type="multipart/form-data")
    assert_problem(response, 422, "file_required")


def test_stored_under_a_random_key_with_a_sanitised_display_name(world, store):
    meeting_id, sec = create_meeting(world), world.users["sec_a"]
    body = upload(sec, meeting_id, PNG, "../../etc/passwd.png")
    assert body["filename"] == "passwd.png"
    assert upload(sec, meeting_id, PNG, "照片/截图\u202e\x07.png")["filename"] == "截图.png"
    assert attachments.display_name("C:\\Users\\甲\\截图.png") == "截图.png"  # the parser eats backslashes
    long_name = upload(sec, meeting_id, PNG, "支" * 300 + ".png")["filename"]
    assert len(long_name) <= 120 and long_name.endswith(".png")
    files = stored_files(store)
    assert len(files) == 3 and all(f.parent == store / str(meeting_id) for f in files)
    assert not any("passwd" in f.name or "png" in f.name or f.name.startswith(".") for f in files)
    response = sec.get(body["url"])
    assert response.data == PNG and "passwd.png" in response.headers["Content-Disposition"]
    response.close()


def test_a_failed_insert_leaves_no_file(world, store, clean_app):
    meeting_id = create_meeting(world)

    def refuse(*_):
        raise RuntimeError("database went away")

    event.listen(Attachment, "before_insert", refuse)
    try:
        assert_problem(send(world.users["sec_a"], meeting_id, PNG), 500, "internal_error")
    finally:
        event.remove(Attachment, "before_insert", refuse)
    assert stored_files(store) == []
    assert world.users["sec_a"].ok("get", f"/api/meetings/{meeting_id}/attachments") == []


def test_require_for_meeting_accepts_only_this_meetings_attachments(world, store, clean_app):
    sec = world.users["sec_a"]
    first, second = create_meeting(world), create_meeting(world)
    photo, pdf = upload(sec, first, PNG)["id"], upload(sec, first, PDF, "议程.pdf")["id"]
    elsewhere = upload(sec, second, PNG)["id"]
    with clean_app.app_context():
        meeting = db.session.get(Meeting, first)
        assert [a.id for a in attachments.require_for_meeting(meeting, [pdf, photo])] == [pdf, photo]
        assert attachments.require_for_meeting(meeting, None) == []
        with pytest.raises(ApiError) as foreign:
            attachments.require_for_meeting(meeting, [photo, elsewhere, 999999])
        assert foreign.value.code == "invalid_attachments" and foreign.value.status == 422
        assert foreign.value.ext["errors"] == {"attachment_ids": [elsewhere, 999999]}
        with pytest.raises(ApiError) as not_image:
            attachments.require_for_meeting(meeting, [photo, pdf], kinds="image")
        assert not_image.value.ext["errors"] == {"attachment_ids": [pdf]}
        db.session.remove()


def test_an_outer_rollback_or_failed_commit_removes_the_file(world, store, clean_app):
    meeting_id = create_meeting(world)
    with clean_app.app_context():
        user = db.session.scalars(select(User).where(User.username == "sec_a")).unique().one()
        with pytest.raises(RuntimeError), transaction():  # a caller's wider transaction fails after the upload
            attachments.upload(user, meeting_id, FileStorage(io.BytesIO(PNG), "photo.png"))
            assert len(stored_files(store)) == 1
            raise RuntimeError("later step failed")
        assert stored_files(store) == []
        event.listen(db.session(), "before_commit", _fail_commit)
        with pytest.raises(RuntimeError):
            attachments.upload(user, meeting_id, FileStorage(io.BytesIO(PNG), "photo.png"))
        event.remove(db.session(), "before_commit", _fail_commit)
        assert stored_files(store) == []
        db.session.remove()


def _fail_commit(_session):
    raise RuntimeError("commit failed")
