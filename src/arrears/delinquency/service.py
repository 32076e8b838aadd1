"""Evaluating loans as of a business date and storing what follows, in bulk.

``refresh`` is called whenever a loan's ledger changes (payment, reversal, charge, hold,
import), so its state is true as of the current business date at once; the daily run
(``eod.py``) calls ``evaluate_and_store`` for the loans whose state can change that day.
Both read and write a chunk of loans with a few statements, never one round-trip per loan.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Table,
    and_,
    case,
    delete,
    func,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from arrears.delinquency.accrual import (
    LOOKAHEAD,
    AccrualTerms,
    Beyond,
    Carry,
    Evaluation,
    advance,
    evaluate,
    reaches_beyond,
    resolve_penalty_rate,
)
from arrears.delinquency.aging import Aging, BucketRule, ClassificationRules, HoldSpan
from arrears.delinquency.models import (
    BucketHistory,
    BusinessDay,
    Cure,
    Hold,
    LoanState,
    OutboxEvent,
)
from arrears.kit.bulk import among, insert_rows, update_rows
from arrears.kit.dates import DayCount
from arrears.kit.db import keyed_lookups
from arrears.kit.helpers import Helper, share
from arrears.kit.settings import get_settings
from arrears.ledger.allocation import ChargeDue, Due, Receipt
from arrears.ledger.models import Allocation, Charge, ChargeKind, Payment, PaymentStatus
from arrears.loans.models import Installment, Loan, LoanStatus, Product

CHUNK = 2000
EVALUATE, ADVANCE = "evaluate", "advance"  # what a helper process is asked to plan
log = logging.getLogger(__name__)
ACCRUAL_SOURCE = "accrual"  # charges the run generates (penalty interest, late fees)


def today_in_portfolio(now: datetime | None = None) -> date:
    """Today's date in the portfolio's time zone (the edge where the clock is read)."""
    zone = ZoneInfo(get_settings().timezone)
    return (now or datetime.now(zone)).astimezone(zone).date()


def last_completed_date(db_session: Session) -> date | None:
    """The latest business date whose end-of-day run has completed."""
    return db_session.scalar(select(func.max(BusinessDay.business_date)))


def business_date(db_session: Session) -> date:
    """The current business date: that of the last completed run, or today when none ran."""
    return last_completed_date(db_session) or today_in_portfolio()


@dataclass(frozen=True)
class ProductRules:
    """What the run needs of a product."""

    order: tuple[str, ...]
    penalty_rate: Decimal | None
    penalty_multiplier: Decimal | None
    compound: bool
    basis: int
    grace_days: int
    late_fee: int
    tolerance: int
    buckets: tuple[BucketRule, ...]
    classification: ClassificationRules

    def accrual_terms(self, contract_rate: Decimal) -> AccrualTerms:
        return AccrualTerms(
            penalty_rate=resolve_penalty_rate(
                self.penalty_rate, self.penalty_multiplier, contract_rate
            ),
            basis=self.basis,
            compound=self.compound,
            grace_days=self.grace_days,
            late_fee=self.late_fee,
            tolerance=self.tolerance,
            order=self.order,
        )


def product_rules(product: Product) -> ProductRules:
    """The run's view of a product row."""
    settings = get_settings()
    overrides = dict(product.classification or {})
    overrides.setdefault("borrower_contagion", settings.npl_contagion)
    return ProductRules(
        order=tuple(product.allocation_order),
        penalty_rate=product.penalty_rate,
        penalty_multiplier=product.penalty_multiplier,
        compound=product.penalty_compound,
        basis=DayCount(product.day_count).basis,
        grace_days=product.grace_days,
        late_fee=product.late_fee,
        tolerance=product.tolerance,
        buckets=tuple(
            BucketRule(b["code"], int(b["min_days"]), b.get("max_days")) for b in product.buckets
        ),
        classification=ClassificationRules(**overrides),
    )


@dataclass
class LoanInputs:
    """Everything stored about one loan that its evaluation depends on."""

    loan_id: int
    customer_id: int
    product_id: int
    annual_rate: Decimal
    dues: list[Due] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    manual_charges: list[ChargeDue] = field(default_factory=list)
    holds: list[HoldSpan] = field(default_factory=list)
    # stored derived rows, compared so that only what changed is written
    paid: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    accrual_rows: list[tuple[int, int, str, date | None, date, int, int]] = field(
        default_factory=list
    )  # id, installment, kind, accrued_from, charged_on, amount, paid
    manual_paid: dict[int, int] = field(default_factory=dict)
    # payment, installment, component, charge, amount, applied on (in the order read)
    allocations: list[tuple[Any, ...]] = field(default_factory=list)
    allocation_ids: list[int] = field(default_factory=list)  # of each of ``allocations``
    credit: int = 0
    beyond: Beyond | None = None  # installments not loaded (see ``accrual.Beyond``)


def chunks(ids: Collection[int], size: int = CHUNK) -> Iterator[list[int]]:
    """Sorted ids in chunks of ``size``."""
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def load_inputs(
    db_session: Session, loan_ids: list[int], as_of: date | None = None
) -> dict[int, LoanInputs]:
    """Load the inputs of a chunk of loans with one query per table (by their indexes).

    With ``as_of``, see ``_load_inputs``.
    """
    db_session.flush()
    with keyed_lookups(db_session):
        return _load_inputs(db_session, loan_ids, as_of)


def _load_inputs(
    db_session: Session, loan_ids: list[int], as_of: date | None = None
) -> dict[int, LoanInputs]:
    """Load the inputs of a chunk of loans with one query per table.

    With ``as_of``, installments falling due from ``LOOKAHEAD`` after it on that nothing has
    been paid are summed up in ``LoanInputs.beyond`` instead of loaded, for each loan whose
    money and charges cannot reach them (the others are loaded whole): evaluating as of
    ``as_of`` gives the same result.
    """
    conn = db_session.connection()

    def rows(query: Any) -> Sequence[Any]:
        # Core rows fetched at once: no ORM bookkeeping, no round of calls per row
        return conn.execute(query).all()

    inputs: dict[int, LoanInputs] = {}
    for row in rows(
        select(Loan.id, Loan.customer_id, Loan.product_id, Loan.annual_rate, Loan.credit).where(
            among(db_session, Loan.id, loan_ids)
        )
    ):
        inputs[row[0]] = LoanInputs(row[0], row[1], row[2], row[3], credit=row[4])
    unpaid = and_(
        Installment.paid_principal == 0, Installment.paid_interest == 0, Installment.paid_fee == 0
    )
    wanted: ColumnElement[bool] = among(db_session, Installment.loan_id, loan_ids)
    if as_of is not None:
        ahead = as_of + LOOKAHEAD
        scheduled = Installment.principal + Installment.interest + Installment.fee
        for loan_id, count, principal, total, first_due_on in rows(
            select(
                Installment.loan_id,
                func.count(),
                func.sum(Installment.principal),
                func.sum(scheduled),
                func.min(case((scheduled > 0, Installment.due_on))),
            )
            .where(wanted, Installment.due_on >= ahead, unpaid)
            .group_by(Installment.loan_id)
        ):
            inputs[loan_id].beyond = Beyond(count, int(principal), int(total), first_due_on)
        wanted = and_(wanted, or_(Installment.due_on < ahead, not_(unpaid)))
    for i in rows(
        select(
            Installment.loan_id,
            Installment.number,
            Installment.due_on,
            Installment.principal,
            Installment.interest,
            Installment.fee,
            Installment.paid_principal,
            Installment.paid_interest,
            Installment.paid_fee,
        ).where(wanted)
    ):
        # unpacked by position: rows arrive by the hundred thousand
        loan_id, number, due_on, principal, interest, fee, p_paid, i_paid, f_paid = i
        target = inputs[loan_id]
        target.dues.append(Due(number, due_on, principal, interest, fee))
        target.paid[number] = (p_paid, i_paid, f_paid)
    for p in rows(
        select(Payment.id, Payment.loan_id, Payment.value_date, Payment.amount).where(
            among(db_session, Payment.loan_id, loan_ids),
            Payment.status == PaymentStatus.POSTED.value,
        )
    ):
        payment_id, loan_id, value_date, amount = p
        inputs[loan_id].receipts.append(Receipt(payment_id, value_date, amount, payment_id))
    for c in rows(
        select(
            Charge.id,
            Charge.loan_id,
            Charge.installment_number,
            Charge.kind,
            Charge.source,
            Charge.accrued_from,
            Charge.charged_on,
            Charge.amount,
            Charge.paid,
        ).where(among(db_session, Charge.loan_id, loan_ids))
    ):
        charge_id, loan_id, number, kind, source, accrued_from, charged_on, amount, paid = c
        target = inputs[loan_id]
        if source == ACCRUAL_SOURCE:
            target.accrual_rows.append(
                (charge_id, number, kind, accrued_from, charged_on, amount, paid)
            )
        else:
            component = "penalty" if kind == ChargeKind.PENALTY.value else "fee"
            due = ChargeDue(charge_id, number, component, charged_on, amount)
            target.manual_charges.append(due)
            target.manual_paid[charge_id] = paid
    for h in rows(
        select(Hold.loan_id, Hold.start_on, Hold.end_on, Hold.suspends_penalty).where(
            among(db_session, Hold.loan_id, loan_ids)
        )
    ):
        inputs[h.loan_id].holds.append(HoldSpan(h.start_on, h.end_on, h.suspends_penalty))
    for a in rows(
        select(
            Allocation.loan_id,
            Allocation.id,
            Allocation.payment_id,
            Allocation.installment_number,
            Allocation.component,
            Allocation.charge_id,
            Allocation.amount,
            Allocation.applied_on,
        ).where(among(db_session, Allocation.loan_id, loan_ids))
    ):
        target = inputs[a[0]]
        target.allocation_ids.append(a[1])
        target.allocations.append(tuple(a[2:]))
    reload = [
        item.loan_id
        for item in inputs.values()
        if item.beyond is not None
        and (
            reaches_beyond(item.dues, item.receipts, item.beyond)
            or not {c.installment_number for c in item.manual_charges} <= item.paid.keys()
        )
    ]
    if reload:
        inputs.update(_load_inputs(db_session, reload))
    return inputs


def load_rules(db_session: Session, product_ids: Collection[int]) -> dict[int, ProductRules]:
    """Rules of the given products."""
    return {
        p.id: product_rules(p)
        for p in db_session.scalars(select(Product).where(Product.id.in_(list(product_ids))))
    }


def evaluate_inputs(inputs: LoanInputs, rules: ProductRules, as_of: date) -> Evaluation:
    """Evaluate one loan from its loaded inputs."""
    return evaluate(
        inputs.dues,
        inputs.receipts,
        as_of,
        terms=rules.accrual_terms(inputs.annual_rate),
        manual_charges=inputs.manual_charges,
        holds=inputs.holds,
        buckets=rules.buckets,
        rules=rules.classification,
        beyond=inputs.beyond,
    )


@dataclass
class StoreStats:
    loans: int = 0
    advanced: int = 0  # of ``loans``, moved on from their carry instead of re-derived
    installments_changed: int = 0
    charges_written: int = 0
    allocations_rewritten: int = 0
    events: int = 0
    cures: int = 0
    bucket_counts: dict[str, int] = field(default_factory=dict)


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


def evaluate_and_store(
    db_session: Session,
    loan_ids: Collection[int],
    as_of: date,
    *,
    update_state: bool = True,
    stats: StoreStats | None = None,
    helpers: Sequence[Helper] = (),
    url: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> StoreStats:
    """Evaluate ``loan_ids`` as of ``as_of`` and write what changed (chunked, set-based).

    With ``helpers`` (only for loans whose committed inputs are current: the daily run),
    helper processes reading the database at ``url`` evaluate part of the chunks; this
    process stores every chunk, in its transaction. ``progress`` is told the loans done.
    """
    stats = stats or StoreStats()
    rules_cache: dict[int, ProductRules] = {}

    def store(writes: Writes) -> None:
        store_writes(db_session, writes, as_of, stats, update_state=update_state)
        if progress:
            progress(stats.loans)

    share(
        chunks(loan_ids),
        helpers,
        task=lambda chunk: (EVALUATE, url, as_of, chunk),
        here=lambda chunk: evaluate_chunk(db_session, chunk, as_of, rules_cache),
        store=store,
    )
    return stats


def evaluate_chunk(
    db_session: Session, loan_ids: list[int], as_of: date, rules_cache: dict[int, ProductRules]
) -> Writes:
    """Load and evaluate a chunk of loans: what storing them would write (nothing written)."""
    inputs = load_inputs(db_session, loan_ids, as_of)
    missing = {i.product_id for i in inputs.values()} - rules_cache.keys()
    if missing:
        rules_cache.update(load_rules(db_session, missing))
    evaluations = {
        loan_id: evaluate_inputs(item, rules_cache[item.product_id], as_of)
        for loan_id, item in inputs.items()
    }
    return plan_writes(inputs, evaluations)


def store_writes(
    db_session: Session,
    writes: Writes,
    as_of: date,
    stats: StoreStats,
    *,
    update_state: bool = True,
) -> None:
    """Write what ``evaluate_chunk`` planned."""
    with keyed_lookups(db_session):
        _store_ledger(db_session, writes, stats)
        if update_state:
            _store_states(db_session, writes.states, as_of, stats)
    stats.loans += len(writes.states)


def _carried_states(db_session: Session, loan_ids: list[int], as_of: date) -> list[dict[str, Any]]:
    """States of ``loan_ids`` that can be advanced to ``as_of`` from their carry.

    The carry is written only when nothing is pending, and every change to a loan's ledger
    evaluates it again; the conditions here also keep out, should something have slipped
    past that, money dated after the state, holds, and products changed since.
    """
    later_money = (
        select(Payment.id)
        .where(
            Payment.loan_id == LoanState.loan_id,
            Payment.value_date > LoanState.as_of,
            Payment.status == PaymentStatus.POSTED.value,
        )
        .exists()
    )
    held = select(Hold.id).where(Hold.loan_id == LoanState.loan_id).exists()
    query = (
        select(
            LoanState.loan_id,
            LoanState.carry,
            Loan.product_id,
            Loan.annual_rate,
            # what advancing and storing need: the state is of an earlier date, so it is
            # written again whatever its other columns hold
            *[LoanState.__table__.c[name] for name in _CARRIED_FIELDS],
        )
        .join(Loan, Loan.id == LoanState.loan_id)
        .join(Product, Product.id == Loan.product_id)
        .where(
            among(db_session, LoanState.loan_id, loan_ids),
            LoanState.carry.is_not(None),
            LoanState.past_due_days > 0,
            LoanState.as_of < as_of,
            Loan.credit == 0,
            Product.updated_at <= LoanState.updated_at,
            ~later_money,
            ~held,
        )
    )
    with keyed_lookups(db_session):
        return [dict(row._mapping) for row in db_session.execute(query)]


@dataclass
class Advances:
    """What moving a chunk of loans on from their carry writes (computed without writing).

    Only states: the open span's penalties grow in the carry, not in the charges table.
    """

    states: dict[int, dict[str, Any]] = field(default_factory=dict)
    previous: dict[int, dict[str, Any]] = field(default_factory=dict)


def plan_advances(
    db_session: Session, loan_ids: list[int], as_of: date, rules_cache: dict[int, ProductRules]
) -> Advances:
    """Advance those of ``loan_ids`` that can be from their carry (``accrual.advance``)."""
    rows = _carried_states(db_session, loan_ids, as_of)
    missing = {row["product_id"] for row in rows} - rules_cache.keys()
    if missing:
        rules_cache.update(load_rules(db_session, missing))
    terms_cache: dict[tuple[int, Decimal], AccrualTerms] = {}
    plan = Advances()
    for row in rows:
        if row["carry"] is None:  # a JSON null written by hand: evaluate in full
            continue
        rules = rules_cache[row["product_id"]]
        key = (row["product_id"], row["annual_rate"])
        terms = terms_cache.get(key)
        if terms is None:
            terms = terms_cache[key] = rules.accrual_terms(row["annual_rate"])
        moved = advance(
            Carry.from_json(row["carry"]),
            row["as_of"],
            as_of,
            outstanding_principal=row["outstanding_principal"],
            outstanding_total=row["outstanding_total"],
            terms=terms,
            buckets=rules.buckets,
            rules=rules.classification,
        )
        if moved is None:
            continue
        loan_id = row["loan_id"]
        plan.states[loan_id] = _columns(
            moved.aging, moved.outstanding_principal, moved.outstanding_total, moved.carry
        )
        # what storing reads of the state it replaces (a helper sends this back)
        plan.previous[loan_id] = {name: row[name] for name in _STORED_FIELDS}
    return plan


def store_advances(db_session: Session, plan: Advances, as_of: date, stats: StoreStats) -> None:
    """Write what ``plan_advances`` planned: the loans' new states."""
    with keyed_lookups(db_session):
        _store_states(db_session, plan.states, as_of, stats, previous=plan.previous)
    stats.loans += len(plan.states)
    stats.advanced += len(plan.states)


def advance_and_store(
    db_session: Session,
    loan_ids: Collection[int],
    as_of: date,
    *,
    stats: StoreStats,
    helpers: Sequence[Helper] = (),
    url: str | None = None,
) -> set[int]:
    """Move delinquent loans to which nothing happened on to ``as_of``; return those moved.

    Each is advanced from its carry (``accrual.advance``): its open accrual span's penalties
    grow in the carry and its ageing moves, with no need to load and re-derive its ledger,
    and only its state is written. The rest are left to ``evaluate_and_store``. With
    ``helpers`` (the daily run), helper processes plan part of the chunks.
    """
    moved: set[int] = set()
    rules_cache: dict[int, ProductRules] = {}

    def store(plan: Advances) -> None:
        store_advances(db_session, plan, as_of, stats)
        moved.update(plan.states)

    share(
        chunks(loan_ids),
        helpers,
        task=lambda chunk: (ADVANCE, url, as_of, chunk),
        here=lambda chunk: plan_advances(db_session, chunk, as_of, rules_cache),
        store=store,
    )
    return moved


@dataclass
class Writes:
    """What storing a chunk of evaluations writes (computed without the database).

    Charges generated for the first time carry their evaluation's placeholder id (< 0)
    until inserted; allocations to them name that placeholder.
    """

    charge_deletes: list[int] = field(default_factory=list)
    charge_updates: list[dict[str, Any]] = field(default_factory=list)
    new_charges: list[dict[str, Any]] = field(default_factory=list)
    new_charge_keys: list[tuple[int, int]] = field(default_factory=list)  # loan, placeholder
    installment_updates: list[dict[str, Any]] = field(default_factory=list)
    paid_updates: list[dict[str, Any]] = field(default_factory=list)
    allocation_loans: list[int] = field(default_factory=list)  # any allocation changed
    allocation_deletes: list[int] = field(default_factory=list)
    allocation_rows: list[dict[str, Any]] = field(default_factory=list)
    credit_updates: list[dict[str, Any]] = field(default_factory=list)
    states: dict[int, dict[str, Any]] = field(default_factory=dict)


def plan_writes(inputs: dict[int, LoanInputs], evaluations: dict[int, Evaluation]) -> Writes:
    """Compare evaluations with what is stored: the charges, allocations, paid amounts,
    credit and states to write."""
    writes = Writes(states={loan_id: state_columns(e) for loan_id, e in evaluations.items()})
    for loan_id, evaluation in evaluations.items():
        item = inputs[loan_id]
        state = evaluation.ledger
        existing = {(r[1], r[2], r[3] or r[4]): r for r in item.accrual_rows}
        id_map: dict[int, int] = {}  # placeholder -> stored id
        for accrued in evaluation.stored_charges():
            key = (
                accrued.installment_number,
                accrued.kind,
                accrued.accrued_from or accrued.charged_on,
            )
            row = existing.pop(key, None)
            if row is None:
                writes.new_charges.append(
                    {
                        "loan_id": loan_id,
                        "installment_number": accrued.installment_number,
                        "kind": accrued.kind,
                        "accrued_from": accrued.accrued_from,
                        "charged_on": accrued.charged_on,
                        "amount": accrued.amount,
                        "paid": state.charge_paid.get(accrued.charge_id, 0),
                        "source": ACCRUAL_SOURCE,
                    }
                )
                writes.new_charge_keys.append((loan_id, accrued.charge_id))
                continue
            id_map[accrued.charge_id] = row[0]
            if (row[4], row[5]) != (accrued.charged_on, accrued.amount):
                writes.charge_updates.append(
                    {"id": row[0], "charged_on": accrued.charged_on, "amount": accrued.amount}
                )
        writes.charge_deletes.extend(r[0] for r in existing.values())

        for inst in state.installments:
            after = (inst.paid_principal, inst.paid_interest, inst.paid_fee)
            if item.paid.get(inst.number) != after:
                writes.installment_updates.append(
                    {
                        "loan_id": loan_id,
                        "number": inst.number,
                        "paid_principal": after[0],
                        "paid_interest": after[1],
                        "paid_fee": after[2],
                    }
                )
        stored_paid = {**{r[0]: r[6] for r in item.accrual_rows}, **item.manual_paid}
        for charge_id, paid in state.charge_paid.items():
            real = id_map.get(charge_id, charge_id)
            if real >= 0 and stored_paid.get(real) != paid:  # new charges are inserted paid
                writes.paid_updates.append({"id": real, "paid": paid})
        wanted = [
            (
                a.payment_id,
                a.installment_number,
                a.component,
                id_map.get(a.charge_id, a.charge_id) if a.charge_id is not None else None,
                a.amount,
                a.applied_on,
            )
            for a in state.allocations
        ]
        if wanted != item.allocations:
            gone, fresh = _allocation_changes(wanted, item.allocations, item.allocation_ids)
            if gone or fresh:
                writes.allocation_loans.append(loan_id)
                writes.allocation_deletes.extend(gone)
                writes.allocation_rows.extend(
                    {
                        "loan_id": loan_id,
                        "payment_id": w[0],
                        "installment_number": w[1],
                        "component": w[2],
                        "charge_id": w[3],
                        "amount": w[4],
                        "applied_on": w[5],
                    }
                    for w in fresh
                )
        if state.credit != item.credit:
            writes.credit_updates.append({"id": loan_id, "credit": state.credit})
    return writes


def _allocation_changes(
    wanted: list[tuple[Any, ...]], stored: list[tuple[Any, ...]], stored_ids: list[int]
) -> tuple[list[int], list[tuple[Any, ...]]]:
    """The stored allocations to delete and the wanted ones to insert, payment by payment.

    A payment whose allocation is what is stored, in the same order, is left alone (a
    payment posted today adds its own rows and leaves the earlier payments' as they are);
    any other has its rows replaced, in the order applied, so that a payment's rows keep
    their order by id.
    """
    by_payment: dict[Any, list[tuple[Any, ...]]] = defaultdict(list)
    for row in wanted:
        by_payment[row[0]].append(row)
    held: dict[Any, list[tuple[Any, ...]]] = defaultdict(list)
    held_ids: dict[Any, list[int]] = defaultdict(list)
    # in the order stored (the order applied): by id
    for allocation_id, row in sorted(zip(stored_ids, stored, strict=True)):
        held[row[0]].append(row)
        held_ids[row[0]].append(allocation_id)
    gone: list[int] = []
    fresh: list[tuple[Any, ...]] = []
    for payment_id in {**dict.fromkeys(by_payment), **dict.fromkeys(held)}:  # applied order
        rows = by_payment.get(payment_id, [])
        if held.get(payment_id, []) != rows:
            gone.extend(held_ids.get(payment_id, ()))
            fresh.extend(rows)
    return gone, fresh


def _store_ledger(db_session: Session, writes: Writes, stats: StoreStats) -> None:
    """Write generated charges, allocations, paid amounts and credit where they changed."""
    charge_table = _table(Charge)
    if writes.charge_deletes:
        for part in chunks(writes.charge_deletes, 5000):
            db_session.execute(
                delete(Allocation).where(among(db_session, Allocation.charge_id, part))
            )
            db_session.execute(delete(Charge).where(among(db_session, Charge.id, part)))
    update_rows(db_session, charge_table, writes.charge_updates, keys={"id": "id"})
    inserted: dict[tuple[int, int], int] = {}
    if writes.new_charges:
        from arrears.kit.db import utcnow

        now = utcnow()
        stamps = {"created_at": now, "updated_at": now, "version": 1}
        rows = [{**row, **stamps} for row in writes.new_charges]
        ids = insert_rows(db_session, charge_table, rows, ids=True)
        inserted = dict(zip(writes.new_charge_keys, ids, strict=True))
    stats.charges_written += len(writes.new_charges) + len(writes.charge_updates)
    update_rows(
        db_session,
        _table(Installment),
        writes.installment_updates,
        keys={"loan_id": "loan_id", "number": "number"},
    )
    update_rows(db_session, charge_table, writes.paid_updates, keys={"id": "id"})
    if writes.allocation_loans:
        for part in chunks(writes.allocation_deletes, 5000):
            db_session.execute(delete(Allocation).where(among(db_session, Allocation.id, part)))
        rows = [
            {**row, "charge_id": inserted[(row["loan_id"], row["charge_id"])]}
            if row["charge_id"] is not None and row["charge_id"] < 0
            else row
            for row in writes.allocation_rows
        ]
        insert_rows(db_session, _table(Allocation), rows)
    update_rows(db_session, _table(Loan), writes.credit_updates, keys={"id": "id"})
    stats.installments_changed += len(writes.installment_updates)
    stats.allocations_rewritten += len(writes.allocation_loans)


STATE_FIELDS = (
    "past_due_days",
    "delinquent_days",
    "paused_days",
    "oldest_overdue_due_on",
    "bucket",
    "overdue_principal",
    "overdue_interest",
    "overdue_fee",
    "overdue_penalty",
    "overdue_total",
    "overdue_by_bucket",
    "outstanding_principal",
    "outstanding_total",
    "five_category",
    "ifrs9_stage",
    "non_performing",
    "carry",
    "open_penalty",
)
# what storing a state compares it with
_PREVIOUS_FIELDS = ("loan_id", "as_of", "delinquent_since", "last_cured_on", *STATE_FIELDS)
# what ``_store_states`` reads of a state of an earlier date (it is rewritten whatever the
# rest holds), and what advancing needs besides the carry
_STORED_FIELDS = ("as_of", "past_due_days", "bucket", "delinquent_since", "last_cured_on")
_CARRIED_FIELDS = (*_STORED_FIELDS, "outstanding_principal", "outstanding_total")


def state_columns(evaluation: Evaluation) -> dict[str, Any]:
    """The ``loan_states`` columns of an evaluation."""
    return _columns(
        evaluation.aging,
        evaluation.outstanding_principal,
        evaluation.outstanding_total,
        evaluation.carry,
    )


def _columns(
    aging: Aging, outstanding_principal: int, outstanding_total: int, carry: Carry | None
) -> dict[str, Any]:
    return {
        "past_due_days": aging.past_due_days,
        "delinquent_days": aging.delinquent_days,
        "paused_days": aging.paused_days,
        "oldest_overdue_due_on": aging.oldest_overdue_due_on,
        "bucket": aging.bucket,
        "overdue_principal": aging.overdue.principal,
        "overdue_interest": aging.overdue.interest,
        "overdue_fee": aging.overdue.fee,
        "overdue_penalty": aging.overdue.penalty,
        "overdue_total": aging.overdue.total,
        "overdue_by_bucket": dict(aging.overdue_by_bucket),
        "outstanding_principal": outstanding_principal,
        "outstanding_total": outstanding_total,
        "five_category": int(aging.classification.five_category),
        "ifrs9_stage": aging.classification.ifrs9_stage,
        "non_performing": aging.classification.non_performing,
        "carry": carry.to_json() if carry is not None else None,
        "open_penalty": sum(carry.open_charges().values()) if carry is not None else 0,
    }


def _store_states(
    db_session: Session,
    states: dict[int, dict[str, Any]],
    as_of: date,
    stats: StoreStats,
    *,
    previous: dict[int, Any] | None = None,
) -> None:
    """Upsert loan states and record bucket moves, cures and new delinquencies as events.

    ``states`` are the new ``loan_states`` columns by loan; ``previous``, the stored rows
    as mappings when the caller has them already: with ``_PREVIOUS_FIELDS``, or with
    ``_STORED_FIELDS`` for states of a business date before ``as_of``.
    """
    if previous is None:
        table = _table(LoanState)
        previous = {
            row.loan_id: dict(row._mapping)
            for row in db_session.execute(
                select(*[table.c[name] for name in _PREVIOUS_FIELDS]).where(
                    among(db_session, table.c.loan_id, states)
                )
            )
        }
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    history_close: list[int] = []  # loans whose open stay ends on ``as_of``
    history_open: list[dict[str, Any]] = []
    cures: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for loan_id, columns in states.items():
        stats.bucket_counts[columns["bucket"]] = stats.bucket_counts.get(columns["bucket"], 0) + 1
        before = previous.get(loan_id)
        delinquent = columns["past_due_days"] > 0
        if before is None:
            inserts.append(
                {
                    "loan_id": loan_id,
                    "as_of": as_of,
                    **columns,
                    "non_performing_by_contagion": False,
                    "delinquent_since": columns["oldest_overdue_due_on"] if delinquent else None,
                    "last_cured_on": None,
                }
            )
            history_open.append(
                {"loan_id": loan_id, "bucket": columns["bucket"], "entered_on": as_of}
            )
            if delinquent:
                events.append(_event("loan.became_delinquent", loan_id, as_of, columns))
            continue
        was_delinquent = before["past_due_days"] > 0
        delinquent_since = before["delinquent_since"]
        last_cured_on = before["last_cured_on"]
        if delinquent and not was_delinquent:
            delinquent_since = columns["oldest_overdue_due_on"]
            events.append(_event("loan.became_delinquent", loan_id, as_of, columns))
        if was_delinquent and not delinquent:
            last_cured_on = as_of
            delinquent_since = None
            cures.append(
                {
                    "loan_id": loan_id,
                    "cured_on": as_of,
                    "from_bucket": before["bucket"],
                    "past_due_days_before": before["past_due_days"],
                }
            )
            events.append(
                _event("loan.cured", loan_id, as_of, columns, from_bucket=before["bucket"])
            )
        if before["bucket"] != columns["bucket"]:
            history_close.append(loan_id)
            history_open.append(
                {"loan_id": loan_id, "bucket": columns["bucket"], "entered_on": as_of}
            )
            events.append(
                _event("loan.bucket_changed", loan_id, as_of, columns, from_bucket=before["bucket"])
            )
        changed = (
            before["as_of"] != as_of
            or any(before[name] != columns[name] for name in STATE_FIELDS)
            or before["delinquent_since"] != delinquent_since
            or before["last_cured_on"] != last_cured_on
        )
        if changed:
            updates.append(
                {
                    **columns,
                    "loan_id": loan_id,
                    "as_of": as_of,
                    "delinquent_since": delinquent_since,
                    "last_cured_on": last_cured_on,
                }
            )
    state_table = _table(LoanState)
    insert_rows(db_session, state_table, inserts)
    update_rows(db_session, state_table, updates, keys={"loan_id": "loan_id"})
    if history_close:
        table = _table(BucketHistory)
        db_session.execute(
            update(table)
            .where(among(db_session, table.c.loan_id, history_close), table.c.left_on.is_(None))
            .values(left_on=as_of)
        )
    _insert_new(db_session, BucketHistory, history_open, ("loan_id", "entered_on"))
    stats.cures += _insert_new(db_session, Cure, cures, ("loan_id", "cured_on"))
    stats.events += _insert_new(
        db_session, OutboxEvent, events, ("kind", "loan_id", "business_date")
    )
    for obj in list(db_session.identity_map.values()):
        if isinstance(obj, LoanState | Installment | Charge | Allocation | Loan):
            db_session.expire(obj)


def _event(
    kind: str, loan_id: int, on: date, columns: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    payload = {
        "bucket": columns["bucket"],
        "past_due_days": columns["past_due_days"],
        "delinquent_days": columns["delinquent_days"],
        "overdue_total": columns["overdue_total"],
        **extra,
    }
    return {"kind": kind, "loan_id": loan_id, "business_date": on, "payload": payload}


def _insert_new(
    db_session: Session, model: Any, rows: list[dict[str, Any]], key: tuple[str, ...]
) -> int:
    """Insert rows whose natural key is not there yet (re-runs write nothing twice)."""
    if not rows:
        return 0
    table = _table(model)
    # every key column filtered, so the natural key's unique index answers the query
    criteria = [
        among(db_session, table.c[k], {row[k] for row in rows})
        if k == "loan_id"
        else table.c[k].in_(sorted({row[k] for row in rows}))
        for k in key
    ]
    existing = {
        tuple(r) for r in db_session.execute(select(*[table.c[k] for k in key]).where(*criteria))
    }
    fresh = [row for row in rows if tuple(row[k] for k in key) not in existing]
    if model is OutboxEvent:
        from arrears.kit.db import utcnow

        now = utcnow()
        for row in fresh:
            row.setdefault("created_at", now)
    insert_rows(db_session, table, fresh)
    return len(fresh)


def refresh(db_session: Session, loan_ids: Collection[int]) -> StoreStats:
    """Bring loans up to date as of the current business date, right after their ledger changed."""
    return evaluate_and_store(db_session, loan_ids, business_date(db_session))


def active_loan_ids(db_session: Session, *, disbursed_by: date | None = None) -> list[int]:
    """Ids of every active loan (disbursed by a date, when given)."""
    query = select(Loan.id).where(Loan.status == LoanStatus.ACTIVE.value)
    if disbursed_by is not None:
        query = query.where(Loan.disbursed_on <= disbursed_by)
    return list(db_session.scalars(query))


def state_view(db_session: Session, loan: Loan) -> dict[str, Any]:
    """The delinquency part of ``loan show --json``: ageing, overdue amounts, classification."""
    from arrears.delinquency.aging import FiveCategory
    from arrears.delinquency.holds import hold_view, holds_of
    from arrears.kit.money import format_minor

    state = db_session.get(LoanState, loan.id)
    currency = loan.currency
    if state is None:
        # never evaluated yet (e.g. created before any refresh): evaluate without storing
        item = load_inputs(db_session, [loan.id])[loan.id]
        rules = load_rules(db_session, [item.product_id])[item.product_id]
        columns = state_columns(evaluate_inputs(item, rules, business_date(db_session)))
        as_of = business_date(db_session)
        by_contagion = False
    else:
        columns = {name: getattr(state, name) for name in STATE_FIELDS}
        # a state evaluated earlier still holds: nothing that changes it has happened since
        as_of = max(state.as_of, business_date(db_session))
        by_contagion = state.non_performing_by_contagion
    category = FiveCategory(columns["five_category"])
    return {
        "as_of": as_of.isoformat(),
        "past_due_days": columns["past_due_days"],
        "delinquent_days": columns["delinquent_days"],
        "paused_days": columns["paused_days"],
        "bucket": columns["bucket"],
        "overdue": {
            "principal": format_minor(columns["overdue_principal"], currency),
            "interest": format_minor(columns["overdue_interest"], currency),
            "fee": format_minor(columns["overdue_fee"], currency),
            "penalty": format_minor(columns["overdue_penalty"], currency),
            "total": format_minor(columns["overdue_total"], currency),
        },
        "overdue_by_bucket": {
            code: format_minor(amount, currency)
            for code, amount in columns["overdue_by_bucket"].items()
        },
        "classification": {
            "five_category": category.key,
            "five_category_label": category.label,
            "ifrs9_stage": columns["ifrs9_stage"],
            "non_performing": bool(columns["non_performing"] or by_contagion),
            "non_performing_by_contagion": by_contagion,
        },
        "holds": [hold_view(h) for h in holds_of(db_session=db_session, loan_id=loan.id)],
    }


class OpenSpanCharge(NamedTuple):
    """A penalty of a loan's open accrual span, held in its carry (unpaid, still growing)."""

    loan_id: int
    installment_number: int
    accrued_from: date
    charged_on: date  # the state's business date: accrued up to it
    amount: int
    updated_at: datetime


def open_span_charges(
    db_session: Session, loan_ids: Collection[int]
) -> dict[int, list[OpenSpanCharge]]:
    """The open span's penalties of ``loan_ids``: what ``charges`` does not hold (yet)."""
    if not loan_ids:
        return {}
    found: dict[int, list[OpenSpanCharge]] = defaultdict(list)
    for loan_id, as_of, carry, updated_at, grace_days in db_session.execute(
        select(
            LoanState.loan_id,
            LoanState.as_of,
            LoanState.carry,
            LoanState.updated_at,
            Product.grace_days,
        )
        .join(Loan, Loan.id == LoanState.loan_id)
        .join(Product, Product.id == Loan.product_id)
        .where(among(db_session, LoanState.loan_id, loan_ids), LoanState.open_penalty != 0)
        .order_by(LoanState.loan_id)
    ):
        if carry is None:
            continue
        held = Carry.from_json(carry)
        found[loan_id].extend(
            OpenSpanCharge(
                loan_id,
                row.number,
                held.open_span_begins(row, grace_days),
                as_of,
                row.open_charge,
                updated_at,
            )
            for row in held.rows
            if row.open_charge
        )
    return dict(found)


def charges_by_installment(db_session: Session, loan_id: int) -> dict[int, dict[str, int]]:
    """Fees and penalty charged on each installment, and what of them is still owed
    (the open accrual span's penalty included)."""
    out: dict[int, dict[str, int]] = defaultdict(
        lambda: {"fee": 0, "penalty": 0, "fee_outstanding": 0, "penalty_outstanding": 0}
    )
    for number, kind, amount, paid in db_session.execute(
        select(Charge.installment_number, Charge.kind, Charge.amount, Charge.paid).where(
            Charge.loan_id == loan_id
        )
    ):
        key = "penalty" if kind == ChargeKind.PENALTY.value else "fee"
        out[number][key] += amount
        out[number][f"{key}_outstanding"] += amount - paid
    for charge in open_span_charges(db_session, [loan_id]).get(loan_id, ()):
        out[charge.installment_number]["penalty"] += charge.amount
        out[charge.installment_number]["penalty_outstanding"] += charge.amount
    return dict(out)
