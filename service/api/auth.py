"""Login, password change, the current user."""
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import current_user
from ..schemas import LoginIn, MeOut, PasswordIn, TokenOut
from ..services import accounts

blp = Blueprint("auth", __name__, url_prefix="/api", description="Authentication")


@blp.route("/auth/login")
class Login(MethodView):
    @blp.arguments(LoginIn)
    @blp.response(200, TokenOut)
    @blp.doc(security=[])
    def post(self, data):
        """Log in; 3 wrong passwords in a row lock the account for an hour (423)."""
        return accounts.login(data["username"], data["password"])


@blp.route("/auth/password")
class Password(MethodView):
    @blp.arguments(PasswordIn)
    @blp.response(204)
    def post(self, data):
        """Change the caller's password (>= 8 chars with letters, digits and a symbol)."""
        accounts.change_password(current_user(), data["old_password"], data["new_password"])


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, MeOut)
    def get(self):
        """The caller's account and roles."""
        return current_user()


@blp.route("/users/<int:user_id>/unlock")
class Unlock(MethodView):
    @blp.response(200, MeOut)
    def post(self, user_id):
        """An administrator unlocks a locked account."""
        return accounts.unlock(current_user(), user_id)
