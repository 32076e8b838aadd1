"""Data scope: which rows a principal may see, declared once per table.

Each domain registers a rule for its table: given the principal and a ``select`` over the
table, the rule returns the select narrowed to what that principal may see. List routes
call ``apply_scope``; detail routes call ``check_in_scope`` (or ``scoped_get``), which
answers *not found* for a row outside the scope, so its existence is not given away.

A table without a rule is a programming error (``LookupError``): nothing is shown by
accident. Portfolio-wide roles see every row; collectors, field agents, legal officers
and agencies see the customers of their cases, told by ``set_allowed_customers`` (the
cases domain plugs in its assignment query; until then they see nothing). Rows that
belong to a loan (payments, charges, holds) are visible when their loan is.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, TypeAlias

from sqlalchemy import Select, false, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from arrears.auth.models import ApprovalRequest
from arrears.auth.principal import Principal
from arrears.auth.roles import Permission, Role
from arrears.customers.models import ContactPoint, Customer
from arrears.delinquency.models import Hold
from arrears.kit.errors import NotFound
from arrears.kit.pagination import AnySelect
from arrears.ledger.models import Charge, Payment
from arrears.loans.models import Loan

ScopeRule: TypeAlias = Callable[[Principal, AnySelect], AnySelect]
# The customers a case-scoped principal works: a select of customer ids, a collection of
# ids, or None for none.
AllowedCustomers: TypeAlias = Callable[[Principal], "AnySelect | Collection[int] | None"]

# Managers will be limited to their teams once teams exist; for now they see everything.
PORTFOLIO_WIDE_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.ANALYST, Role.AUDITOR})
CASE_SCOPED_ROLES = frozenset({Role.COLLECTOR, Role.FIELD_AGENT, Role.LEGAL, Role.AGENCY})

_RULES: dict[type, ScopeRule] = {}


def _no_cases(principal: Principal) -> None:
    return None


_allowed_customers: AllowedCustomers = _no_cases


def register_scope(model: type, rule: ScopeRule) -> None:
    """Declare how selects over ``model`` are narrowed for a principal."""
    _RULES[model] = rule


def scope_rule(model: type) -> ScopeRule:
    """The rule registered for ``model``; ``LookupError`` when there is none."""
    try:
        return _RULES[model]
    except KeyError:
        raise LookupError(
            f"no data-scope rule is registered for {model.__name__}; call register_scope"
        ) from None


def apply_scope(principal: Principal, query: AnySelect, model: type) -> AnySelect:
    """``query`` narrowed to the rows of ``model`` that ``principal`` may see."""
    return scope_rule(model)(principal, query)


def is_visible(principal: Principal, db_session: Session, model: type, id: int) -> bool:
    """Whether row ``id`` of ``model`` exists and is in the principal's scope."""
    primary_key = getattr(model, "id")  # noqa: B009 - every scoped table has an id
    query = apply_scope(principal, select(primary_key).where(primary_key == id), model)
    return db_session.execute(query).first() is not None


def check_in_scope(
    principal: Principal,
    db_session: Session,
    model: type,
    id: int,
    *,
    what: str | None = None,
    code: str = "not_found",
) -> None:
    """Raise ``NotFound`` unless row ``id`` of ``model`` exists and is in the principal's scope."""
    if not is_visible(principal, db_session, model, id):
        noun = what or getattr(model, "__tablename__", model.__name__).removesuffix("s")
        raise NotFound(f"there is no {noun} with id {id}", code=code)


def scoped_get(
    principal: Principal,
    db_session: Session,
    model: type,
    id: int,
    *,
    what: str | None = None,
    code: str = "not_found",
) -> Any:
    """Row ``id`` of ``model`` when it is in the principal's scope; ``NotFound`` otherwise."""
    check_in_scope(principal, db_session, model, id, what=what, code=code)
    return db_session.get(model, id)


# --- the customers of a principal's cases -----------------------------------------------


def set_allowed_customers(source: AllowedCustomers) -> AllowedCustomers:
    """Plug in where case-scoped principals' customers come from; returns the previous source."""
    global _allowed_customers
    previous = _allowed_customers
    _allowed_customers = source
    return previous


def allowed_customers_clause(
    principal: Principal, customer_id: ColumnElement[Any] | Any
) -> ColumnElement[bool]:
    """A condition true for the customer ids the (case-scoped) principal may see."""
    allowed = _allowed_customers(principal)
    if allowed is None:
        return false()
    if isinstance(allowed, Select):
        return customer_id.in_(allowed)
    ids = sorted(set(allowed))
    return customer_id.in_(ids) if ids else false()


def is_portfolio_wide(principal: Principal) -> bool:
    """Whether ``principal`` sees the whole portfolio."""
    return principal.role in PORTFOLIO_WIDE_ROLES


def customer_scope(customer_id: Any) -> ScopeRule:
    """A rule for a table whose rows belong to a customer through ``customer_id``."""

    def rule(principal: Principal, query: AnySelect) -> AnySelect:
        if is_portfolio_wide(principal):
            return query
        if principal.role in CASE_SCOPED_ROLES:
            return query.where(allowed_customers_clause(principal, customer_id))
        return query.where(false())

    return rule


def loan_scope(loan_id: Any) -> ScopeRule:
    """A rule for a table whose rows belong to a loan through ``loan_id``."""

    def rule(principal: Principal, query: AnySelect) -> AnySelect:
        if is_portfolio_wide(principal):
            return query
        return query.where(loan_id.in_(apply_scope(principal, select(Loan.id), Loan)))

    return rule


def _approvals_rule(principal: Principal, query: AnySelect) -> AnySelect:
    # deciders and auditors see every request; everyone else their own
    if principal.can(Permission.APPROVALS_DECIDE) or principal.can(Permission.AUDIT_READ):
        return query
    return query.where(ApprovalRequest.requested_by == principal.user_id)


# The book's tables; their domains may take these declarations over.
register_scope(Customer, customer_scope(Customer.id))
register_scope(ContactPoint, customer_scope(ContactPoint.customer_id))
register_scope(Loan, customer_scope(Loan.customer_id))
register_scope(Payment, loan_scope(Payment.loan_id))
register_scope(Charge, loan_scope(Charge.loan_id))
register_scope(Hold, loan_scope(Hold.loan_id))
register_scope(ApprovalRequest, _approvals_rule)
