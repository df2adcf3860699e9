"""The browser pages: the BPMN modeler for platform admins at /admin/modeler.

The page and its assets are public (the auth guard only covers /api); the page logs in itself and checks
the caller's roles through the API, which enforces them again on every call. The assets are built from
frontend/ by `make frontend` into service/static/modeler/ (not committed).
"""
from pathlib import Path

from flask import Blueprint, Response, abort, send_from_directory

MODELER_DIR = Path(__file__).resolve().parent / "static" / "modeler"
ENTRY_FILES = ("index.html", "modeler.js", "modeler.css")

blp = Blueprint("web", __name__)
# Only our own bundle runs: no inline or third-party script (bpmn-js needs inline styles and data: images).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")

_NOT_BUILT = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>流程建模页面尚未构建</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 4em auto">
<h1>流程建模页面尚未构建 (503)</h1>
<p>The BPMN modeler's JavaScript bundle is missing from <code>service/static/modeler/</code>.</p>
<p>Build it with <code>make install</code> or <code>make frontend</code> (needs Node.js and npm; it runs
<code>npm ci</code> and bundles <code>frontend/</code>), then reload this page.</p>
<p>请在项目目录运行 <code>make frontend</code>（或 <code>make install</code>）后刷新本页。</p>
</body></html>
"""


def _built() -> bool:
    return all((MODELER_DIR / name).is_file() for name in ENTRY_FILES)


@blp.get("/admin/modeler")
def modeler_page():
    """The modeler page (its assets carry the bundle's mtime so a rebuild is never served stale)."""
    if not _built():
        return Response(_NOT_BUILT, status=503, mimetype="text/html", headers={"Retry-After": "60"})
    version = str(int((MODELER_DIR / "modeler.js").stat().st_mtime))
    html = (MODELER_DIR / "index.html").read_text(encoding="utf-8").replace("__ASSET_VERSION__", version)
    return Response(html, mimetype="text/html", headers={"Cache-Control": "no-cache", "Content-Security-Policy": CSP,
                                                         "X-Content-Type-Options": "nosniff"})


@blp.get("/static/modeler/<path:filename>")
def modeler_asset(filename: str):
    """The built bundle, fonts and source maps."""
    if not MODELER_DIR.is_dir():
        abort(404)
    return send_from_directory(MODELER_DIR, filename, max_age=3600)


def register_web(app) -> None:
    """Attach the browser pages."""
    app.register_blueprint(blp)
