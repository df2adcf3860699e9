"""marshmallow at the boundary only: requests in, responses out."""
from marshmallow import Schema, fields, validate

from .times import ChinaDateTime


class LoginIn(Schema):
    username = fields.String(required=True)
    password = fields.String(required=True)


class TokenOut(Schema):
    access_token = fields.String()
    must_change_password = fields.Boolean()


class PasswordIn(Schema):
    old_password = fields.String(required=True)
    new_password = fields.String(required=True)


class GrantSchema(Schema):
    role = fields.String(required=True, validate=validate.OneOf(["platform_admin", "org_admin", "member"]))
    org_id = fields.Integer(allow_none=True, load_default=None)


class MeOut(Schema):
    id = fields.Integer()
    username = fields.String()
    member_id = fields.Integer(allow_none=True)
    roles = fields.Method("_roles")
    must_change_password = fields.Boolean()

    def _roles(self, user):
        return [{"role": g.role, "org_id": g.org_id} for g in user.grants]


class OrgIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(["committee", "general_branch", "branch", "group"]))
    parent_id = fields.Integer(allow_none=True, load_default=None)


class OrgOut(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    parent_id = fields.Integer(allow_none=True)
    superior_id = fields.Integer(allow_none=True)


class MemberIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    phone = fields.String(allow_none=True, load_default=None, validate=validate.Regexp(r"^[0-9+\-]{5,20}$"))
    org_id = fields.Integer(required=True)
    group_id = fields.Integer(allow_none=True, load_default=None)
    category = fields.String(required=True, validate=validate.OneOf(["full", "probationary"]))
    joined_at = fields.Date(required=True)
    birth_date = fields.Date(allow_none=True, load_default=None)
    gender = fields.String(allow_none=True, load_default=None)
    committee_role = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(
        ["secretary", "deputy_secretary", "committee_member"]))
    smartphone_exempt = fields.Boolean(load_default=False)


class MemberOut(MemberIn):
    id = fields.Integer()
    deleted_at = ChinaDateTime(allow_none=True)


class MemberQuery(Schema):
    org_id = fields.Integer(load_default=None)


class UserIn(Schema):
    username = fields.String(required=True, validate=validate.Regexp(r"^[\w.@\-]{2,80}$"))
    password = fields.String(required=True)
    member_id = fields.Integer(allow_none=True, load_default=None)
    roles = fields.List(fields.Nested(GrantSchema), required=True, validate=validate.Length(min=1))


class IdOut(Schema):
    id = fields.Integer()
