"""The points ledger: append-only. Every award is an entry; a correction is a reversal entry, never an edit."""
from datetime import datetime

from ..database import utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import ScoreEntry


def append(target: str, target_id: int, rule_id: str, category: str, points: int, occurred_at: datetime,
           source: str, source_id, user=None, note: str | None = None) -> ScoreEntry:
    """Record points earned (or, with a negative amount, taken back) by a member or an org."""
    entry = ScoreEntry(target=target, target_id=target_id, rule_id=rule_id, category=category, points=points,
                       occurred_at=occurred_at, source=source, source_id=str(source_id) if source_id is not None
                       else None, note=note, created_at=utcnow(), created_by=user.id if user else None)
    db.session.add(entry)
    db.session.flush()
    return entry


def reverse(entry: ScoreEntry, user, reason: str) -> ScoreEntry:
    """Cancel an entry with an opposite one in the same period; the original stays. Twice is 409."""
    from sqlalchemy import select
    if db.session.scalars(select(ScoreEntry.id).where(ScoreEntry.reverses_id == entry.id)).first():
        raise ApiError("already_reversed", 409, f"Ledger entry {entry.id} has already been reversed.")
    reversal = append(entry.target, entry.target_id, entry.rule_id, entry.category, -entry.points,
                      entry.occurred_at, "reversal", entry.id, user, reason)
    reversal.reverses_id = entry.id
    return reversal
