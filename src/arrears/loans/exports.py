"""Exporting the book as CSV: customers, loans, installments and payments.

Each export has the columns of the matching import format first (so an export can be
imported into another database as it is) and then columns of state the import does not
take (paid and outstanding amounts, statuses, timestamps). Files are UTF-8 with a byte-order
mark, which Excel needs to show Chinese text. Rows are streamed from a server-side cursor:
memory stays flat however large the book is.

Personal data (ID numbers, phones, e-mail addresses, addresses) is masked unless the export
is made with ``reveal=True`` by someone who may see it; every export is an audit entry
(``record_export``) saying whether it was revealed. Only a revealed export can be imported
again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TextIO

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from arrears.auth import audit
from arrears.auth.masking import mask_contact, mask_id_number
from arrears.customers.models import ContactPoint, Customer
from arrears.kit.errors import ValidationFailed
from arrears.kit.money import exponent
from arrears.ledger.models import Charge, Payment
from arrears.loans.models import Installment, Loan, Product

BOM = "\ufeff"
STREAM_ROWS = 5_000
PROGRESS_EVERY = 10_000

AnySelect = Select[*tuple[Any, ...]]


def money_formatter(currency: str) -> Callable[[int | None], str]:
    """A fast minor-units-to-decimal-string function for one currency (12345 → "123.45")."""
    digits = exponent(currency)
    if digits == 0:
        return lambda minor: "" if minor is None else str(minor)
    factor = 10**digits

    def format_amount(minor: int | None) -> str:
        if minor is None:
            return ""
        whole, part = divmod(abs(minor), factor)
        sign = "-" if minor < 0 else ""
        return f"{sign}{whole}.{part:0{digits}d}"

    return format_amount


class _Money:
    """Formatters by currency, made once each."""

    def __init__(self) -> None:
        self._by_currency: dict[str, Callable[[int | None], str]] = {}

    def __call__(self, currency: str | None) -> Callable[[int | None], str]:
        code = currency or "CNY"
        found = self._by_currency.get(code)
        if found is None:
            found = self._by_currency[code] = money_formatter(code)
        return found


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Export:
    """One export: its columns, its query and how a result row becomes a CSV row."""

    kind: str
    columns: tuple[str, ...]
    query: Callable[[], AnySelect]
    row: Callable[[Any, _Money], Sequence[str]]
    count: Callable[[], AnySelect]
    # hides the personal data of a row made by ``row``; None: the export holds none
    mask: Callable[[Sequence[str]], Sequence[str]] | None = None


# --- customers -------------------------------------------------------------------------


def _customers_query() -> AnySelect:
    cp = ContactPoint
    primary = and_(cp.relation == "self", cp.is_primary.is_(True))
    points = (
        select(
            cp.customer_id,
            func.max(cp.value).filter(and_(primary, cp.kind == "phone")).label("phone"),
            func.max(cp.value).filter(and_(primary, cp.kind == "email")).label("email"),
            func.max(cp.value).filter(and_(primary, cp.kind == "address")).label("address"),
        )
        .group_by(cp.customer_id)
        .subquery()
    )
    c = Customer
    return (
        select(
            c.customer_ref,
            c.type,
            c.name,
            c.id_number,
            c.registration_code,
            points.c.phone,
            points.c.email,
            points.c.address,
            c.city,
            c.province,
            c.employer,
            c.income,
            c.income_currency,
            c.time_zone,
            c.language,
            c.created_at,
            c.updated_at,
        )
        .outerjoin(points, points.c.customer_id == c.id)
        .order_by(c.id)
    )


def _customer_row(r: Any, money: _Money) -> Sequence[str]:
    identifier = r.registration_code if r.type == "business" else r.id_number
    income = "" if r.income is None else money(r.income_currency)(r.income)
    return (
        r.customer_ref,
        r.type,
        r.name,
        identifier or "",
        r.phone or "",
        r.email or "",
        r.address or "",
        r.city or "",
        r.province or "",
        r.employer or "",
        income,
        r.income_currency or "",
        r.time_zone,
        r.language,
        _text(r.created_at),
        _text(r.updated_at),
    )


def _mask_customer_row(row: Sequence[str]) -> Sequence[str]:
    masked = list(row)
    identifier, phone, email, address = masked[3:7]
    masked[3] = mask_id_number(identifier) if identifier else ""
    masked[4] = mask_contact("phone", phone) if phone else ""
    masked[5] = mask_contact("email", email) if email else ""
    masked[6] = mask_contact("address", address) if address else ""
    return masked


CUSTOMERS = Export(
    kind="customers",
    columns=(
        "customer_ref",
        "type",
        "name",
        "id_number",
        "phone",
        "email",
        "address",
        "city",
        "province",
        "employer",
        "monthly_income",
        "income_currency",
        "time_zone",
        "language",
        "created_at",
        "updated_at",
    ),
    query=_customers_query,
    row=_customer_row,
    count=lambda: select(func.count()).select_from(Customer),
    mask=_mask_customer_row,
)


# --- loans -------------------------------------------------------------------------------


def _loans_query() -> AnySelect:
    from arrears.delinquency.models import LoanState

    i = Installment
    owed = (
        select(
            i.loan_id,
            func.count().label("installments"),
            func.sum(i.principal - i.paid_principal).label("principal"),
            func.sum(i.interest - i.paid_interest).label("interest"),
            func.sum(i.fee - i.paid_fee).label("fee"),
        )
        .group_by(i.loan_id)
        .subquery()
    )
    charged = (
        select(Charge.loan_id, func.sum(Charge.amount - Charge.paid).label("charges"))
        .group_by(Charge.loan_id)
        .subquery()
    )
    loan = Loan
    return (
        select(
            loan.loan_ref,
            Customer.customer_ref,
            Product.code.label("product_code"),
            loan.principal,
            loan.annual_rate,
            loan.term_months,
            loan.disbursed_on,
            loan.first_due_on,
            loan.currency,
            loan.status,
            loan.schedule_source,
            owed.c.installments,
            owed.c.principal.label("owed_principal"),
            owed.c.interest.label("owed_interest"),
            owed.c.fee.label("owed_fee"),
            # with the open accrual span's penalty, held with the state (not in charges)
            (func.coalesce(charged.c.charges, 0) + func.coalesce(LoanState.open_penalty, 0)).label(
                "owed_charges"
            ),
            loan.credit,
        )
        .join(Customer, Customer.id == loan.customer_id)
        .join(Product, Product.id == loan.product_id)
        .outerjoin(owed, owed.c.loan_id == loan.id)
        .outerjoin(charged, charged.c.loan_id == loan.id)
        .outerjoin(LoanState, LoanState.loan_id == loan.id)
        .order_by(loan.id)
    )


def _loan_row(r: Any, money: _Money) -> Sequence[str]:
    amount = money(r.currency)
    owed = [int(v or 0) for v in (r.owed_principal, r.owed_interest, r.owed_fee, r.owed_charges)]
    return (
        r.loan_ref,
        r.customer_ref,
        r.product_code,
        amount(r.principal),
        _text(r.annual_rate),
        str(r.term_months),
        _text(r.disbursed_on),
        _text(r.first_due_on),
        r.currency,
        r.status,
        r.schedule_source,
        str(r.installments or 0),
        *(amount(v) for v in owed),
        amount(sum(owed)),
        amount(r.credit),
    )


LOANS = Export(
    kind="loans",
    columns=(
        "loan_ref",
        "customer_ref",
        "product_code",
        "principal",
        "annual_rate",
        "term_months",
        "disbursed_on",
        "first_due_on",
        "currency",
        "status",
        "schedule_source",
        "installments",
        "outstanding_principal",
        "outstanding_interest",
        "outstanding_fee",
        "outstanding_charges",
        "outstanding_total",
        "credit",
    ),
    query=_loans_query,
    row=_loan_row,
    count=lambda: select(func.count()).select_from(Loan),
)


# --- installments -------------------------------------------------------------------------


def _installments_query() -> AnySelect:
    i = Installment
    return (
        select(
            Loan.loan_ref,
            i.number,
            i.due_on,
            i.principal,
            i.interest,
            i.fee,
            Loan.currency,
            i.paid_principal,
            i.paid_interest,
            i.paid_fee,
        )
        .join(Loan, Loan.id == i.loan_id)
        .order_by(i.loan_id, i.number)
    )


def _installment_row(r: Any, money: _Money) -> Sequence[str]:
    amount = money(r.currency)
    owed = (r.principal - r.paid_principal, r.interest - r.paid_interest, r.fee - r.paid_fee)
    return (
        r.loan_ref,
        str(r.number),
        r.due_on.isoformat(),
        amount(r.principal),
        amount(r.interest),
        amount(r.fee),
        r.currency,
        amount(r.paid_principal),
        amount(r.paid_interest),
        amount(r.paid_fee),
        *(amount(v) for v in owed),
        amount(sum(owed)),
    )


INSTALLMENTS = Export(
    kind="installments",
    columns=(
        "loan_ref",
        "number",
        "due_on",
        "principal",
        "interest",
        "fee",
        "currency",
        "paid_principal",
        "paid_interest",
        "paid_fee",
        "outstanding_principal",
        "outstanding_interest",
        "outstanding_fee",
        "outstanding_total",
    ),
    query=_installments_query,
    row=_installment_row,
    count=lambda: select(func.count()).select_from(Installment),
)


# --- payments ----------------------------------------------------------------------------


def _payments_query() -> AnySelect:
    p = Payment
    return (
        select(
            p.payment_ref,
            Loan.loan_ref,
            p.value_date,
            p.amount,
            p.channel,
            Loan.currency,
            p.status,
            p.reversed_at,
            p.reversal_reason,
            p.created_at,
        )
        .join(Loan, Loan.id == p.loan_id)
        .order_by(p.id)
    )


def _payment_row(r: Any, money: _Money) -> Sequence[str]:
    return (
        r.payment_ref,
        r.loan_ref,
        r.value_date.isoformat(),
        money(r.currency)(r.amount),
        r.channel,
        r.currency,
        r.status,
        _text(r.reversed_at),
        r.reversal_reason or "",
        _text(r.created_at),
    )


PAYMENTS = Export(
    kind="payments",
    columns=(
        "payment_ref",
        "loan_ref",
        "paid_on",
        "amount",
        "channel",
        "currency",
        "status",
        "reversed_at",
        "reversal_reason",
        "created_at",
    ),
    query=_payments_query,
    row=_payment_row,
    count=lambda: select(func.count()).select_from(Payment),
)


EXPORTS = {e.kind: e for e in (CUSTOMERS, LOANS, INSTALLMENTS, PAYMENTS)}
KINDS = tuple(EXPORTS)


def get_export(kind: str) -> Export:
    """The export called ``kind``; ``ValidationFailed`` if there is none."""
    try:
        return EXPORTS[kind]
    except KeyError:
        raise ValidationFailed(
            f"'{kind}' is not an export; use one of {', '.join(KINDS)}",
            code="invalid_export_kind",
        ) from None


def count_rows(kind: str, *, db_session: Session) -> int:
    """How many rows the export of ``kind`` has."""
    return int(db_session.scalar(get_export(kind).count()) or 0)


def holds_personal_data(kind: str) -> bool:
    """Whether the export of ``kind`` holds personal data that is masked unless revealed."""
    return get_export(kind).mask is not None


def iter_rows(kind: str, *, db_session: Session, reveal: bool = False) -> Iterator[Sequence[str]]:
    """The export's data rows as text, streamed (the header is ``get_export(kind).columns``);
    personal data masked unless ``reveal``."""
    export = get_export(kind)
    money = _Money()
    mask = None if reveal else export.mask
    result = db_session.execute(export.query().execution_options(yield_per=STREAM_ROWS))
    for row in result:
        text = export.row(row, money)
        yield text if mask is None else mask(text)


def record_export(
    *,
    db_session: Session,
    kind: str,
    revealed: bool,
    rows: int | None = None,
    reason: str | None = None,
    target: str | None = None,
) -> int:
    """Note an export in the audit trail (``export.<kind>``), saying whether it was revealed."""
    get_export(kind)
    return audit.record(
        db_session=db_session,
        action=f"export.{kind}",
        entity_type="export",
        entity_id=kind,
        after={"revealed": revealed, "rows": rows, "target": target},
        reason=reason,
    )


def write_csv(
    kind: str,
    stream: TextIO,
    *,
    db_session: Session,
    bom: bool = True,
    progress: Callable[[int], None] | None = None,
    reveal: bool = False,
) -> int:
    """Write the export of ``kind`` as CSV to ``stream``; returns the number of data rows.

    Personal data is masked unless ``reveal``.
    """
    export = get_export(kind)
    if bom:
        stream.write(BOM)
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(export.columns)
    written = 0
    for row in iter_rows(kind, db_session=db_session, reveal=reveal):
        writer.writerow(row)
        written += 1
        if progress is not None and written % PROGRESS_EVERY == 0:
            progress(written)
    if progress is not None:
        progress(written)
    return written


def csv_chunks(
    kind: str, *, db_session: Session, bom: bool = True, reveal: bool = False
) -> Iterator[str]:
    """The export as CSV text in pieces of a few thousand rows (for a streaming response);
    personal data masked unless ``reveal``."""
    export = get_export(kind)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if bom:
        buffer.write(BOM)
    writer.writerow(export.columns)
    for number, row in enumerate(iter_rows(kind, db_session=db_session, reveal=reveal), start=1):
        writer.writerow(row)
        if number % STREAM_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
