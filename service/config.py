"""Every setting, its default and the environment variable that overrides it."""
import os
import secrets
from pathlib import Path

INSTANCE_DIR = Path(os.environ.get("ORGLIFE_INSTANCE_DIR", Path(__file__).resolve().parent.parent / "instance"))
# Photos, video-meeting screenshots, PDFs and Office documents; each needs a signature in services/attachments.py.
ATTACHMENT_TYPES = "png,jpg,jpeg,gif,webp,pdf,doc,docx,xls,xlsx,ppt,pptx"


def _default_database_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'orglife.sqlite3'}"


def _local_secret() -> str:
    """Without SECRET_KEY, a random key made once per installation (never a well-known default)."""
    path = INSTANCE_DIR / "secret_key"
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    try:  # O_EXCL: of several workers starting at once, exactly one writes the key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    except FileExistsError:
        pass
    return path.read_text().strip()


def _extensions(listed: str) -> tuple[str, ...]:
    """A comma-separated list of file extensions, normalised to lower case without dots."""
    names = (name.strip().lstrip(".").lower() for name in listed.split(","))
    return tuple(name for name in names if name)


def load_config() -> dict:
    """Read settings from the environment, falling back to development defaults."""
    env = os.environ.get("ORGLIFE_ENV", "development")
    secret = os.environ.get("SECRET_KEY")
    if env == "production" and not secret:
        raise RuntimeError("SECRET_KEY must be set when ORGLIFE_ENV=production")
    return {
        "ENV_NAME": env,
        "SECRET_KEY": secret or _local_secret(),
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL", _default_database_url()),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Tokens live for a working day; the lockout and password rules come from 三晋先锋 / AI党建云.
        "TOKEN_MAX_AGE_SECONDS": int(os.environ.get("TOKEN_MAX_AGE_SECONDS", 12 * 3600)),
        "LOGIN_MAX_FAILURES": int(os.environ.get("LOGIN_MAX_FAILURES", 3)),
        "LOGIN_LOCK_SECONDS": int(os.environ.get("LOGIN_LOCK_SECONDS", 3600)),
        "PASSWORD_HASH_METHOD": os.environ.get("PASSWORD_HASH_METHOD", "scrypt"),
        "BPMN_MAX_BYTES": int(os.environ.get("BPMN_MAX_BYTES", 2_000_000)),
        # A letter of introduction (介绍信) for a transfer out of the system: 30 days by default, at most 3 months.
        "TRANSFER_LETTER_DAYS": int(os.environ.get("TRANSFER_LETTER_DAYS", 30)),
        "TRANSFER_LETTER_MAX_DAYS": int(os.environ.get("TRANSFER_LETTER_MAX_DAYS", 90)),
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_CONTENT_LENGTH", 20_000_000)),
        "ATTACHMENT_DIR": os.environ.get("ATTACHMENT_DIR", str(INSTANCE_DIR / "attachments")),
        "ATTACHMENT_MAX_BYTES": int(os.environ.get("ATTACHMENT_MAX_BYTES", 10_000_000)),
        "ATTACHMENT_TYPES": _extensions(os.environ.get("ATTACHMENT_TYPES", ATTACHMENT_TYPES)),
        # A check-in code is valid for one window and the next, so a code shown at a window's end still works.
        "CHECK_IN_CODE_WINDOW_SECONDS": int(os.environ.get("CHECK_IN_CODE_WINDOW_SECONDS", 300)),
        "TIMEZONE": "Asia/Shanghai",
        "CLOCK_INTERVAL_SECONDS": int(os.environ.get("CLOCK_INTERVAL_SECONDS", 30)),
        # The clock reminds invitees once, this long before the meeting.
        "MEETING_REMINDER_HOURS": int(os.environ.get("MEETING_REMINDER_HOURS", 24)),
        # A 流动党员 who has not reported back for this many days is reminded once (at least once a year).
        "FLOW_REPORT_DAYS": int(os.environ.get("FLOW_REPORT_DAYS", 365)),
        "API_TITLE": "组织生活 Org-life workflow API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "/docs",
        "OPENAPI_SWAGGER_UI_URL": os.environ.get("OPENAPI_SWAGGER_UI_URL", "/static/swagger-ui/"),
    }
