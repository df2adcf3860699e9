"""marshmallow at the boundary only: requests in, responses out."""
from marshmallow import Schema, ValidationError, fields, validate

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
    retired_at = ChinaDateTime(allow_none=True)  # merged into another branch
    merged_into_id = fields.Integer(allow_none=True)


ROLES = ["secretary", "deputy_secretary", "committee_member"]
PHONE = validate.Regexp(r"^[0-9+\-]{5,20}$")


def _one_line_name(value: str) -> None:
    if not value.strip() or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationError("Must not be blank or contain control characters.")


NAME = [_one_line_name, validate.Length(max=100)]


class MemberIn(Schema):
    name = fields.String(required=True, validate=NAME)
    phone = fields.String(allow_none=True, load_default=None, validate=PHONE)
    id_number = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=18),
                              metadata={"description": "身份证号, 18 characters; checked (GB 11643) and unique"})
    org_id = fields.Integer(required=True)
    group_id = fields.Integer(allow_none=True, load_default=None)
    category = fields.String(required=True, validate=validate.OneOf(["full", "probationary"]))
    joined_at = fields.Date(required=True)
    birth_date = fields.Date(allow_none=True, load_default=None)
    gender = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(["male", "female"]))
    committee_role = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(ROLES))
    smartphone_exempt = fields.Boolean(load_default=False)


class MemberOut(MemberIn):
    id = fields.Integer()
    deleted_at = ChinaDateTime(allow_none=True)
    deleted_reason = fields.String(allow_none=True)
    smartphone_exempt_approved = fields.Function(lambda member: member.smartphone_exempt_approved_at is not None)


class MemberPatchIn(Schema):
    """Only the fields sent change; org_id is refused (a move is a transfer)."""

    name = fields.String(validate=NAME)
    phone = fields.String(allow_none=True, validate=PHONE)
    id_number = fields.String(allow_none=True, validate=validate.Length(max=18))
    group_id = fields.Integer(allow_none=True)
    category = fields.String(validate=validate.OneOf(["full", "probationary"]))
    joined_at = fields.Date()
    committee_role = fields.String(allow_none=True, validate=validate.OneOf(ROLES))
    birth_date = fields.Date(allow_none=True)
    gender = fields.String(allow_none=True, validate=validate.OneOf(["male", "female"]))
    smartphone_exempt = fields.Boolean()
    org_id = fields.Integer(allow_none=True, metadata={"description": "not editable: 422 use_transfer"})


class MemberQuery(Schema):
    org_id = fields.Integer(load_default=None)
    deleted = fields.Boolean(load_default=False, metadata={"description": "true: the history library (党员历史库)"})


class UserIn(Schema):
    username = fields.String(required=True, validate=validate.Regexp(r"^[\w.@\-]{2,80}$"))
    password = fields.String(required=True)
    member_id = fields.Integer(allow_none=True, load_default=None)
    roles = fields.List(fields.Nested(GrantSchema), required=True, validate=validate.Length(min=1))


class IdOut(Schema):
    id = fields.Integer()
