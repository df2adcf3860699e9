"""Transfer actions: approval along the computed chain, receiving, and the letter of introduction (介绍信).

The subject (a Transfer or an OrgTransfer) carries its approval chain; `transfer.approve` moves it one step
and tells the BPMN gateway how many steps are left, so one looping user task serves any depth of tree.
"""
from datetime import timedelta

from flask import current_app
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..database import utcnow
from ..errors import ApiError
from . import action
from .meeting import not_blank, one_line


class _Decision(Schema):
    comment = fields.String(load_default=None, validate=validate.Length(max=2000))
    verdict = "approved"

    @validates_schema
    def _reason_when_refusing(self, data, **kwargs):
        if not data[self.verdict] and not (data.get("comment") or "").strip():
            raise ValidationError("A reason is required when returning.", "comment")


class ApproveSchema(_Decision):
    approved = fields.Boolean(required=True)


class ReceiveSchema(_Decision):
    accepted = fields.Boolean(required=True)
    verdict = "accepted"


def _days(value) -> None:
    if value > current_app.config["TRANSFER_LETTER_MAX_DAYS"]:
        raise ValidationError(f"At most {current_app.config['TRANSFER_LETTER_MAX_DAYS']} days.")


class LetterSchema(Schema):
    letter_no = fields.String(required=True, validate=[not_blank, one_line, validate.Length(max=60)])
    valid_days = fields.Integer(load_default=None, validate=[validate.Range(min=1), _days])


class ReceiptSchema(Schema):
    note = fields.String(load_default=None, validate=validate.Length(max=2000))


class ExpirySchema(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(["reissue", "received", "withdraw"]))
    letter_no = fields.String(load_default=None, validate=[one_line, validate.Length(max=60)])
    valid_days = fields.Integer(load_default=None, validate=[validate.Range(min=1), _days])
    comment = fields.String(load_default=None, validate=validate.Length(max=2000))

    @validates_schema
    def _reason_when_withdrawing(self, data, **kwargs):
        if data["outcome"] == "withdraw" and not (data.get("comment") or "").strip():
            raise ValidationError("A reason is required when withdrawing.", "comment")


@action("transfer.approve", ApproveSchema, subject_kinds=("transfer", "org_transfer"),
        sets=("approved", "steps_left"))
def approve(ctx, data):
    """The approver at the current step of the chain approves, or returns it with a reason."""
    subject = ctx.subject
    if subject.step >= len(subject.chain) or ctx.task.org_id != subject.chain[subject.step]:
        raise ApiError("chain_mismatch", 409, "This approval is not the transfer's current step.")
    if not data["approved"]:
        _end(subject, "returned", data["comment"])
        return {"approved": False, "steps_left": len(subject.chain) - subject.step}
    subject.step += 1
    return {"approved": True, "steps_left": len(subject.chain) - subject.step}


@action("transfer.receive", ReceiveSchema, subject_kinds=("transfer",), sets=("accepted",))
def receive(ctx, data):
    """The receiving branch takes the member in, or refuses with a reason."""
    if not data["accepted"]:
        _end(ctx.subject, "returned", data["comment"])
    return {"accepted": data["accepted"]}


@action("transfer.issue_letter", LetterSchema, subject_kinds=("transfer",), sets=("letter_expires_at",))
def issue_letter(ctx, data):
    """The sending branch issues the letter of introduction (介绍信) with its validity period."""
    return _letter(ctx.subject, data["letter_no"], data.get("valid_days"))


@action("transfer.record_receipt", ReceiptSchema, subject_kinds=("transfer",))
def record_receipt(ctx, data):
    """The receipt (回执) came back: the member has left the system."""
    ctx.subject.receipt_at, ctx.subject.receipt_note = utcnow(), data.get("note")
    return {}


@action("transfer.handle_expiry", ExpirySchema, subject_kinds=("transfer",),
        sets=("outcome", "letter_expires_at"))
def handle_expiry(ctx, data):
    """The letter expired without a receipt: issue a new one, record a late receipt, or withdraw."""
    transfer = ctx.subject
    if data["outcome"] == "reissue":
        return {"outcome": "reissue", **_letter(transfer, data.get("letter_no") or transfer.letter_no,
                                                 data.get("valid_days"))}
    if data["outcome"] == "received":
        transfer.receipt_at, transfer.receipt_note = utcnow(), data.get("comment")
    else:
        _end(transfer, "returned", data["comment"])
    return {"outcome": data["outcome"]}


def _letter(transfer, letter_no: str, valid_days: int | None) -> dict:
    now = utcnow()
    days = valid_days or current_app.config["TRANSFER_LETTER_DAYS"]
    transfer.letter_no, transfer.letter_issued_at = letter_no, now
    transfer.letter_expires_at = now + timedelta(days=days)
    # The boundary timer on 登记回执 reads this when the task is reached.
    return {"letter_expires_at": transfer.letter_expires_at.isoformat()}


def _end(subject, status: str, comment: str | None) -> None:
    subject.status, subject.outcome_comment, subject.completed_at = status, comment, utcnow()
