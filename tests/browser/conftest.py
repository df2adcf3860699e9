"""Browser tests: the real app on a free localhost port, driven by headless Chromium through Playwright.

They need the Python package `playwright` (the `test` extra), Debian's /usr/bin/chromium (never
`playwright install`) and the built modeler bundle (`make frontend`). Without them the tests that use a browser
are skipped, unless ORGLIFE_REQUIRE_BROWSER=1 (CI), which turns a missing piece into a failure.
The app always gets its own fresh SQLite database, whatever DATABASE_URL says.
"""
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("ORGLIFE_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("ORGLIFE_REQUIRE_BROWSER") == "1"
ADMIN_PASSWORD = "Admin#2026"
USER_PASSWORD = "Passw0rd!x2"


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package 'playwright' is not installed (pip install -e '.[test]')"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    from service.web import MODELER_DIR, ENTRY_FILES
    if not all((MODELER_DIR / name).is_file() for name in ENTRY_FILES):
        return f"the modeler bundle is not built in {MODELER_DIR} (make frontend)"
    return None


def _skip_or_fail(reason: str):
    if REQUIRE_BROWSER:
        pytest.fail(f"ORGLIFE_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _quiet_request_handler():
    """Werkzeug's request handler without the per-request log line."""
    from werkzeug.serving import WSGIRequestHandler

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    return QuietHandler


@pytest.fixture(scope="session")
def live_app():
    """The app from the factory on a fresh SQLite file, initialised like `flask init`, served on a thread."""
    reason = _missing()
    if reason:
        _skip_or_fail(reason)
    from werkzeug.serving import make_server

    from service import create_app
    from service.extensions import db

    tmp = Path(tempfile.mkdtemp(prefix="orglife-browser-"))
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/browser.sqlite3",
                      "SECRET_KEY": "browser-test-secret", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
                      "ATTACHMENT_DIR": str(tmp / "attachments")})
    result = app.test_cli_runner().invoke(args=["init", "--admin-password", ADMIN_PASSWORD])
    assert result.exit_code == 0, result.output
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_quiet_request_handler())
    thread = threading.Thread(target=server.serve_forever, name="live-app", daemon=True)
    thread.start()
    app.config["LIVE_URL"] = f"http://127.0.0.1:{server.server_port}"
    yield app
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    with app.app_context():
        db.engine.dispose()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def base_url(live_app) -> str:
    return live_app.config["LIVE_URL"]


@pytest.fixture(scope="session")
def browser(live_app):
    """Headless Debian Chromium (no browser download: executable_path)."""
    from playwright.sync_api import sync_playwright
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-dev-shm-usage"])
    except Exception as error:  # a broken Chromium install is the same as none
        playwright.stop()
        _skip_or_fail(f"Chromium at {CHROMIUM} did not start: {error}")
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture()
def page(browser, base_url):
    """A fresh context (so a fresh sessionStorage) per test; console errors fail the test."""
    context = browser.new_context(base_url=base_url, locale="zh-CN", viewport={"width": 1600, "height": 1000},
                                  accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    # an API answering 4xx is logged as "Failed to load resource"; anything else on the console is a bug
    page.on("console", lambda message: message.type == "error" and "Failed to load resource" not in message.text
            and errors.append(f"console error: {message.text}"))
    yield page
    context.close()
    assert not errors, errors


@pytest.fixture()
def api(live_app):
    """Log in to the live app's API through its test client (same database as the browser sees)."""
    client = live_app.test_client()

    def login(username: str, password: str) -> dict:
        response = client.post("/api/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['access_token']}"}

    return client, login
