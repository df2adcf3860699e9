"""Serving the modeler page and its bundle (no browser needed: these always run)."""
from service import web


def test_page_without_a_built_bundle_is_a_clear_503(app, tmp_path, monkeypatch):
    monkeypatch.setattr(web, "MODELER_DIR", tmp_path / "not-built")
    response = app.test_client().get("/admin/modeler")
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert "make frontend" in response.get_data(as_text=True)
    assert app.test_client().get("/static/modeler/modeler.js").status_code == 404


def test_page_and_assets_are_served_without_a_token(app, tmp_path, monkeypatch):
    for name, text in {"index.html": '<script src="/static/modeler/modeler.js?v=__ASSET_VERSION__"></script>',
                       "modeler.js": "console.log(1)", "modeler.css": "body{}"}.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.setattr(web, "MODELER_DIR", tmp_path)
    client = app.test_client()
    page = client.get("/admin/modeler")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "__ASSET_VERSION__" not in page.get_data(as_text=True)
    assert "modeler.js?v=" in page.get_data(as_text=True)
    script = client.get("/static/modeler/modeler.js")
    assert script.status_code == 200 and script.get_data(as_text=True) == "console.log(1)"
    script.close()
    assert client.get("/static/modeler/../web.py").status_code == 404
    assert client.get("/api/process-definitions").status_code == 401  # the API still wants a token
