"""Importing payments: posted in bulk, then every affected loan's allocation derived again.

A payment reference already on the book with the same loan, date and amount is the same
payment (unchanged); with other details it is a row error, as for ``post_payment``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from arrears.kit.db import refresh_statistics
from arrears.ledger import service as ledger
from arrears.ledger.models import Payment, PaymentStatus
from arrears.loans.imports_common import (
    Importer,
    Row,
    RowCheck,
    cell_text,
    chunked,
    lookup,
    parse_date,
    parse_money,
    parse_ref,
    table_of,
)
from arrears.loans.imports_loans import LOANS

PAYMENTS = table_of(Payment)
_PAYMENT_INSERT = (
    "payment_ref", "loan_id", "value_date", "amount", "channel", "status", "created_at",
    "updated_at", "version",
)  # fmt: skip
DEFAULT_CHANNEL = "bank_transfer"
_REDERIVE_CHUNK = 5_000
_ANALYZE_EVERY = 20  # chunks of loans re-derived between refreshes of the statistics
_READ_BY_REDERIVE = ("payments", "installments", "charges", "allocations", "loan_states")


@dataclass(slots=True)
class _Parsed:
    row_number: int
    row: Row
    ref: str
    loan_ref: str
    paid_on: date
    channel: str


class PaymentsImporter(Importer):
    kind = "payments"
    required = ("payment_ref", "loan_ref", "paid_on", "amount")
    optional = ("channel",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.affected: set[int] = set()

    def _parse(self, row_number: int, row: Row) -> _Parsed | None:
        check = RowCheck(row_number, row)
        ref = check.get("payment_ref", parse_ref)
        fresh = self.first_sighting(check, "payment_ref", ref)
        loan_ref = check.get("loan_ref", parse_ref)
        paid_on = check.get("paid_on", parse_date)
        channel = cell_text(row.get("channel", "")).lower() or DEFAULT_CHANNEL
        if channel not in ledger.CHANNELS:
            check.fail(
                "channel",
                f"channel '{channel}' is not one of {', '.join(ledger.CHANNELS)}",
                "invalid_channel",
            )
        if check.errors or not fresh or ref is None or loan_ref is None or paid_on is None:
            self.ctx.reject(check.errors)
            return None
        return _Parsed(row_number, row, ref, loan_ref, paid_on, channel)

    def parse(self, chunk: list[tuple[int, Row]]) -> list[_Parsed]:
        return [p for p in (self._parse(n, row) for n, row in chunk) if p is not None]

    def apply(self, parsed: list[_Parsed]) -> None:
        ctx = self.ctx
        if not parsed:
            return
        c = LOANS.c
        loans = lookup(
            ctx.db_session,
            c.loan_ref,
            [c.id, c.currency, c.disbursed_on],
            {p.loan_ref for p in parsed},
        )
        p = PAYMENTS.c
        existing = lookup(
            ctx.db_session,
            p.payment_ref,
            [p.loan_id, p.value_date, p.amount],
            [x.ref for x in parsed],
        )
        new: list[tuple[Any, ...]] = []
        now = ctx.now
        posted = PaymentStatus.POSTED.value
        for payment in parsed:
            check = RowCheck(payment.row_number, payment.row)
            loan = loans.get(payment.loan_ref)
            if loan is None:
                check.fail(
                    "loan_ref",
                    f"there is no loan '{payment.loan_ref}'; import the loans first",
                    "loan_not_found",
                )
                ctx.reject(check.errors)
                continue
            amount = check.get("amount", parse_money, loan.currency, allow_zero=False)
            if payment.paid_on < loan.disbursed_on:
                check.fail(
                    "paid_on",
                    f"paid_on {payment.paid_on.isoformat()} is before loan {payment.loan_ref} "
                    f"was disbursed ({loan.disbursed_on.isoformat()})",
                    "value_date_before_disbursement",
                )
            if check.errors or amount is None:
                ctx.reject(check.errors)
                continue
            stored = existing.get(payment.ref)
            if stored is not None:
                if (stored.loan_id, stored.value_date, stored.amount) == (
                    loan.id,
                    payment.paid_on,
                    amount,
                ):
                    ctx.unchanged += 1
                else:
                    check.fail(
                        "payment_ref",
                        f"payment {payment.ref} was already posted with other details "
                        "(loan, date or amount)",
                        "payment_ref_reused",
                    )
                    ctx.reject(check.errors)
                continue
            new.append(
                (
                    payment.ref,
                    loan.id,
                    payment.paid_on,
                    amount,
                    payment.channel,
                    posted,
                    now,
                    now,
                    1,
                )
            )
        ctx.inserted += len(new)
        if ctx.writing and new:
            ctx.writer.insert(PAYMENTS, _PAYMENT_INSERT, new)
            self.affected.update(row[1] for row in new)

    def finish(self) -> None:
        ctx = self.ctx
        if not ctx.writing or not self.affected:
            return
        loan_ids = sorted(self.affected)
        done = 0
        ctx.report_progress("rederive", 0, len(loan_ids))
        for number, part in enumerate(chunked(loan_ids, _REDERIVE_CHUNK)):
            if number % _ANALYZE_EVERY == 0 and len(loan_ids) > _REDERIVE_CHUNK:
                # the derived tables grow as we go: keep the planner on their indexes
                refresh_statistics(ctx.db_session, _READ_BY_REDERIVE)
            ledger.rederive(db_session=ctx.db_session, loan_ids=part)
            done += len(part)
            ctx.report_progress("rederive", done, len(loan_ids))
        if len(loan_ids) > _REDERIVE_CHUNK:
            refresh_statistics(ctx.db_session, _READ_BY_REDERIVE)  # right from the commit on
