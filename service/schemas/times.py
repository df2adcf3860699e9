"""Times at the boundary: ISO 8601 in, China time (+08:00) out."""
from zoneinfo import ZoneInfo

from marshmallow import fields

CHINA = ZoneInfo("Asia/Shanghai")


class ChinaDateTime(fields.AwareDateTime):
    """Accepts ISO 8601 with an offset (naive times are taken as China time); answers in +08:00."""

    def __init__(self, **kwargs):
        super().__init__(default_timezone=CHINA, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.astimezone(CHINA).isoformat()
