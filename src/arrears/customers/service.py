"""Customers: finding and creating borrowers and their contact points."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.customers.models import ContactPoint, Customer
from arrears.customers.schemas import CustomerIn
from arrears.kit.errors import Conflict, NotFound


def get(*, db_session: Session, customer_id: int) -> Customer | None:
    """The customer with ``customer_id``, if any."""
    return db_session.get(Customer, customer_id)


def get_by_ref(*, db_session: Session, customer_ref: str) -> Customer | None:
    """The customer with ``customer_ref``, if any."""
    return db_session.scalar(select(Customer).where(Customer.customer_ref == customer_ref))


def get_by_ref_or_raise(*, db_session: Session, customer_ref: str) -> Customer:
    """The customer with ``customer_ref``; ``NotFound`` otherwise."""
    customer = get_by_ref(db_session=db_session, customer_ref=customer_ref)
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
