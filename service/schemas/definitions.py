"""Process definitions at the boundary: listing, versions, switches, migrations, per-org meeting types."""
from marshmallow import Schema, fields, validate

from .times import ChinaDateTime


class DefinitionQuery(Schema):
    category = fields.String(load_default=None, validate=validate.OneOf(["meeting", "transfer", "other"]))


class DefinitionView(Schema):
    key = fields.String()
    name = fields.String()
    version = fields.Integer()
    category = fields.String()
    enabled = fields.Boolean(metadata={"description": "new instances may start: type and this version are on"})
    startable_version = fields.Integer(allow_none=True, metadata={"description": "what new instances start on"})
    type_enabled = fields.Boolean()
    version_enabled = fields.Boolean(metadata={"description": "this (latest) version is switched on"})
    sha256 = fields.String()
    deployed_at = ChinaDateTime()
    deployed_by = fields.Integer(allow_none=True)
    held_by = fields.String(allow_none=True, metadata={"description": "meetings: branch or group"})


class VersionView(Schema):
    version = fields.Integer()
    name = fields.String()
    category = fields.String()
    sha256 = fields.String()
    enabled = fields.Boolean()
    deployed_at = ChinaDateTime()
    deployed_by = fields.Integer(allow_none=True)
    running_instances = fields.Integer()


class Switch(Schema):
    enabled = fields.Boolean(required=True)


class DiffQuery(Schema):
    from_version = fields.Integer(data_key="from", required=True, validate=validate.Range(min=1))
    to = fields.Integer(required=True, validate=validate.Range(min=1))


class ValidationReport(Schema):
    valid = fields.Boolean()
    key = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    errors = fields.List(fields.Dict())
    properties = fields.Dict()


class MigrationIn(Schema):
    to_version = fields.Integer(load_default=None, validate=validate.Range(min=1),
                                metadata={"description": "default: the newest enabled version"})
    from_version = fields.Integer(load_default=None, validate=validate.Range(min=1))
    instance_ids = fields.List(fields.Integer(validate=validate.Range(min=1, max=2**62)), load_default=None,
                               validate=validate.Length(min=1, max=5000))
    dry_run = fields.Boolean(load_default=False)


class MigrationOut(Schema):
    key = fields.String()
    to_version = fields.Integer()
    dry_run = fields.Boolean()
    migrated = fields.List(fields.Dict())
    refused = fields.List(fields.Dict())


class MeetingTypeView(Schema):
    process_key = fields.String()
    name = fields.String()
    held_by = fields.String()
    type_enabled = fields.Boolean()
    enabled = fields.Boolean(metadata={"description": "branches under this org may start it"})
    switched_off_here = fields.Boolean()
    disabled_by = fields.Integer(allow_none=True, metadata={"description": "the org whose switch-off applies"})
