"""Bearer tokens, the per-request guard and the password policy."""
import re

from flask import current_app, g, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.security import check_password_hash, generate_password_hash

from .database import utcnow
from .errors import ApiError
from .extensions import db
from .models import Member, User

PUBLIC_ENDPOINTS = {"/api/auth/login", "/api/openapi.json"}
# Reachable while a password change is pending, so the client can find out and do it.
PASSWORD_CHANGE_ENDPOINTS = {"/api/auth/password", "/api/me"}


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


def current_user() -> User:
    """The authenticated caller of this request."""
    return g.user


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
        g.user = _user_from_token(header[7:].strip())
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
