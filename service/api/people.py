"""Members and user accounts."""
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import current_user
from ..schemas import IdOut, MemberIn, MemberOut, MemberQuery, UserIn
from ..services import people

blp = Blueprint("people", __name__, url_prefix="/api", description="Members and users")


@blp.route("/members")
class Members(MethodView):
    @blp.arguments(MemberIn)
    @blp.response(201, MemberOut)
    def post(self, data):
        """Register a member; 409 phone_taken names the org holding the number."""
        return people.create_member(current_user(), data)

    @blp.arguments(MemberQuery, location="query")
    @blp.response(200, MemberOut(many=True))
    def get(self, query):
        """Members of an org the caller administers; deleted=true: its history library (党员历史库)."""
        return people.list_members(current_user(), query["org_id"], query["deleted"])


@blp.route("/members/<int:member_id>")
class MemberById(MethodView):
    @blp.response(200, MemberOut)
    def get(self, member_id):
        """One member."""
        return people.get_member(current_user(), member_id)


@blp.route("/users")
class Users(MethodView):
    @blp.arguments(UserIn)
    @blp.response(201, IdOut)
    def post(self, data):
        """Create an account; it must change its password at first login."""
        return people.create_user(current_user(), data)
