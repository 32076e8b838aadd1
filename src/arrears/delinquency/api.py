"""End-of-day run and hold routes.

Holds are visible when their loan is: outside the caller's data scope they answer 404.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from arrears.auth import deps
from arrears.auth.audit import audit_actor
from arrears.delinquency import eod, holds
from arrears.delinquency.models import EodRun, HoldReason
from arrears.delinquency.service import today_in_portfolio
from arrears.kit.db import get_engine
from arrears.kit.errors import ArrearsError, NotFound
from arrears.kit.http import BusinessDate, DbSession, problem_responses
from arrears.loans import service as loans

router = APIRouter()


class EodRunBody(BaseModel):
    """Which business date to close; catches up missed dates first."""

    model_config = ConfigDict(extra="forbid")

    business_date: BusinessDate | None = Field(
        default=None, description="Default: today in the portfolio's time zone."
    )


class HoldBody(BaseModel):
    """A hold: from ``start_on`` (held) to ``end_on`` (the first day no longer held)."""

    model_config = ConfigDict(extra="forbid")

    start_on: BusinessDate
    end_on: BusinessDate | None = None
    reason: HoldReason
    note: str | None = Field(default=None, max_length=500)


class EndHoldBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: BusinessDate = Field(description="The first day no longer held.")


@router.post(
    "/eod-runs",
    status_code=202,
    tags=["eod"],
    responses=problem_responses(401, 403, 409, 422),
)
def start_eod_run(
    body: EodRunBody, db_session: DbSession, principal: deps.EodRun
) -> dict[str, Any]:
    """Start an end-of-day run in the background; poll ``GET /eod-runs/{id}`` for progress.

    Answers 409 at once when a run is already in progress.
    """
    target = body.business_date or today_in_portfolio()
    started = threading.Event()
    outcome: dict[str, Any] = {}

    def begin(run_id: int) -> None:
        outcome["run_id"] = run_id
        started.set()

    def work() -> None:
        # the run's audit entries name the caller (a thread does not inherit the request's)
        actor = principal.actor
        try:
            with audit_actor(actor.name, actor.role, actor.ip):
                eod.run_eod(get_engine(), target, requested_by=principal.username, on_started=begin)
        except ArrearsError as exc:
            outcome.setdefault("error", exc)
        except Exception as exc:  # recorded on the run row; the caller polls for it
            outcome.setdefault("error", exc)
        finally:
            started.set()

    threading.Thread(target=work, name=f"eod-{target}", daemon=True).start()
    started.wait()
    if "run_id" not in outcome:
        error = outcome.get("error")
        if isinstance(error, ArrearsError):
            raise error
        raise RuntimeError("the end-of-day run could not start") from error
    run = db_session.get(EodRun, outcome["run_id"])
    assert run is not None
    return eod.run_view(run)


@router.get("/eod-runs", tags=["eod"], responses=problem_responses(401, 403, 422))
def list_eod_runs(
    db_session: DbSession,
    principal: deps.EodRead,
    limit: Annotated[int, Query(ge=1, le=200)] = 30,
) -> dict[str, Any]:
    """The latest runs, newest first."""
    runs = db_session.scalars(select(EodRun).order_by(EodRun.id.desc()).limit(limit)).all()
    return {"items": [eod.run_view(run) for run in runs]}


@router.get("/eod-runs/{run_id}", tags=["eod"], responses=problem_responses(401, 403, 404))
def get_eod_run(run_id: int, db_session: DbSession, principal: deps.EodRead) -> dict[str, Any]:
    """One run with its progress, time per stage and loans per bucket."""
    run = db_session.get(EodRun, run_id)
    if run is None:
        raise NotFound(f"there is no end-of-day run {run_id}", code="eod_run_not_found")
    return eod.run_view(run)


@router.get("/loans/{loan_ref}/holds", tags=["holds"], responses=problem_responses(401, 403, 404))
def list_holds(loan_ref: str, db_session: DbSession, principal: deps.LoansRead) -> dict[str, Any]:
    """A loan's holds."""
    loan = loans.get_by_ref_or_raise(db_session=db_session, loan_ref=loan_ref, principal=principal)
    return {
        "items": [
            holds.hold_view(h) for h in holds.holds_of(db_session=db_session, loan_id=loan.id)
        ]
    }


@router.post(
    "/loans/{loan_ref}/holds",
    status_code=201,
    tags=["holds"],
    responses=problem_responses(401, 403, 404, 422),
)
def place_hold(
    loan_ref: str, body: HoldBody, db_session: DbSession, principal: deps.HoldsWrite
) -> dict[str, Any]:
    """Put a loan on hold (may be back-dated): ageing pauses and contact stops at once."""
    loans.get_by_ref_or_raise(db_session=db_session, loan_ref=loan_ref, principal=principal)
    hold = holds.place(
        db_session=db_session,
        loan_ref=loan_ref,
        start_on=body.start_on,
        end_on=body.end_on,
        reason=body.reason.value,
        note=body.note,
        created_by=principal.username,
    )
    return holds.hold_view(hold)


@router.post(
    "/loans/{loan_ref}/holds/{hold_id}/end",
    tags=["holds"],
    responses=problem_responses(401, 403, 404, 409, 422),
)
def end_hold(
    loan_ref: str,
    hold_id: int,
    body: EndHoldBody,
    db_session: DbSession,
    principal: deps.HoldsWrite,
) -> dict[str, Any]:
    """End a hold early; ``on`` is the first day no longer held."""
    loans.get_by_ref_or_raise(db_session=db_session, loan_ref=loan_ref, principal=principal)
    hold = holds.end(db_session=db_session, loan_ref=loan_ref, on=body.on, hold_id=hold_id)
    return holds.hold_view(hold)
