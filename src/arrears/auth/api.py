"""Security routes: sign-in (token and console cookie), sign-out, the caller, users, the
audit trail and four-eyes approvals."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Body, Depends, Form, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.auth import approvals, audit, passwords, service, tokens
from arrears.auth.deps import (
    ApprovalsDecide,
    ApprovalsRead,
    ApprovalsRequest,
    AuditRead,
    Clock,
    CurrentPrincipal,
    Public,
    UsersManage,
    client_ip,
)
from arrears.auth.errors import Forbidden, SignInRefused
from arrears.auth.models import ApprovalRequest, AuditEntry, AuthSession, SessionKind, User
from arrears.auth.principal import Principal
from arrears.auth.roles import Role
from arrears.auth.scope import apply_scope, scoped_get
from arrears.auth.service import SignInGuard
from arrears.auth.settings import get_auth_settings
from arrears.kit.errors import ValidationFailed
from arrears.kit.http import DbSession, problem_responses
from arrears.kit.money import format_minor, to_minor
from arrears.kit.pagination import Page, PageQuery, SortOrder, paginate, sorting, where_given
from arrears.kit.settings import get_settings

router = APIRouter()

Guard = Annotated[SignInGuard, Depends(service.get_sign_in_guard)]
RequestId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Approval request id.")]
Username = Annotated[str, Path(min_length=1, max_length=64)]
SIGN_IN_PROBLEMS = problem_responses(401, 403, 422, 429)


# --- schemas ----------------------------------------------------------------------------


class TokenOut(BaseModel):
    """A bearer token (OAuth2 password grant response)."""

    access_token: str
    token_type: str = Field(default="bearer", examples=["bearer"])
    expires_in: int = Field(description="Seconds until the token expires.", examples=[1800])


class MeOut(BaseModel):
    """The signed-in user and what they may do."""

    username: str
    display_name: str
    role: Role
    team: str | None
    agency: str | None
    permissions: list[str]
    must_change_password: bool = Field(
        description="A one-time password is in use: change it (POST /auth/password) first."
    )
    approval_limit: str | None = Field(description="Largest amount this user may approve.")


class SessionOut(BaseModel):
    """A console session: the cookie is set; send ``csrf_token`` as X-CSRF-Token."""

    csrf_token: str
    expires_in: int
    user: MeOut


class Credentials(BaseModel):
    """A user name and password."""

    model_config = ConfigDict(extra="ignore")

    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class AuditEntryOut(BaseModel):
    """One entry of the audit trail."""

    id: int
    occurred_at: datetime
    actor: str
    actor_role: str | None
    action: str
    entity_type: str | None
    entity_id: str | None
    before: Any
    after: Any
    reason: str | None
    ip: str | None
    prev_hash: str
    hash: str


class VerifyOut(BaseModel):
    """Whether the audit chain is intact."""

    ok: bool
    checked: int
    first_broken_id: int | None
    reason: str | None
    head_hash: str = Field(description="Hash of the last intact entry; keep it elsewhere.")


class ApprovalIn(BaseModel):
    """A change to be approved by someone else."""

    model_config = ConfigDict(extra="forbid")

    action: str = Field(min_length=1, max_length=64, examples=["product.penalty_rate"])
    payload: dict[str, Any] = Field(
        examples=[{"product_code": "CASH", "penalty_multiplier": "1.5"}]
    )
    reason: str | None = Field(default=None, max_length=500)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=500)


class ApprovalOut(BaseModel):
    """An approval request and its decision."""

    id: int
    action: str
    entity_type: str | None
    entity_id: str | None
    payload: dict[str, Any]
    amount: str | None
    currency: str | None
    requested_by: str
    requested_at: datetime
    reason: str | None
    status: str
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    version: int


class UserOut(BaseModel):
    username: str
    display_name: str
    role: Role
    team: str | None
    agency: str | None
    active: bool
    locked_until: datetime | None
    must_change_password: bool
    approval_limit: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class UserIn(BaseModel):
    """A new user; without a password a one-time password is generated and returned once."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=2, max_length=64, examples=["li.na"])
    display_name: str | None = Field(default=None, max_length=200, examples=["李娜"])
    role: Role
    team: str | None = Field(default=None, max_length=64)
    agency: str | None = Field(default=None, max_length=64)
    approval_limit: Decimal | None = Field(default=None, ge=0, le=Decimal("999999999999999"))
    password: str | None = Field(default=None, max_length=1024)


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, max_length=200)
    role: Role | None = None
    team: str | None = Field(default=None, max_length=64)
    agency: str | None = Field(default=None, max_length=64)
    approval_limit: Decimal | None = Field(default=None, ge=0, le=Decimal("999999999999999"))
    active: bool | None = None


class UserCreatedOut(UserOut):
    one_time_password: str | None = Field(
        description="Shown once when generated; the user must change it at first sign-in."
    )


# --- presentation -----------------------------------------------------------------------


def _money(minor: int | None) -> str | None:
    return None if minor is None else format_minor(minor, get_settings().default_currency)


def present_me(user: User) -> MeOut:
    principal = Principal.of(user)
    return MeOut(
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        team=user.team,
        agency=user.agency,
        permissions=sorted(p.value for p in principal.permissions),
        must_change_password=user.must_change_password,
        approval_limit=_money(user.approval_limit),
    )


def present_user(user: User) -> UserOut:
    return UserOut(
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        team=user.team,
        agency=user.agency,
        active=user.active,
        locked_until=user.locked_until,
        must_change_password=user.must_change_password,
        approval_limit=_money(user.approval_limit),
        version=user.version,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


def present_approvals(db_session: Session, requests: list[ApprovalRequest]) -> list[ApprovalOut]:
    ids = {r.requested_by for r in requests} | {r.decided_by for r in requests if r.decided_by}
    names = dict(db_session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())
    currency = get_settings().default_currency
    return [
        ApprovalOut(
            id=r.id,
            action=r.action,
            entity_type=r.entity_type,
            entity_id=r.entity_id,
            payload=r.payload,
            amount=None if r.amount is None else format_minor(r.amount, r.currency or currency),
            currency=r.currency,
            requested_by=names.get(r.requested_by, str(r.requested_by)),
            requested_at=r.requested_at,
            reason=r.reason,
            status=r.status,
            decided_by=names.get(r.decided_by) if r.decided_by else None,
            decided_at=r.decided_at,
            decision_note=r.decision_note,
            version=r.version,
        )
        for r in requests
    ]


# --- sign-in and sign-out ---------------------------------------------------------------


def _sign_in(
    db_session: Session,
    request: Request,
    credentials: Credentials,
    clock: Clock,
    guard: SignInGuard,
) -> User:
    try:
        return service.authenticate(
            db_session=db_session,
            username=credentials.username,
            password=credentials.password,
            ip=client_ip(request),
            now=clock(),
            guard=guard,
        )
    except SignInRefused:
        db_session.commit()  # the failed attempt and its audit entry outlive the refusal
        raise


@router.post(
    "/auth/token",
    tags=["auth"],
    response_model=TokenOut,
    dependencies=[Public],
    responses=SIGN_IN_PROBLEMS,
)
def issue_token(
    request: Request,
    db_session: DbSession,
    clock: Clock,
    guard: Guard,
    username: Annotated[str, Form(min_length=1, max_length=200)],
    password: Annotated[str, Form(min_length=1, max_length=1024)],
    grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
) -> TokenOut:
    """Sign in with a user name and password (OAuth2 password form) for a bearer token."""
    user = _sign_in(
        db_session, request, Credentials(username=username, password=password), clock, guard
    )
    signed_in = service.start_session(
        db_session=db_session,
        user=user,
        kind=SessionKind.BEARER,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        now=clock(),
    )
    return TokenOut(access_token=signed_in.issued.token, expires_in=signed_in.issued.expires_in)


async def read_credentials(request: Request) -> Credentials:
    """User name and password from a JSON or a form body."""
    content_type = request.headers.get("content-type", "")
    data: Any
    if content_type.startswith("application/json"):
        try:
            data = await request.json()
        except ValueError:
            raise ValidationFailed("The body is not valid JSON.", code="invalid_json") from None
    else:
        form = await request.form()
        data = {key: value for key, value in form.items() if isinstance(value, str)}
    try:
        return Credentials.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None


_CREDENTIALS_SCHEMA = Credentials.model_json_schema()


def _secure(request: Request) -> bool:
    return get_auth_settings().tls or request.url.scheme == "https"


def _check_origin(request: Request) -> None:
    # A page of another site must not sign a browser in (login CSRF): a browser names the
    # page's origin on every cross-site POST.
    origin = request.headers.get("origin")
    if not origin or origin in get_auth_settings().cors_origin_list:
        return
    if urlsplit(origin).netloc != request.headers.get("host", ""):
        raise Forbidden(
            "Signing in from a page of another site is refused; add the console's origin "
            "to ARREARS_CORS_ORIGINS if it is served from elsewhere.",
            code="cross_site_sign_in",
        )


@router.post(
    "/auth/session",
    tags=["auth"],
    response_model=SessionOut,
    dependencies=[Public],
    responses=SIGN_IN_PROBLEMS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _CREDENTIALS_SCHEMA},
                "application/x-www-form-urlencoded": {"schema": _CREDENTIALS_SCHEMA},
            },
        }
    },
)
def open_session(
    request: Request,
    response: Response,
    db_session: DbSession,
    clock: Clock,
    guard: Guard,
    credentials: Annotated[Credentials, Depends(read_credentials)],
) -> SessionOut:
    """Sign in to the web console: sets the ``arrears_session`` cookie (httpOnly,
    SameSite=Strict) and returns the CSRF token to send as X-CSRF-Token on changes."""
    _check_origin(request)
    user = _sign_in(db_session, request, credentials, clock, guard)
    signed_in = service.start_session(
        db_session=db_session,
        user=user,
        kind=SessionKind.COOKIE,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        now=clock(),
    )
    issued = signed_in.issued
    response.set_cookie(
        tokens.COOKIE_NAME,
        issued.token,
        max_age=issued.expires_in,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    assert issued.csrf_token is not None
    return SessionOut(
        csrf_token=issued.csrf_token, expires_in=issued.expires_in, user=present_me(user)
    )


def _sign_out(
    request: Request, response: Response, db_session: Session, principal: Principal, clock: Clock
) -> Response:
    if principal.session_id is not None:
        session = db_session.get(AuthSession, principal.session_id)
        if session is not None:
            tokens.revoke(db_session=db_session, session=session, now=clock())
    audit.record(
        db_session=db_session,
        action="auth.sign_out",
        entity_type="user",
        entity_id=principal.user_id,
        actor=principal.actor,
    )
    response = Response(status_code=204)
    response.delete_cookie(
        tokens.COOKIE_NAME, path="/", httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


@router.delete(
    "/auth/session",
    tags=["auth"],
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403),
)
def close_session(
    request: Request,
    response: Response,
    db_session: DbSession,
    principal: CurrentPrincipal,
    clock: Clock,
) -> Response:
    """Sign out: the session (cookie or token) stops working at once."""
    return _sign_out(request, response, db_session, principal, clock)


@router.post(
    "/auth/logout",
    tags=["auth"],
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403),
)
def logout(
    request: Request,
    response: Response,
    db_session: DbSession,
    principal: CurrentPrincipal,
    clock: Clock,
) -> Response:
    """Sign out (same as DELETE /auth/session)."""
    return _sign_out(request, response, db_session, principal, clock)


@router.get("/auth/me", tags=["auth"], response_model=MeOut, responses=problem_responses(401))
def me(db_session: DbSession, principal: CurrentPrincipal) -> MeOut:
    """Who is signed in, with their role and permissions."""
    user = db_session.get(User, principal.user_id)
    assert user is not None
    return present_me(user)


@router.post(
    "/auth/password",
    tags=["auth"],
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 422),
)
def change_password(
    db_session: DbSession, principal: CurrentPrincipal, change: PasswordChangeIn
) -> Response:
    """Change your own password; your other sessions end."""
    user = db_session.get(User, principal.user_id)
    assert user is not None
    service.change_own_password(
        db_session=db_session,
        user=user,
        current_password=change.current_password,
        new_password=change.new_password,
        session_id=principal.session_id,
    )
    return Response(status_code=204)


# --- users ------------------------------------------------------------------------------


def _limit_minor(amount: Decimal | None) -> int | None:
    if amount is None:
        return None
    return to_minor(amount, get_settings().default_currency, field="approval_limit")


@router.get(
    "/users", tags=["users"], response_model=list[UserOut], responses=problem_responses(401, 403)
)
def list_users(db_session: DbSession, principal: UsersManage) -> list[UserOut]:
    """Every user."""
    return [present_user(u) for u in service.list_users(db_session=db_session)]


@router.post(
    "/users",
    tags=["users"],
    status_code=201,
    response_model=UserCreatedOut,
    responses=problem_responses(401, 403, 409, 422),
)
def create_user(db_session: DbSession, principal: UsersManage, spec: UserIn) -> UserCreatedOut:
    """Create a user; without a password a one-time password is generated and shown once."""
    generated = None if spec.password else passwords.generate_password(spec.username.lower())
    user = service.create_user(
        db_session=db_session,
        username=spec.username,
        password=spec.password or str(generated),
        role=spec.role.value,
        display_name=spec.display_name,
        team=spec.team,
        agency=spec.agency,
        approval_limit=_limit_minor(spec.approval_limit),
        must_change_password=generated is not None,
    )
    return UserCreatedOut(**present_user(user).model_dump(), one_time_password=generated)


@router.patch(
    "/users/{username}",
    tags=["users"],
    response_model=UserOut,
    responses=problem_responses(401, 403, 404, 422),
)
def update_user(
    db_session: DbSession, principal: UsersManage, username: Username, patch: UserPatch
) -> UserOut:
    """Change a user's role, team, agency, approval limit or whether they may sign in."""
    user = service.get_by_username_or_raise(db_session=db_session, username=username)
    given = patch.model_dump(exclude_unset=True)
    if "role" in given and given["role"] is not None:
        given["role"] = Role(given["role"]).value
    if "approval_limit" in given:
        given["approval_limit"] = _limit_minor(patch.approval_limit)
    service.update_user(db_session=db_session, user=user, **given)
    return present_user(user)


@router.post(
    "/users/{username}/unlock",
    tags=["users"],
    response_model=UserOut,
    responses=problem_responses(401, 403, 404),
)
def unlock_user(db_session: DbSession, principal: UsersManage, username: Username) -> UserOut:
    """Lift a sign-in lockout before it expires."""
    return present_user(service.unlock_user(db_session=db_session, username=username))


@router.post(
    "/users/{username}/reset-password",
    tags=["users"],
    response_model=UserCreatedOut,
    responses=problem_responses(401, 403, 404),
)
def reset_password(
    db_session: DbSession, principal: UsersManage, username: Username
) -> UserCreatedOut:
    """Issue a one-time password (shown once); the user's sessions end."""
    user, generated = service.reset_password(db_session=db_session, username=username)
    return UserCreatedOut(**present_user(user).model_dump(), one_time_password=generated)


# --- the audit trail --------------------------------------------------------------------

AUDIT_SORT = sorting(
    {"id": AuditEntry.id, "occurred_at": AuditEntry.occurred_at},
    default="-id",
    tiebreaker=AuditEntry.id,
)


@router.get(
    "/audit",
    tags=["audit"],
    response_model=Page[AuditEntryOut],
    responses=problem_responses(401, 403, 422),
)
def list_audit_entries(
    db_session: DbSession,
    principal: AuditRead,
    page: PageQuery,
    order: Annotated[SortOrder, Depends(AUDIT_SORT)],
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64, examples=["auth.sign_in"])] = None,
    entity_type: Annotated[str | None, Query(max_length=64, examples=["customer"])] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    occurred_from: Annotated[datetime | None, Query(alias="from")] = None,
    occurred_to: Annotated[datetime | None, Query(alias="to")] = None,
) -> Page[AuditEntryOut]:
    """The audit trail, newest first; filter by actor, action, entity and time (from ≤ t < to)."""
    query = where_given(
        select(AuditEntry),
        {
            AuditEntry.actor: actor,
            AuditEntry.action: action,
            AuditEntry.entity_type: entity_type,
            AuditEntry.entity_id: entity_id,
        },
    )
    for bound, moment in (("from", occurred_from), ("to", occurred_to)):
        if moment is not None and moment.tzinfo is None:
            raise ValidationFailed(
                f"'{bound}' needs a time zone, e.g. 2026-01-31T00:00:00+08:00",
                code="naive_timestamp",
            )
    if occurred_from is not None:
        query = query.where(AuditEntry.occurred_at >= occurred_from)
    if occurred_to is not None:
        query = query.where(AuditEntry.occurred_at < occurred_to)
    items, total = paginate(db_session, query, page, order)
    return Page[AuditEntryOut](
        items=[AuditEntryOut.model_validate(e, from_attributes=True) for e in items],
        total=total,
        page=page.page,
        page_size=page.page_size,
    )


@router.get(
    "/audit/verify", tags=["audit"], response_model=VerifyOut, responses=problem_responses(401, 403)
)
def verify_audit_chain(db_session: DbSession, principal: AuditRead) -> VerifyOut:
    """Recompute the hash chain of the whole trail; names the first entry that breaks it."""
    result = audit.verify(db_session=db_session)
    return VerifyOut(
        ok=result.ok,
        checked=result.checked,
        first_broken_id=result.first_broken_id,
        reason=result.reason,
        head_hash=result.head_hash,
    )


# --- four-eyes approvals ----------------------------------------------------------------

APPROVAL_SORT = sorting(
    {"requested_at": ApprovalRequest.requested_at, "id": ApprovalRequest.id},
    default="-requested_at",
    tiebreaker=ApprovalRequest.id,
)


@router.post(
    "/approvals",
    tags=["approvals"],
    status_code=201,
    response_model=ApprovalOut,
    responses=problem_responses(401, 403, 404, 422),
)
def create_approval_request(
    db_session: DbSession, principal: ApprovalsRequest, spec: ApprovalIn, clock: Clock
) -> ApprovalOut:
    """Ask for a change that someone else must approve (e.g. ``product.penalty_rate``)."""
    request = approvals.request_approval(
        db_session=db_session,
        principal=principal,
        action=spec.action,
        payload=spec.payload,
        reason=spec.reason,
        now=clock(),
    )
    return present_approvals(db_session, [request])[0]


@router.get(
    "/approvals",
    tags=["approvals"],
    response_model=Page[ApprovalOut],
    responses=problem_responses(401, 403, 422),
)
def list_approval_requests(
    db_session: DbSession,
    principal: ApprovalsRead,
    page: PageQuery,
    order: Annotated[SortOrder, Depends(APPROVAL_SORT)],
    status: Annotated[str | None, Query(pattern="^(pending|approved|rejected|cancelled)$")] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[ApprovalOut]:
    """Approval requests: deciders and auditors see all, everyone else their own."""
    query = where_given(
        select(ApprovalRequest),
        {ApprovalRequest.status: status, ApprovalRequest.action: action},
    )
    query = apply_scope(principal, query, ApprovalRequest)
    items, total = paginate(db_session, query, page, order)
    return Page[ApprovalOut](
        items=present_approvals(db_session, items),
        total=total,
        page=page.page,
        page_size=page.page_size,
    )


@router.get(
    "/approvals/{request_id}",
    tags=["approvals"],
    response_model=ApprovalOut,
    responses=problem_responses(401, 403, 404),
)
def show_approval_request(
    db_session: DbSession, principal: ApprovalsRead, request_id: RequestId
) -> ApprovalOut:
    """One approval request."""
    request = scoped_get(
        principal,
        db_session,
        ApprovalRequest,
        request_id,
        what="approval request",
        code="approval_not_found",
    )
    return present_approvals(db_session, [request])[0]


def _decide(
    db_session: Session,
    principal: Principal,
    request_id: int,
    approve: bool,
    decision: DecisionIn | None,
    clock: Clock,
) -> ApprovalOut:
    request = approvals.decide(
        db_session=db_session,
        request_id=request_id,
        approve=approve,
        principal=principal,
        note=decision.note if decision else None,
        now=clock(),
    )
    return present_approvals(db_session, [request])[0]


@router.post(
    "/approvals/{request_id}/approve",
    tags=["approvals"],
    response_model=ApprovalOut,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def approve_request(
    db_session: DbSession,
    principal: ApprovalsDecide,
    request_id: RequestId,
    clock: Clock,
    decision: Annotated[DecisionIn | None, Body()] = None,
) -> ApprovalOut:
    """Approve a request someone else made; the change is carried out now."""
    return _decide(db_session, principal, request_id, True, decision, clock)


@router.post(
    "/approvals/{request_id}/reject",
    tags=["approvals"],
    response_model=ApprovalOut,
    responses=problem_responses(401, 403, 404, 409),
)
def reject_request(
    db_session: DbSession,
    principal: ApprovalsDecide,
    request_id: RequestId,
    clock: Clock,
    decision: Annotated[DecisionIn | None, Body()] = None,
) -> ApprovalOut:
    """Reject a request someone else made; nothing changes."""
    return _decide(db_session, principal, request_id, False, decision, clock)


@router.post(
    "/approvals/{request_id}/cancel",
    tags=["approvals"],
    response_model=ApprovalOut,
    responses=problem_responses(401, 403, 404, 409),
)
def cancel_request(
    db_session: DbSession, principal: ApprovalsRequest, request_id: RequestId, clock: Clock
) -> ApprovalOut:
    """Withdraw your own pending request."""
    request = approvals.cancel(
        db_session=db_session, request_id=request_id, principal=principal, now=clock()
    )
    return present_approvals(db_session, [request])[0]
