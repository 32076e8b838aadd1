"""Holds: periods in which delinquency does not age, penalty may stop, and contact stops."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.delinquency import service
from arrears.delinquency.models import SUSPENDS_PENALTY, Hold, HoldReason
from arrears.kit.errors import Conflict, NotFound, ValidationFailed
from arrears.loans import service as loans


def check_reason(reason: str) -> HoldReason:
    """The hold reason, if it is one arrears knows."""
    try:
        return HoldReason(reason)
    except ValueError:
        allowed = ", ".join(r.value for r in HoldReason)
        raise ValidationFailed(
            f"hold reason '{reason}' is not one of {allowed}", code="invalid_hold_reason"
        ) from None


def holds_of(*, db_session: Session, loan_id: int) -> list[Hold]:
    """A loan's holds, oldest first."""
    return list(
        db_session.scalars(
            select(Hold).where(Hold.loan_id == loan_id).order_by(Hold.start_on, Hold.id)
        )
    )


def place(
    *,
    db_session: Session,
    loan_ref: str,
    start_on: date,
    end_on: date | None,
    reason: str,
    note: str | None = None,
    created_by: str | None = None,
) -> Hold:
    """Place a hold (it may be back-dated); the loan is re-derived at once."""
    loan = loans.get_by_ref_or_raise(db_session=db_session, loan_ref=loan_ref, for_update=True)
    kind = check_reason(reason)
    if end_on is not None and end_on <= start_on:
        raise ValidationFailed(
            f"a hold must end after it starts ({start_on}); the end date is the first day "
            "no longer held",
            code="invalid_hold_dates",
        )
    if start_on < loan.disbursed_on:
        raise ValidationFailed(
            f"a hold cannot start before the loan was disbursed ({loan.disbursed_on})",
            code="invalid_hold_dates",
        )
    hold = Hold(
        loan_id=loan.id,
        start_on=start_on,
        end_on=end_on,
        reason=kind.value,
        suspends_penalty=SUSPENDS_PENALTY[kind],
        note=note,
        created_by=created_by,
    )
    db_session.add(hold)
    db_session.flush()
    service.refresh(db_session, [loan.id])
    return hold


def end(*, db_session: Session, loan_ref: str, on: date, hold_id: int | None = None) -> Hold:
    """End a loan's open hold (or the one given) early: ``on`` is the first day not held."""
    loan = loans.get_by_ref_or_raise(db_session=db_session, loan_ref=loan_ref, for_update=True)
    candidates = [
        h
        for h in holds_of(db_session=db_session, loan_id=loan.id)
        if (hold_id is None or h.id == hold_id) and (h.end_on is None or h.end_on > on)
    ]
    if not candidates:
        raise NotFound(
            f"loan '{loan_ref}' has no hold running on {on} to end", code="hold_not_found"
        )
    if len(candidates) > 1 and hold_id is None:
        raise Conflict(
            f"loan '{loan_ref}' has {len(candidates)} holds running on {on}; say which to end",
            code="ambiguous_hold",
        )
    hold = candidates[0]
    if on <= hold.start_on:
        raise ValidationFailed(
            f"the hold starts on {hold.start_on}; end it on a later date", code="invalid_hold_dates"
        )
    hold.end_on = on
    db_session.flush()
    service.refresh(db_session, [loan.id])
    return hold


def is_held(*, db_session: Session, loan_id: int, on: date) -> bool:
    """Whether a hold covers ``on`` (contact is blocked while it does)."""
    return any(
        h.start_on <= on and (h.end_on is None or on < h.end_on)
        for h in holds_of(db_session=db_session, loan_id=loan_id)
    )


def hold_view(hold: Hold) -> dict[str, Any]:
    """A hold as shown to people and tools."""
    return {
        "id": hold.id,
        "start_on": hold.start_on.isoformat(),
        "end_on": hold.end_on.isoformat() if hold.end_on else None,
        "reason": hold.reason,
        "suspends_penalty": hold.suspends_penalty,
        "blocks_contact": True,
        "note": hold.note,
        "created_by": hold.created_by,
    }
