"""Importing schedules from the core banking system: a loan's rows replace its schedule.

Rows are grouped by loan; a loan's rows must be next to each other in the file (sorting by
``loan_ref`` is simplest). Each group is checked as a whole with
``arrears.loans.schedule.from_rows`` (numbered 1..n, due dates increasing, principal adding
up to the loan's) and is imported or refused as a whole: a loan never gets half a schedule.
After the schedules are replaced the loans' allocations are derived again, so payments
already posted land on the imported installments.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, func, select, update

from arrears.kit.db import refresh_statistics
from arrears.ledger import service as ledger
from arrears.ledger.models import Charge
from arrears.loans.imports_common import (
    Importer,
    Row,
    RowCheck,
    RowError,
    cell_text,
    chunked,
    lookup,
    matching,
    parse_date,
    parse_int,
    parse_money,
    table_of,
)
from arrears.loans.imports_loans import INSTALLMENT_INSERT, INSTALLMENTS, LOANS
from arrears.loans.models import ScheduleSource
from arrears.loans.schedule import Schedule, ScheduleError, from_rows

CHARGES = table_of(Charge)
# which file column a schedule error is about
_SCHEDULE_COLUMNS = {
    "installment_numbering": "number",
    "due_dates_not_increasing": "due_on",
    "negative_amount": "principal",
    "principal_mismatch": "principal",
    "empty_schedule": "loan_ref",
}
_DELETE_CHUNK = 5_000


@dataclass(slots=True)
class _Replacement:
    loan_id: int
    schedule: Schedule


class InstallmentsImporter(Importer):
    kind = "installments"
    required = ("loan_ref", "number", "due_on", "principal", "interest", "fee")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.open_groups: dict[str, list[tuple[int, Row]]] = {}
        self.rederived = 0

    def parse(self, chunk: list[tuple[int, Row]]) -> dict[str, list[tuple[int, Row]]]:
        """The loans whose rows are complete (the last loan may go on in the next chunk)."""
        groups = self.open_groups
        for row_number, row in chunk:
            ref = cell_text(row["loan_ref"])
            if not ref:
                check = RowCheck(row_number, row)
                check.fail("loan_ref", "loan_ref is empty", "missing_value")
                self.ctx.reject(check.errors)
            elif ref in self.seen_refs:
                check = RowCheck(row_number, row)
                check.fail(
                    "loan_ref",
                    f"the rows of loan {ref} are not next to each other; keep each loan's "
                    "installments together (sort the file by loan_ref)",
                    "loan_rows_not_together",
                )
                self.ctx.reject(check.errors)
            else:
                groups.setdefault(ref, []).append((row_number, row))
        # the last loan may go on in the next chunk
        last = cell_text(chunk[-1][1]["loan_ref"]) if chunk else ""
        ready = {ref: rows for ref, rows in groups.items() if ref != last}
        self.open_groups = {last: groups[last]} if last in groups else {}
        # closed: a later row of one of these loans is out of place
        self.seen_refs.update(ready)
        return ready

    def apply(self, groups: dict[str, list[tuple[int, Row]]]) -> None:
        self._handle(groups)

    def finish(self) -> None:
        groups, self.open_groups = self.open_groups, {}
        self.seen_refs.update(groups)
        self._handle(groups)

    # -- one batch of complete loans ------------------------------------------------------------

    def _handle(self, groups: dict[str, list[tuple[int, Row]]]) -> None:
        if not groups:
            return
        ctx = self.ctx
        c = LOANS.c
        loans = lookup(
            ctx.db_session,
            c.loan_ref,
            [c.id, c.currency, c.principal, c.schedule_source],
            list(groups),
        )
        ids = [loan.id for loan in loans.values()]
        stored: dict[int, list[tuple[int, date, int, int, int]]] = defaultdict(list)
        charged: dict[int, int] = {}
        i = INSTALLMENTS.c
        for part in chunked(ids, 5_000):
            for row in ctx.db_session.execute(
                select(i.loan_id, i.number, i.due_on, i.principal, i.interest, i.fee).where(
                    matching(ctx.db_session, i.loan_id, part)
                )
            ):
                stored[row.loan_id].append(
                    (row.number, row.due_on, row.principal, row.interest, row.fee)
                )
            for loan_id, highest in ctx.db_session.execute(
                select(CHARGES.c.loan_id, func.max(CHARGES.c.installment_number))
                .where(matching(ctx.db_session, CHARGES.c.loan_id, part))
                .group_by(CHARGES.c.loan_id)
            ):
                charged[loan_id] = highest
        replacements: list[_Replacement] = []
        for ref, rows in groups.items():
            loan = loans.get(ref)
            if loan is None:
                first_number, first_row = rows[0]
                check = RowCheck(first_number, first_row)
                check.fail(
                    "loan_ref",
                    f"there is no loan '{ref}'; import the loans first",
                    "loan_not_found",
                )
                ctx.reject(check.errors, rows=len(rows))
                continue
            replacement = self._group(ref, loan, rows, stored.get(loan.id, []), charged)
            if replacement is not None:
                replacements.append(replacement)
        if ctx.writing and replacements:
            self._write(replacements)

    def _group(
        self,
        ref: str,
        loan: Any,
        rows: list[tuple[int, Row]],
        before: list[tuple[int, date, int, int, int]],
        charged: dict[int, int],
    ) -> _Replacement | None:
        ctx = self.ctx
        errors: list[RowError] = []
        parsed: list[tuple[int, date, int, int, int]] = []
        numbers: dict[int, int] = {}
        for row_number, row in rows:
            check = RowCheck(row_number, row)
            number = check.get("number", parse_int, low=1, high=600)
            due_on = check.get("due_on", parse_date)
            principal = check.get("principal", parse_money, loan.currency)
            interest = check.get("interest", parse_money, loan.currency)
            fee = check.get("fee", parse_money, loan.currency, empty_is_zero=True)
            if number is not None and number in numbers:
                check.fail(
                    "number",
                    f"installment {number} of loan {ref} appears twice (rows "
                    f"{numbers[number]} and {row_number})",
                    "duplicate_ref",
                )
            elif number is not None:
                numbers[number] = row_number
            errors.extend(check.errors)
            if not check.errors:
                parsed.append((number, due_on, principal, interest, fee))
        span = _span(rows)
        schedule: Schedule | None = None
        if not errors:
            try:
                schedule = from_rows(loan.principal, parsed)
            except ScheduleError as exc:
                first_number = rows[0][0]
                column = _SCHEDULE_COLUMNS.get(exc.code, "loan_ref")
                errors.append(
                    RowError(
                        first_number,
                        column,
                        ref,
                        f"loan {ref} ({span}): {exc}",
                        exc.code,
                    )
                )
        if schedule is not None and charged.get(loan.id, 0) > len(schedule.installments):
            first_number, _ = rows[0]
            errors.append(
                RowError(
                    first_number,
                    "number",
                    ref,
                    f"loan {ref} ({span}) has charges on installment {charged[loan.id]}, "
                    f"which the imported schedule does not have",
                    "charges_on_missing_installment",
                )
            )
        if errors or schedule is None:
            ctx.reject(errors, rows=len(rows))
            return None
        imported = sorted(
            (i.number, i.due_on, i.principal, i.interest, i.fee) for i in schedule.installments
        )
        if loan.schedule_source == ScheduleSource.IMPORTED.value and imported == sorted(before):
            ctx.unchanged += len(rows)
            return None
        had = {number for number, *_ in before}
        updated = sum(1 for number, *_ in imported if number in had)
        ctx.updated += updated
        ctx.inserted += len(rows) - updated
        return _Replacement(loan.id, schedule)

    def _write(self, replacements: list[_Replacement]) -> None:
        ctx = self.ctx
        session = ctx.db_session
        ids = [r.loan_id for r in replacements]
        for part in chunked(ids, _DELETE_CHUNK):
            session.execute(
                delete(INSTALLMENTS).where(matching(session, INSTALLMENTS.c.loan_id, part))
            )
        ctx.writer.insert(
            INSTALLMENTS,
            INSTALLMENT_INSERT,
            (
                (r.loan_id, i.number, i.due_on, i.principal, i.interest, i.fee, 0, 0, 0)
                for r in replacements
                for i in r.schedule.installments
            ),
        )
        c = LOANS.c
        for part in chunked(ids, _DELETE_CHUNK):
            session.execute(
                update(LOANS)
                .where(matching(session, c.id, part))
                .values(
                    schedule_source=ScheduleSource.IMPORTED.value,
                    version=c.version + 1,
                    updated_at=ctx.now,
                )
            )
        if len(ids) > 5_000:
            refresh_statistics(session, ("installments", "charges", "allocations", "loan_states"))
        ledger.rederive(db_session=session, loan_ids=ids)
        self.rederived += len(ids)


def _span(rows: list[tuple[int, Row]]) -> str:
    first, last = rows[0][0], rows[-1][0]
    return f"row {first}" if first == last else f"rows {first}–{last}"
