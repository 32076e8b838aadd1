"""Four-eyes approvals: a change waits until a second person approves it.

An action is registered once with the permission needed to ask for it, a ``prepare``
step that checks the request and works out what is at stake (entity, amount), and the
handler that carries it out::

    register_action("product.penalty_rate", apply, prepare=prepare,
                    permission=Permission.PRODUCTS_WRITE)

``request_approval`` stores a pending request; ``decide`` approves or rejects it. The
decider must be someone else, hold ``approvals:decide`` and the action's permission,
and, for a request that moves money, have an ``approval_limit`` covering the amount.
Only an approval runs the handler, in the same transaction as the decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.auth import audit
from arrears.auth.errors import Forbidden
from arrears.auth.models import ApprovalRequest, ApprovalStatus
from arrears.auth.principal import Principal
from arrears.auth.roles import Permission
from arrears.kit.db import utcnow
from arrears.kit.errors import Conflict, NotFound, ValidationFailed
from arrears.kit.settings import get_settings
from arrears.loans import products
from arrears.loans.products import ProductSpec, describe_validation_error


@dataclass(frozen=True, slots=True)
class Prepared:
    """A checked request: what is stored and shown to the approver."""

    payload: dict[str, Any]
    entity_type: str | None = None
    entity_id: str | None = None
    amount: int | None = None  # minor units of ``currency``
    currency: str | None = None


Preparer = Callable[[Session, dict[str, Any]], Prepared]
Handler = Callable[[Session, ApprovalRequest, Principal], Any]


@dataclass(frozen=True, slots=True)
class ApprovalAction:
    """An action that needs four eyes."""

    name: str
    permission: Permission
    handler: Handler
    prepare: Preparer | None = None
    description: str = ""


ACTIONS: dict[str, ApprovalAction] = {}


def register_action(
    name: str,
    handler: Handler,
    *,
    permission: Permission,
    prepare: Preparer | None = None,
    description: str = "",
) -> ApprovalAction:
    """Declare an action that runs only after a second person approves it."""
    action = ApprovalAction(name, permission, handler, prepare, description)
    ACTIONS[name] = action
    return action


def get_action(name: str) -> ApprovalAction:
    """The registered action ``name``; ``unknown_action`` otherwise."""
    action = ACTIONS.get(name)
    if action is None:
        known = ", ".join(sorted(ACTIONS)) or "none"
        raise ValidationFailed(
            f"'{name[:64]}' is not an action that takes approval; actions are: {known}",
            code="unknown_action",
        )
    return action


def request_approval(
    *,
    db_session: Session,
    principal: Principal,
    action: str,
    payload: dict[str, Any],
    reason: str | None = None,
    now: datetime | None = None,
) -> ApprovalRequest:
    """Store a pending request for ``action``; the payload is checked now, applied later."""
    spec = get_action(action)
    if not principal.can(Permission.APPROVALS_REQUEST) or not principal.can(spec.permission):
        raise Forbidden(
            f"Your role ({principal.role.value}) may not ask for {action}: it needs "
            f"{spec.permission.value}.",
            required=spec.permission.value,
        )
    prepared = spec.prepare(db_session, payload) if spec.prepare else Prepared(dict(payload))
    request = ApprovalRequest(
        action=action,
        entity_type=prepared.entity_type,
        entity_id=prepared.entity_id,
        payload=audit.jsonable(prepared.payload),
        amount=prepared.amount,
        currency=prepared.currency,
        requested_by=principal.user_id,
        requested_at=now or utcnow(),
        reason=reason[:500] if reason else None,
        status=ApprovalStatus.PENDING.value,
    )
    db_session.add(request)
    db_session.flush()
    audit.record(
        db_session=db_session,
        action="approval.request",
        entity_type="approval",
        entity_id=request.id,
        after=_summary(request),
        reason=request.reason,
        actor=principal.actor,
    )
    return request


def get(*, db_session: Session, request_id: int, for_update: bool = False) -> ApprovalRequest:
    """Approval request ``request_id``; ``approval_not_found`` otherwise."""
    query = select(ApprovalRequest).where(ApprovalRequest.id == request_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    request = db_session.scalar(query)
    if request is None:
        raise NotFound(f"there is no approval request {request_id}", code="approval_not_found")
    return request


def _check_pending(request: ApprovalRequest) -> None:
    if request.status != ApprovalStatus.PENDING.value:
        raise Conflict(
            f"approval request {request.id} was already {request.status}",
            code="approval_not_pending",
            status=request.status,
        )


def decide(
    *,
    db_session: Session,
    request_id: int,
    approve: bool,
    principal: Principal,
    note: str | None = None,
    now: datetime | None = None,
) -> ApprovalRequest:
    """Approve (and carry out) or reject a pending request, as someone other than its maker."""
    request = get(db_session=db_session, request_id=request_id, for_update=True)
    _check_pending(request)
    spec = get_action(request.action)
    if not principal.can(Permission.APPROVALS_DECIDE):
        raise Forbidden(
            f"Your role ({principal.role.value}) does not decide approvals.",
            required=Permission.APPROVALS_DECIDE.value,
        )
    if request.requested_by == principal.user_id:
        raise Forbidden(
            "You asked for this change yourself; someone else must approve or reject it.",
            code="own_request",
        )
    if not principal.can(spec.permission):
        raise Forbidden(
            f"Deciding {request.action} needs {spec.permission.value}, which your role "
            f"({principal.role.value}) does not have.",
            required=spec.permission.value,
        )
    if approve and request.amount is not None:
        _check_limit(request, principal)
    request.status = (ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED).value
    request.decided_by = principal.user_id
    request.decided_at = now or utcnow()
    request.decision_note = note[:500] if note else None
    db_session.flush()
    result = spec.handler(db_session, request, principal) if approve else None
    audit.record(
        db_session=db_session,
        action="approval.approve" if approve else "approval.reject",
        entity_type="approval",
        entity_id=request.id,
        after={**_summary(request), "result": result},
        reason=request.decision_note,
        actor=principal.actor,
    )
    return request


def _check_limit(request: ApprovalRequest, principal: Principal) -> None:
    limit_currency = get_settings().default_currency
    if request.currency and request.currency != limit_currency:
        raise Forbidden(
            f"Approval limits are set in {limit_currency}; this request is in "
            f"{request.currency}, which no limit covers yet.",
            code="approval_limit_exceeded",
        )
    assert request.amount is not None
    if principal.approval_limit is None or principal.approval_limit < request.amount:
        raise Forbidden(
            "The amount of this request is above your approval limit; it needs an approver "
            "with a higher limit.",
            code="approval_limit_exceeded",
            amount=request.amount,
            approval_limit=principal.approval_limit,
        )


def cancel(
    *,
    db_session: Session,
    request_id: int,
    principal: Principal,
    now: datetime | None = None,
) -> ApprovalRequest:
    """Withdraw a pending request; only its maker can."""
    request = get(db_session=db_session, request_id=request_id, for_update=True)
    _check_pending(request)
    if request.requested_by != principal.user_id:
        raise Forbidden("Only the person who asked for a change can withdraw it.", code="not_own")
    request.status = ApprovalStatus.CANCELLED.value
    request.decided_by = principal.user_id
    request.decided_at = now or utcnow()
    db_session.flush()
    audit.record(
        db_session=db_session,
        action="approval.cancel",
        entity_type="approval",
        entity_id=request.id,
        after=_summary(request),
        actor=principal.actor,
    )
    return request


def _summary(request: ApprovalRequest) -> dict[str, Any]:
    return {
        "action": request.action,
        "entity_type": request.entity_type,
        "entity_id": request.entity_id,
        "payload": request.payload,
        "amount": request.amount,
        "currency": request.currency,
        "status": request.status,
    }


# --- product.penalty_rate: changing a product's penalty interest ------------------------


class PenaltyRateChange(BaseModel):
    """A product's new penalty interest: a rate in percent a year, or a multiplier of the
    contract rate (罚息 = contract rate × 1.5 is usual), or neither (no penalty)."""

    model_config = ConfigDict(extra="forbid")

    product_code: str = Field(min_length=1, max_length=64)
    penalty_rate: Decimal | None = Field(default=None, ge=0, le=1000)
    penalty_multiplier: Decimal | None = Field(default=None, ge=0, le=100)


def _penalty_of(spec: ProductSpec) -> dict[str, str | None]:
    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value.normalize())

    return {
        "penalty_rate": text(spec.penalty_rate),
        "penalty_multiplier": text(spec.penalty_multiplier),
    }


def _with_penalty(spec: ProductSpec, change: PenaltyRateChange) -> ProductSpec:
    document = {
        **spec.model_dump(),
        "penalty_rate": change.penalty_rate,
        "penalty_multiplier": change.penalty_multiplier,
    }
    try:
        return ProductSpec.model_validate(document)
    except ValidationError as exc:
        raise ValidationFailed(describe_validation_error(exc), code="invalid_product") from None


def _parse_change(payload: dict[str, Any]) -> PenaltyRateChange:
    try:
        return PenaltyRateChange.model_validate(payload)
    except ValidationError as exc:
        raise ValidationFailed(describe_validation_error(exc), code="invalid_payload") from None


def prepare_penalty_rate(db_session: Session, payload: dict[str, Any]) -> Prepared:
    """Check a penalty-rate change and note the current values for the approver."""
    change = _parse_change({k: v for k, v in payload.items() if k != "before"})
    product = products.get_by_code_or_raise(db_session=db_session, code=change.product_code)
    spec = products.product_to_spec(product)
    before = _penalty_of(spec)
    after = _penalty_of(_with_penalty(spec, change))
    if before == after:
        raise ValidationFailed(
            f"product {product.code} already has this penalty interest", code="nothing_to_change"
        )
    return Prepared(
        payload={"product_code": product.code, **after, "before": before},
        entity_type="product",
        entity_id=product.code,
    )


def apply_penalty_rate(
    db_session: Session, request: ApprovalRequest, principal: Principal
) -> dict[str, Any]:
    """Set the approved penalty interest, unless the product changed since the request."""
    payload = dict(request.payload)
    expected = payload.pop("before")
    change = _parse_change(payload)
    product = products.get_by_code_or_raise(db_session=db_session, code=change.product_code)
    spec = products.product_to_spec(product)
    current = _penalty_of(spec)
    if current != expected:
        raise Conflict(
            f"the penalty interest of product {product.code} changed after this request was "
            "made; reject it and ask again",
            code="changed_since_request",
        )
    new_spec = _with_penalty(spec, change)
    products.upsert(db_session=db_session, spec=new_spec)
    after = _penalty_of(new_spec)
    audit.record(
        db_session=db_session,
        action="product.penalty_rate",
        entity_type="product",
        entity_id=product.code,
        before=current,
        after=after,
        reason=f"approval request {request.id}",
        actor=principal.actor,
    )
    return after


register_action(
    "product.penalty_rate",
    apply_penalty_rate,
    permission=Permission.PRODUCTS_WRITE,
    prepare=prepare_penalty_rate,
    description="Change a product's penalty interest (rate or multiplier).",
)
