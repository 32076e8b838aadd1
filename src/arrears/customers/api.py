"""Customer routes: search, create, show, edit (optimistic locking), contact points, reveal.

Personal data leaves masked (``110105********002X``, ``138****8000``); ``POST
/customers/{customer_ref}/reveal`` shows it in full to those who may, with a reason that
goes to the audit trail. Collectors, field agents, legal officers and agencies see only
the customers of their cases: others answer 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from arrears.auth import service as auth_service
from arrears.auth.crypto import blind_index
from arrears.auth.deps import CustomersRead, CustomersReveal, CustomersWrite
from arrears.auth.masking import mask_contact, mask_id_number
from arrears.auth.principal import Principal
from arrears.auth.scope import apply_scope
from arrears.customers import service as customers
from arrears.customers.models import (
    ContactKind,
    ContactPoint,
    ContactRelation,
    ContactStatus,
    Customer,
    CustomerType,
)
from arrears.customers.schemas import (
    ContactPointIn,
    ContactPointOut,
    ContactPointPatch,
    CustomerIn,
    CustomerOut,
    CustomerPatch,
    RevealedContactPointOut,
    RevealedCustomerOut,
    RevealIn,
)
from arrears.customers.validation import normalise_phone
from arrears.kit.http import DbSession, problem_responses
from arrears.kit.money import format_minor
from arrears.kit.pagination import (
    AnySelect,
    Page,
    PageQuery,
    SortOrder,
    paginate,
    sorting,
    where_given,
)
from arrears.loans.presenters import LoanSummaryOut, customer_loan_summaries

router = APIRouter(tags=["customers"])

ContactPointId = Annotated[int, Path(ge=1, le=2**63 - 1)]

CUSTOMER_SORT = sorting(
    {
        "customer_ref": Customer.customer_ref,
        "name": Customer.name,
        "city": Customer.city,
        "created_at": Customer.created_at,
    },
    default="customer_ref",
    tiebreaker=Customer.id,
)


class CustomerDetailOut(CustomerOut):
    """A customer with contact points and a summary of their loans."""

    loans: list[LoanSummaryOut]


# --- presentation: the one place customer data leaves the system ------------------------


def present_contact_point(point: ContactPoint) -> ContactPointOut:
    """A contact point as the API shows it: its value masked."""
    return ContactPointOut(
        id=point.id,
        kind=ContactKind(point.kind),
        value=mask_contact(point.kind, point.value),
        relation=ContactRelation(point.relation),
        status=ContactStatus(point.status),
        contact_name=point.contact_name,
        is_primary=point.is_primary,
        version=point.version,
        created_at=point.created_at,
        updated_at=point.updated_at,
    )


def identifier_of(customer: Customer) -> str | None:
    """A customer's resident ID, or its credit code for a business, in full."""
    if customer.type == CustomerType.BUSINESS.value:
        return customer.registration_code
    return customer.id_number


def present_customer(customer: Customer) -> CustomerOut:
    """A customer as the API shows it, personal data masked.

    Every customer the API returns is built here; only ``present_revealed`` shows the
    values in full, and only the reveal route calls it.
    """
    identifier = identifier_of(customer)
    income = (
        None
        if customer.income is None or customer.income_currency is None
        else format_minor(customer.income, customer.income_currency)
    )
    return CustomerOut(
        customer_ref=customer.customer_ref,
        type=CustomerType(customer.type),
        name=customer.name,
        id_number=None if identifier is None else mask_id_number(identifier),
        employer=customer.employer,
        monthly_income=income,
        income_currency=customer.income_currency,
        time_zone=customer.time_zone,
        language=customer.language,
        city=customer.city,
        province=customer.province,
        version=customer.version,
        created_at=customer.created_at,
        updated_at=customer.updated_at,
        contact_points=[present_contact_point(p) for p in customer.contact_points],
    )


def present_customer_detail(db_session: Session, customer: Customer) -> CustomerDetailOut:
    """A customer with contact points and loans."""
    loans = customer_loan_summaries(
        db_session=db_session, customer_id=customer.id, customer_ref=customer.customer_ref
    )
    return CustomerDetailOut(
        **present_customer(customer).model_dump(),
        loans=[LoanSummaryOut.model_validate(loan) for loan in loans],
    )


def present_revealed(customer: Customer) -> RevealedCustomerOut:
    """A customer's ID number and contact values in full (audited by the caller)."""
    return RevealedCustomerOut(
        customer_ref=customer.customer_ref,
        id_number=identifier_of(customer),
        contact_points=[
            RevealedContactPointOut(id=p.id, kind=ContactKind(p.kind), value=p.value)
            for p in customer.contact_points
        ],
    )


# --- queries ---------------------------------------------------------------------------


def customer_search(
    *,
    q: str | None,
    customer_type: CustomerType | None,
    city: str | None,
    province: str | None,
    id_number: str | None,
    phone: str | None,
) -> AnySelect:
    """Customers matching every given filter."""
    query: AnySelect = select(Customer).options(selectinload(Customer.contact_points))
    query = where_given(
        query,
        {
            Customer.type: customer_type.value if customer_type else None,
            Customer.city: city,
            Customer.province: province,
        },
    )
    if q:
        query = query.where(
            or_(
                Customer.name.icontains(q, autoescape=True),
                Customer.customer_ref.startswith(q, autoescape=True),
            )
        )
    if id_number:
        # encrypted at rest: matched exactly by blind index
        index = blind_index(id_number.strip().upper())
        query = query.where(
            or_(Customer.id_number_index == index, Customer.registration_code_index == index)
        )
    if phone:
        number = normalise_phone(phone)
        query = query.where(
            Customer.id.in_(
                select(ContactPoint.customer_id).where(
                    ContactPoint.kind == ContactKind.PHONE.value, ContactPoint.value == number
                )
            )
        )
    return query


# --- routes ----------------------------------------------------------------------------


def visible_customer(db_session: Session, principal: Principal, customer_ref: str) -> Customer:
    """The customer with ``customer_ref`` if the principal may see it; 404 otherwise."""
    return customers.get_by_ref_or_raise(
        db_session=db_session, customer_ref=customer_ref, principal=principal
    )


@router.get(
    "/customers", response_model=Page[CustomerOut], responses=problem_responses(401, 403, 422)
)
def list_customers(
    db_session: DbSession,
    principal: CustomersRead,
    page: PageQuery,
    order: Annotated[SortOrder, Depends(CUSTOMER_SORT)],
    q: Annotated[
        str | None,
        Query(max_length=200, description="Name contains, or customer reference starts with."),
    ] = None,
    customer_type: Annotated[CustomerType | None, Query(alias="type")] = None,
    city: Annotated[str | None, Query(max_length=100)] = None,
    province: Annotated[str | None, Query(max_length=100)] = None,
    id_number: Annotated[
        str | None,
        Query(max_length=32, description="Resident ID or USCC, exact (by blind index)."),
    ] = None,
    phone: Annotated[
        str | None, Query(max_length=40, description="A phone number, in any usual format.")
    ] = None,
) -> Page[CustomerOut]:
    """Search customers; paginated and sortable."""
    query = customer_search(
        q=q,
        customer_type=customer_type,
        city=city,
        province=province,
        id_number=id_number,
        phone=phone,
    )
    rows, total = paginate(db_session, apply_scope(principal, query, Customer), page, order)
    return Page[CustomerOut](
        items=[present_customer(c) for c in rows],
        total=total,
        page=page.page,
        page_size=page.page_size,
    )


@router.post(
    "/customers",
    status_code=201,
    response_model=CustomerDetailOut,
    responses=problem_responses(401, 403, 409, 422),
)
def create_customer(
    body: CustomerIn, db_session: DbSession, principal: CustomersWrite, response: Response
) -> Any:
    """Create a customer with its contact points; a reference already in use is a 409."""
    customer = customers.create(db_session=db_session, spec=body)
    response.headers["Location"] = f"/api/v1/customers/{customer.customer_ref}"
    return present_customer_detail(db_session, customer)


@router.get(
    "/customers/{customer_ref}",
    response_model=CustomerDetailOut,
    responses=problem_responses(401, 403, 404),
)
def get_customer(customer_ref: str, db_session: DbSession, principal: CustomersRead) -> Any:
    """A customer with contact points and a summary of their loans."""
    customer = visible_customer(db_session, principal, customer_ref)
    return present_customer_detail(db_session, customer)


@router.post(
    "/customers/{customer_ref}/reveal",
    response_model=RevealedCustomerOut,
    responses=problem_responses(401, 403, 404, 422),
)
def reveal_customer(
    customer_ref: str, body: RevealIn, db_session: DbSession, principal: CustomersReveal
) -> Any:
    """The customer's ID number and contact values in full; the reason is kept in the
    audit trail with who asked."""
    customer = visible_customer(db_session, principal, customer_ref)
    revealed = present_revealed(customer)
    fields = (["id_number"] if revealed.id_number else []) + [
        f"contact_points.{p.id}" for p in revealed.contact_points
    ]
    auth_service.record_reveal(
        db_session=db_session,
        actor=principal.actor,
        entity_type="customer",
        entity_id=customer.id,
        fields=fields,
        reason=body.reason,
    )
    return revealed


@router.patch(
    "/customers/{customer_ref}",
    response_model=CustomerDetailOut,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def update_customer(
    customer_ref: str, body: CustomerPatch, db_session: DbSession, principal: CustomersWrite
) -> Any:
    """Change some of a customer's fields; ``version`` must be the one you read, else 409."""
    customer = visible_customer(db_session, principal, customer_ref)
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    try:
        spec = CustomerIn.model_validate({**customers.as_input(customer), **changes})
    except ValidationError as exc:
        # reported against the request body, like any other invalid input
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None
    customers.update(db_session=db_session, customer=customer, spec=spec, version=body.version)
    return present_customer_detail(db_session, customer)


@router.post(
    "/customers/{customer_ref}/contact-points",
    status_code=201,
    response_model=ContactPointOut,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def add_contact_point(
    customer_ref: str, body: ContactPointIn, db_session: DbSession, principal: CustomersWrite
) -> Any:
    """Add a phone, e-mail or address to a customer."""
    customer = visible_customer(db_session, principal, customer_ref)
    point = customers.add_contact_point(db_session=db_session, customer=customer, spec=body)
    return present_contact_point(point)


@router.patch(
    "/customers/{customer_ref}/contact-points/{contact_point_id}",
    response_model=ContactPointOut,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def update_contact_point(
    customer_ref: str,
    contact_point_id: ContactPointId,
    body: ContactPointPatch,
    db_session: DbSession,
    principal: CustomersWrite,
) -> Any:
    """Change a contact point, e.g. mark it ``wrong_number`` or ``opted_out``."""
    customer = visible_customer(db_session, principal, customer_ref)
    point = customers.get_contact_point_or_raise(
        db_session=db_session, customer=customer, contact_point_id=contact_point_id
    )
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    customers.update_contact_point(
        db_session=db_session, point=point, version=body.version, changes=changes
    )
    return present_contact_point(point)
