"""Customers: finding and creating borrowers and their contact points."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.auth.principal import Principal
from arrears.auth.scope import apply_scope
from arrears.customers.models import ContactPoint, Customer
from arrears.customers.schemas import ContactPointIn, CustomerIn
from arrears.kit.errors import Conflict, NotFound, ValidationFailed
from arrears.kit.money import from_minor


def get(*, db_session: Session, customer_id: int) -> Customer | None:
    """The customer with ``customer_id``, if any."""
    return db_session.get(Customer, customer_id)


def get_by_ref(
    *, db_session: Session, customer_ref: str, principal: Principal | None = None
) -> Customer | None:
    """The customer with ``customer_ref``, if any (and, given a principal, in their scope)."""
    query = select(Customer).where(Customer.customer_ref == customer_ref)
    if principal is not None:
        query = apply_scope(principal, query, Customer)
    return db_session.scalar(query)


def get_by_ref_or_raise(
    *, db_session: Session, customer_ref: str, principal: Principal | None = None
) -> Customer:
    """The customer with ``customer_ref``; ``NotFound`` otherwise, also when it is outside
    the scope of ``principal`` (so its existence is not given away)."""
    customer = get_by_ref(db_session=db_session, customer_ref=customer_ref, principal=principal)
    if customer is None:
        raise NotFound(
            f"there is no customer with reference '{customer_ref}'", code="customer_not_found"
        )
    return customer


def create(*, db_session: Session, spec: CustomerIn) -> Customer:
    """Create a customer with its contact points; refuses a reference already in use."""
    if get_by_ref(db_session=db_session, customer_ref=spec.customer_ref) is not None:
        raise Conflict(f"customer '{spec.customer_ref}' already exists", code="customer_exists")
    customer = Customer(**spec.columns())
    customer.contact_points = [
        ContactPoint(**point.model_dump(mode="json")) for point in spec.contact_points
    ]
    db_session.add(customer)
    db_session.flush()
    return customer


# --- editing (added for the API: PATCH with optimistic locking, contact points) --------


def check_version(*, row: Customer | ContactPoint, version: int, what: str) -> None:
    """Refuse a write based on an older read of ``row`` (optimistic locking)."""
    if row.version != version:
        raise Conflict(
            f"{what} was changed by someone else (you sent version {version}, it is now at "
            f"version {row.version}); reload it and apply your change again",
            code="stale_version",
            current_version=row.version,
        )


def as_input(customer: Customer) -> dict[str, Any]:
    """The ``CustomerIn`` fields of a stored customer (what ``columns()`` made), for edits."""
    is_business = customer.type == "business"
    income = (
        None
        if customer.income is None or customer.income_currency is None
        else from_minor(customer.income, customer.income_currency)
    )
    return {
        "customer_ref": customer.customer_ref,
        "type": customer.type,
        "name": customer.name,
        "id_number": customer.registration_code if is_business else customer.id_number,
        "employer": customer.employer,
        "monthly_income": income,
        "income_currency": customer.income_currency or "CNY",
        "time_zone": customer.time_zone,
        "language": customer.language,
        "city": customer.city,
        "province": customer.province,
    }


def update(*, db_session: Session, customer: Customer, spec: CustomerIn, version: int) -> Customer:
    """Apply ``spec`` (the customer as it should now be) if ``version`` is still current."""
    check_version(row=customer, version=version, what=f"customer '{customer.customer_ref}'")
    if spec.customer_ref != customer.customer_ref:
        raise ValidationFailed("a customer's reference cannot change", code="immutable_field")
    for key, value in spec.columns().items():
        if getattr(customer, key) != value:
            setattr(customer, key, value)
    db_session.flush()
    return customer


def add_contact_point(
    *, db_session: Session, customer: Customer, spec: ContactPointIn
) -> ContactPoint:
    """Add a contact point; refuses one the customer already has."""
    for point in customer.contact_points:
        if point.kind == spec.kind.value and point.value == spec.value:
            raise Conflict(
                f"customer '{customer.customer_ref}' already has {spec.kind.value} "
                f"'{spec.value}' (contact point {point.id})",
                code="contact_point_exists",
                contact_point_id=point.id,
            )
    point = ContactPoint(**spec.model_dump(mode="json"))
    customer.contact_points.append(point)
    db_session.flush()
    return point


def get_contact_point_or_raise(
    *, db_session: Session, customer: Customer, contact_point_id: int
) -> ContactPoint:
    """The customer's contact point ``contact_point_id``; ``NotFound`` otherwise."""
    point = db_session.get(ContactPoint, contact_point_id)
    if point is None or point.customer_id != customer.id:
        raise NotFound(
            f"customer '{customer.customer_ref}' has no contact point {contact_point_id}",
            code="contact_point_not_found",
        )
    return point


def update_contact_point(
    *, db_session: Session, point: ContactPoint, version: int, changes: dict[str, Any]
) -> ContactPoint:
    """Change a contact point's status, relation, name or primary flag at ``version``."""
    check_version(row=point, version=version, what=f"contact point {point.id}")
    for key in ("status", "relation", "is_primary"):
        if changes.get(key) is not None:
            value = changes[key]
            setattr(point, key, value.value if isinstance(value, StrEnum) else value)
    if "contact_name" in changes:
        point.contact_name = changes["contact_name"]
    db_session.flush()
    return point
