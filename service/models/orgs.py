"""The organisation tree: 党委 > 党总支 > 党支部 > 党小组."""
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db

ORG_KINDS = ("committee", "general_branch", "branch", "group")
# Which kinds of parent each kind may hang under (None = a root).
ALLOWED_PARENTS = {
    "committee": {None, "committee"},
    "general_branch": {"committee"},
    "branch": {"committee", "general_branch"},
    "group": {"branch"},
}
REVIEWING_KINDS = ("general_branch", "committee")


class Org(db.Model):
    __tablename__ = "org"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # merged into another branch
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"))
