"""Login with lockout, password changes."""
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from ..auth import check_password_policy, hash_password, issue_token, require_enabled, verify_password
from ..database import transaction, transactional, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import User
from . import access


def login(username: str, password: str) -> dict:
    """Check credentials; 3 consecutive failures lock the account for an hour."""
    with transaction():
        user = db.session.scalars(select(User).where(User.username == username).with_for_update(of=User)).first()
        if user is None:
            outcome = "invalid"
        elif user.locked_until and user.locked_until > utcnow():
            outcome = "locked"
        elif not verify_password(user, password):
            _count_failure(user)
            outcome = "invalid"
        else:
            require_enabled(user)  # only after the password, so it tells a guesser nothing
            user.failed_logins, user.locked_until = 0, None
            outcome = "ok"
    if outcome == "locked":
        raise ApiError("account_locked", 423, "Too many wrong passwords: the account is locked for an hour, "
                       "or until an administrator unlocks it.", locked_until=user.locked_until.isoformat())
    if outcome == "invalid":
        raise ApiError("invalid_credentials", 401, "Wrong username or password.")
    return {"access_token": issue_token(user), "must_change_password": user.must_change_password}


def _count_failure(user: User) -> None:
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins >= current_app.config["LOGIN_MAX_FAILURES"]:
        user.locked_until = utcnow() + timedelta(seconds=current_app.config["LOGIN_LOCK_SECONDS"])
        user.failed_logins = 0


def change_password(user: User, old: str, new: str) -> None:
    """Change one's own password; clears the first-login requirement. Wrong old passwords count toward the lock."""
    with transaction():
        correct = verify_password(user, old)
        if not correct:
            _count_failure(user)
    if not correct:
        raise ApiError("wrong_password", 422, "The current password is wrong.",
                       errors={"old_password": ["does not match"]})
    with transaction():
        _set_password(user, old, new)


def _set_password(user: User, old: str, new: str) -> None:
    check_password_policy(new)
    if old == new:
        raise ApiError("weak_password", 422, "The new password must differ from the old one.")
    user.password_hash = hash_password(new)
    user.must_change_password = False


@transactional
def unlock(admin: User, user_id: int) -> User:
    """A platform admin, or an admin over one of the user's orgs, lifts a lock."""
    target = db.session.get(User, user_id)
    if target is None:
        raise ApiError("user_not_found", 404, f"User {user_id} does not exist.")
    orgs = [g.org_id for g in target.grants if g.org_id is not None]
    if not access.is_platform_admin(admin) and not any(
            access.administers(admin, access.get_org(o)) for o in orgs):
        raise ApiError("forbidden", 403, "You may not unlock this account.")
    target.locked_until, target.failed_logins = None, 0
    return target
