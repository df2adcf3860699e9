"""Bearer tokens, the per-request guard and the password policy."""
import hashlib
import re
import secrets

from flask import current_app, g, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from .database import transactional, utcnow
from .errors import ApiError
from .extensions import db
from .models import IntegrationToken, Member, User
from .services.access import require_platform_admin

PUBLIC_ENDPOINTS = {"/api/auth/login", "/api/openapi.json"}
# Reachable while a password change is pending, so the client can find out and do it.
PASSWORD_CHANGE_ENDPOINTS = {"/api/auth/password", "/api/me"}
# An integration token (a learning platform, a dues system) reaches these and nothing else.
INTEGRATION_PREFIX = "itk_"
INTEGRATION_ENDPOINTS = {("POST", "/api/score-events"), ("POST", "/api/dues-payments")}


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="access-token")


def issue_token(user: User) -> str:
    """A signed, expiring access token naming the user."""
    return _serializer().dumps({"u": user.id})


def _user_from_token(token: str) -> User:
    try:
        payload = _serializer().loads(token, max_age=current_app.config["TOKEN_MAX_AGE_SECONDS"])
    except SignatureExpired:
        raise ApiError("token_expired", 401, "The access token has expired; log in again.")
    except BadSignature:
        raise ApiError("invalid_token", 401, "The access token is not valid.")
    user = db.session.get(User, payload.get("u"))
    if user is None:
        raise ApiError("invalid_token", 401, "The access token names no user.")
    return user


def current_user() -> User | None:
    """The authenticated caller of this request (None when an integration token called)."""
    return g.user


def current_integration() -> IntegrationToken | None:
    """The integration token this request came with, if any."""
    return g.get("integration")


def _is_public(path: str) -> bool:
    return path in PUBLIC_ENDPOINTS or path.startswith("/api/docs") or not path.startswith("/api")


def install_auth_guard(app) -> None:
    """Authenticate every /api call but login and the docs; enforce the first-login password change."""

    @app.before_request
    def _guard():
        if _is_public(request.path) or request.method == "OPTIONS":
            return None
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise ApiError("unauthenticated", 401, "Send 'Authorization: Bearer <access_token>'.")
        token = header[7:].strip()
        if token.startswith(INTEGRATION_PREFIX):
            return _admit_integration(token)
        g.user = _user_from_token(token)
        if g.user.locked_until and g.user.locked_until > utcnow():  # a lock also stops tokens already issued
            raise ApiError("account_locked", 423, "The account is locked.")
        require_enabled(g.user)
        if g.user.must_change_password and request.path not in PASSWORD_CHANGE_ENDPOINTS:
            raise ApiError("password_change_required", 403, "Change the initial password first.")
        return None


def account_disabled(user: User) -> bool:
    """Whether the account's member is in the history library (党员历史库): such accounts cannot sign in."""
    if user.member_id is None:  # only member accounts can be disabled, so others cost no query
        return False
    member = db.session.get(Member, user.member_id)
    return member is not None and member.deleted_at is not None


def require_enabled(user: User) -> None:
    """403 account_disabled for a deleted member's account (its tokens stop working too)."""
    if account_disabled(user):
        raise ApiError("account_disabled", 403, "The account is disabled: its member was deleted.")


def check_password_policy(password: str) -> None:
    """At least 8 characters with letters, digits and a symbol (三晋先锋, AI党建云)."""
    ok = (len(password) >= 8 and re.search(r"[A-Za-z]", password) and re.search(r"\d", password)
          and re.search(r"[^A-Za-z0-9\s]", password))
    if not ok:
        raise ApiError("weak_password", 422,
                       "The password needs at least 8 characters with letters, digits and a symbol.")


def hash_password(password: str) -> str:
    """Hash with the configured method (scrypt by default)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def verify_password(user: User, password: str) -> bool:
    """Check a password against the stored hash."""
    return check_password_hash(user.password_hash, password)


# --- integration tokens: long-lived credentials for systems, stored as SHA-256 hashes ---------------------------

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _admit_integration(token: str) -> None:
    """Authenticate an itk_ token (401 unknown or revoked) and confine it to its endpoints (403)."""
    row = db.session.scalars(select(IntegrationToken).where(IntegrationToken.token_hash == _token_hash(token))).first()
    if row is None or row.revoked_at is not None:
        raise ApiError("invalid_token", 401, "The integration token is not valid or has been revoked.")
    g.user, g.integration = None, row
    if (request.method, request.path) not in INTEGRATION_ENDPOINTS:
        raise ApiError("forbidden", 403, "An integration token may only post score events and dues payments.")


@transactional
def issue_integration_token(user: User, name: str) -> dict:
    """A new token for a system; the plain token is in the answer this once, only its hash is kept."""
    require_platform_admin(user)
    token = INTEGRATION_PREFIX + secrets.token_urlsafe(32)
    row = IntegrationToken(name=name, token_hash=_token_hash(token), created_by=user.id, created_at=utcnow())
    db.session.add(row)
    db.session.flush()
    return {"id": row.id, "name": row.name, "created_by": row.created_by, "created_at": row.created_at,
            "revoked_at": None, "token": token}


def integration_tokens(user: User) -> list[IntegrationToken]:
    """Every integration token, newest first (no secrets: only hashes are stored)."""
    require_platform_admin(user)
    return list(db.session.scalars(select(IntegrationToken).order_by(IntegrationToken.id.desc())))


@transactional
def revoke_integration_token(user: User, token_id: int) -> IntegrationToken:
    """Revoke a token at once (its next request is 401); revoking twice keeps the first time."""
    require_platform_admin(user)
    row = db.session.get(IntegrationToken, token_id, with_for_update=True)
    if row is None:
        raise ApiError("token_not_found", 404, f"Integration token {token_id} does not exist.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row
