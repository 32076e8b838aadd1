"""Importing loans: each new loan stored with the schedule its product generates.

Rows are checked by hand (not by pydantic) because a book holds millions of loans. The
customer and the product must already exist. A known reference with the same terms is
unchanged; with other terms it is a row error, since the book's loans are not edited by
re-importing them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from arrears.customers.models import Customer
from arrears.loans.imports_common import (
    Importer,
    Row,
    RowCheck,
    cell_text,
    lookup,
    parse_date,
    parse_int,
    parse_money,
    parse_rate,
    parse_ref,
    table_of,
)
from arrears.loans.imports_workers import ScheduleWorker, WorkerFailed
from arrears.loans.models import Installment, Loan, LoanStatus, Product, ScheduleSource
from arrears.loans.schedule import LoanTerms, ScheduleError, check_terms, generate
from arrears.loans.service import terms_for

log = logging.getLogger(__name__)

LOANS = table_of(Loan)
INSTALLMENTS = table_of(Installment)
CUSTOMERS = table_of(Customer)
_LOAN_INSERT = (
    "loan_ref", "customer_id", "product_id", "currency", "principal", "annual_rate",
    "term_months", "disbursed_on", "first_due_on", "status", "schedule_source", "credit",
    "created_at", "updated_at", "version",
)  # fmt: skip
INSTALLMENT_INSERT = (
    "loan_id", "number", "due_on", "principal", "interest", "fee", "paid_principal",
    "paid_interest", "paid_fee",
)  # fmt: skip
# which file column a schedule error is about
_SCHEDULE_COLUMNS = {
    "invalid_principal": "principal",
    "invalid_term": "term_months",
    "invalid_rate": "annual_rate",
    "invalid_first_due": "first_due_on",
}


@dataclass(slots=True)
class _NewLoan:
    row_number: int
    row: Row
    ref: str
    customer_ref: str
    product: Product
    principal: int
    annual_rate: Decimal
    term_months: int
    disbursed_on: date
    first_due_on: date


class LoansImporter(Importer):
    kind = "loans"
    required = (
        "loan_ref", "customer_ref", "product_code", "principal", "annual_rate", "term_months",
        "disbursed_on", "first_due_on",
    )  # fmt: skip
    optional = ("currency",)
    bulk_tables = (LOANS, INSTALLMENTS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.products = {p.code: p for p in self.ctx.db_session.scalars(select(Product))}
        self.worker: ScheduleWorker | None = None
        self.worker_failed = False

    def _parse(self, row_number: int, row: Row) -> _NewLoan | None:
        check = RowCheck(row_number, row)
        ref = check.get("loan_ref", parse_ref)
        fresh = self.first_sighting(check, "loan_ref", ref)
        customer_ref = check.get("customer_ref", parse_ref)
        code = cell_text(row["product_code"])
        product = self.products.get(code)
        if product is None:
            check.fail(
                "product_code",
                f"there is no product '{code}'" if code else "product_code is empty",
                "product_not_found" if code else "missing_value",
            )
        principal: int | None = None
        if product is not None:
            currency = cell_text(row.get("currency", "")).upper()
            if currency and currency != product.currency:
                check.fail(
                    "currency",
                    f"currency {currency} differs from product {code}'s {product.currency}",
                    "currency_mismatch",
                )
            principal = check.get("principal", parse_money, product.currency, allow_zero=False)
        annual_rate: Decimal | None = check.get("annual_rate", parse_rate)
        term: int | None = check.get("term_months", parse_int, low=1, high=600)
        disbursed_on: date | None = check.get("disbursed_on", parse_date)
        first_due_on: date | None = check.get("first_due_on", parse_date)
        if disbursed_on and first_due_on and first_due_on <= disbursed_on:
            check.fail(
                "first_due_on",
                f"first_due_on {first_due_on.isoformat()} is not after disbursed_on "
                f"{disbursed_on.isoformat()}",
                "invalid_first_due",
            )
        if (
            check.errors
            or not fresh
            or ref is None
            or customer_ref is None
            or product is None
            or principal is None
            or annual_rate is None
            or term is None
            or disbursed_on is None
            or first_due_on is None
        ):
            self.ctx.reject(check.errors)
            return None
        return _NewLoan(
            row_number,
            row,
            ref,
            customer_ref,
            product,
            principal,
            annual_rate,
            term,
            disbursed_on,
            first_due_on,
        )

    def parse(self, chunk: list[tuple[int, Row]]) -> list[_NewLoan]:
        return [p for p in (self._parse(n, row) for n, row in chunk) if p is not None]

    def apply(self, parsed: list[_NewLoan]) -> None:
        ctx = self.ctx
        if not parsed:
            return
        customers = lookup(
            ctx.db_session,
            CUSTOMERS.c.customer_ref,
            [CUSTOMERS.c.id],
            {p.customer_ref for p in parsed},
        )
        c = LOANS.c
        stored_terms = [
            c.customer_id, c.product_id, c.currency, c.principal, c.annual_rate, c.term_months,
            c.disbursed_on, c.first_due_on,
        ]  # fmt: skip
        existing = lookup(ctx.db_session, c.loan_ref, stored_terms, [p.ref for p in parsed])
        new: list[tuple[_NewLoan, int, LoanTerms]] = []
        for loan in parsed:
            check = RowCheck(loan.row_number, loan.row)
            customer = customers.get(loan.customer_ref)
            if customer is None:
                check.fail(
                    "customer_ref",
                    f"there is no customer '{loan.customer_ref}'; import the customers first",
                    "customer_not_found",
                )
                ctx.reject(check.errors)
                continue
            stored = existing.get(loan.ref)
            if stored is not None:
                if self._same_terms(stored, loan, customer.id):
                    ctx.unchanged += 1
                else:
                    check.fail(
                        "loan_ref",
                        f"loan {loan.ref} exists with other terms; a loan is not changed "
                        "by importing it again",
                        "loan_exists",
                    )
                    ctx.reject(check.errors)
                continue
            terms = terms_for(
                loan.product,
                principal=loan.principal,
                annual_rate=loan.annual_rate,
                term_months=loan.term_months,
                first_due_on=loan.first_due_on,
                disbursed_on=loan.disbursed_on,
            )
            try:
                # the schedule itself is generated while it is written (see _write)
                check_terms(terms)
            except ScheduleError as exc:
                check.fail(_SCHEDULE_COLUMNS.get(exc.code, "loan_ref"), str(exc), exc.code)
                ctx.reject(check.errors)
                continue
            new.append((loan, customer.id, terms))
        ctx.inserted += len(new)
        if ctx.writing and new:
            self._write(new)

    @staticmethod
    def _same_terms(stored: Any, loan: _NewLoan, customer_id: int) -> bool:
        return (
            stored.customer_id == customer_id
            and stored.product_id == loan.product.id
            and stored.currency == loan.product.currency
            and stored.principal == loan.principal
            and stored.annual_rate == loan.annual_rate
            and stored.term_months == loan.term_months
            and stored.disbursed_on == loan.disbursed_on
            and stored.first_due_on == loan.first_due_on
        )

    def _write(self, new: list[tuple[_NewLoan, int, LoanTerms]]) -> None:
        now = self.ctx.now
        writer = self.ctx.writer
        active = LoanStatus.ACTIVE.value
        generated = ScheduleSource.GENERATED.value
        loan_rows = [
            (
                loan.ref,
                customer_id,
                loan.product.id,
                loan.product.currency,
                loan.principal,
                loan.annual_rate,
                loan.term_months,
                loan.disbursed_on,
                loan.first_due_on,
                active,
                generated,
                0,
                now,
                now,
                1,
            )
            for loan, customer_id, _ in new
        ]
        if not writer.postgres:
            ids = writer.insert_with_ids(LOANS, _LOAN_INSERT, loan_rows)
            writer.insert(INSTALLMENTS, INSTALLMENT_INSERT, _installment_rows(ids, new))
            return
        ids = writer.reserve_ids(LOANS, len(new))
        with_ids = [(loan_id, *row) for loan_id, row in zip(ids, loan_rows, strict=True)]
        worker = self._worker() if self.ctx.bulk else None
        if worker is not None:
            # a helper process generates the schedules, as binary COPY rows
            tasks = worker.submit_loans([(i, t) for i, (_, _, t) in zip(ids, new, strict=True)])

            def store_installments() -> None:
                writer.copy_binary(INSTALLMENTS, INSTALLMENT_INSERT, worker.results(tasks))

        else:
            # each schedule is generated as its rows are sent
            def store_installments() -> None:
                writer.insert(INSTALLMENTS, INSTALLMENT_INSERT, _installment_rows(ids, new))

        def store() -> None:
            writer.insert(LOANS, ("id", *_LOAN_INSERT), with_ids)
            store_installments()

        # stored while the next chunk of the file is read and checked
        writer.in_background(store)

    def _worker(self) -> ScheduleWorker | None:
        """The helper process, started on first use; None if it cannot run here."""
        if self.worker is None and not self.worker_failed:
            try:
                self.worker = ScheduleWorker()
            except (WorkerFailed, OSError) as exc:
                log.warning("imports.schedule_worker_unavailable error=%s", exc)
                self.worker_failed = True
        return self.worker

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None


def _installment_rows(
    ids: list[int], new: list[tuple[_NewLoan, int, LoanTerms]]
) -> Iterator[tuple[Any, ...]]:
    for loan_id, (_, _, terms) in zip(ids, new, strict=True):
        for i in generate(terms).installments:
            yield (loan_id, i.number, i.due_on, i.principal, i.interest, i.fee, 0, 0, 0)
