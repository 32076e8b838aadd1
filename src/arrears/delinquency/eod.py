"""The daily delinquency run (end of day, EOD).

For each business date from the day after the last completed one up to the target, in
order and each in its own transaction: find the loans whose state can change that day
(already delinquent, an installment newly due and unpaid, a hold or manual charge
starting or ending, money dated later than the day); move on from their carry the
delinquent ones to which nothing happened, evaluate the rest in bulk (sharing both with
helper processes on a large book); give loans seen for the first time a current state with
one statement; and take the day's snapshot of every active loan with one statement. Each
date closed is one ``eod.run`` audit entry, written as the date's transaction ends. A run
killed at any moment loses only the uncommitted date, which the next run does again; every
step is derived from the ledger, so doing a date again ends in the same state. Runs cannot
overlap.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
    union,
    update,
)
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.orm import Session, aliased, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from arrears.auth import audit
from arrears.delinquency import evaluator, service
from arrears.delinquency.models import (
    BucketHistory,
    BusinessDay,
    EodRun,
    Hold,
    LoanSnapshot,
    LoanState,
)
from arrears.kit.bulk import among
from arrears.kit.db import keyed_lookups, utcnow
from arrears.kit.errors import Conflict, ValidationFailed
from arrears.kit.helpers import Helper, HelperFailed, fewer_collections
from arrears.kit.settings import get_settings
from arrears.ledger.models import Charge, Payment, PaymentStatus
from arrears.loans.models import Installment, Loan, LoanStatus, Product

Progress = Callable[[str, int, int], None]
# loans to evaluate on one date from which helper processes are worth starting
PARALLEL_FROM = 3 * service.CHUNK
log = logging.getLogger(__name__)
_ADVISORY_KEY = 7_272_017  # arbitrary constant naming "the EOD lock" on PostgreSQL
_local_lock = threading.Lock()
# progress of runs in this process, for the API to report while a date is uncommitted
LIVE: dict[int, dict[str, Any]] = {}


@contextlib.contextmanager
def eod_lock(engine: Engine) -> Iterator[None]:
    """Hold the single EOD lock, or refuse: released even if the process is killed."""
    refused = Conflict(
        "an end-of-day run is already in progress; wait for it to finish", code="eod_running"
    )
    if not _local_lock.acquire(blocking=False):
        raise refused
    try:
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                got = connection.execute(
                    text("SELECT pg_try_advisory_lock(:k)"), {"k": _ADVISORY_KEY}
                ).scalar()
                connection.commit()
                if not got:
                    raise refused
                try:
                    yield
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _ADVISORY_KEY})
                    connection.commit()
        else:
            database = engine.url.database
            if not database or database == ":memory:":
                yield
                return
            with open(Path(database).with_suffix(".eod-lock"), "a+") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise refused from None
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        _local_lock.release()


class EvaluationHelpers:
    """The run's helper processes (``ARREARS_EOD_HELPERS``), started when first needed.

    ``start`` launches them without waiting (they import while the run selects its
    loans); ``get`` waits until they answer, and gives none if they cannot run here.
    """

    def __init__(self, engine: Engine) -> None:
        self.url = engine.url.render_as_string(hide_password=False)
        database = engine.url.database
        in_memory = engine.dialect.name == "sqlite" and (not database or database == ":memory:")
        self.wanted = 0 if in_memory else get_settings().eod_helpers
        self.launched: list[Helper] | None = None
        self.ready: list[Helper] | None = None

    def start(self) -> None:
        if self.launched is not None:
            return
        self.launched = []
        try:
            for _ in range(self.wanted):
                helper = Helper("arrears.delinquency.evaluator", what="evaluation helper")
                self.launched.append(helper)
                helper.submit(evaluator.PING)
        except OSError as exc:
            log.warning("eod.helpers_unavailable error=%s", exc)
            self.close()
            self.launched = []

    def get(self) -> list[Helper]:
        if self.ready is None:
            self.start()
            try:
                for helper in self.launched or ():
                    helper.result()  # fails here, early, if a helper cannot run at all
                self.ready = list(self.launched or ())
            except HelperFailed as exc:
                log.warning("eod.helpers_unavailable error=%s", exc)
                self.close()
                self.ready = []
        return self.ready

    def for_work(self, loans: int) -> list[Helper]:
        """The helpers to share ``loans`` with: from ``PARALLEL_FROM`` loans, or from a
        second chunk once they are running anyway."""
        running = bool(self.ready)
        if loans >= PARALLEL_FROM or (running and loans > service.CHUNK):
            return self.get()
        return []

    def close(self) -> None:
        for helper in self.launched or ():
            helper.close()
        self.launched = []


@dataclass
class DayResult:
    business_date: date
    candidates: int
    evaluated: int
    initialised: int
    snapshot_rows: int
    advanced: int = 0
    paid_current: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    bucket_counts: dict[str, int] = field(default_factory=dict)
    events: int = 0


def dates_to_run(last_completed: date | None, target: date) -> list[date]:
    """Catch up: every date after the last completed one through ``target``."""
    if last_completed is None or target <= last_completed:
        return [target]
    return [
        last_completed + timedelta(days=k) for k in range(1, (target - last_completed).days + 1)
    ]


def candidate_ids(db_session: Session, on: date, previous: date | None) -> set[int]:
    """Active loans whose state can change on business date ``on``."""
    newly_due = select(Installment.loan_id).where(Installment.due_on < on, Installment.owed > 0)
    if previous is not None:
        newly_due = newly_due.where(Installment.due_on >= previous)
    since = previous or date.min
    queries = [
        select(LoanState.loan_id).where(
            or_(LoanState.past_due_days > 0, LoanState.overdue_total > 0)
        ),
        newly_due,
        # catching up: money dated after the day is counted in the stored paid amounts
        select(Payment.loan_id).where(
            Payment.value_date > on, Payment.status == PaymentStatus.POSTED.value
        ),
        select(Hold.loan_id).where(
            or_(
                and_(Hold.start_on > since, Hold.start_on <= on),
                and_(Hold.end_on > since, Hold.end_on <= on),
            )
        ),
        select(Charge.loan_id).where(
            Charge.source != service.ACCRUAL_SOURCE,
            Charge.charged_on > since,
            Charge.charged_on <= on,
        ),
    ]
    combined = union(*queries).subquery()
    active = select(Loan.id).where(
        Loan.status == LoanStatus.ACTIVE.value,
        Loan.disbursed_on <= on,
        Loan.id.in_(select(combined.c[0])),
    )
    return set(db_session.scalars(active))


def refresh_paid_current(
    db_session: Session, on: date, previous: date | None, evaluated: set[int]
) -> int:
    """Current loans that received money dated this day: only their outstanding changes.

    A current loan stays current when it is paid, and its allocation was derived when the
    payment was posted, so its outstanding amounts are summed again in one statement
    instead of evaluating it.
    """
    # money the stored state does not count yet (it counts what is dated up to its as_of)
    since = previous or db_session.scalar(select(func.min(LoanState.as_of))) or date.min
    paid_today = (
        set(
            db_session.scalars(
                select(Payment.loan_id)
                .join(LoanState, LoanState.loan_id == Payment.loan_id)
                .where(
                    Payment.value_date > since,
                    Payment.value_date <= on,
                    Payment.value_date > LoanState.as_of,
                    Payment.status == PaymentStatus.POSTED.value,
                )
            )
        )
        - evaluated
    )
    if not paid_today:
        return 0
    ids = sorted(paid_today)
    with keyed_lookups(db_session):
        for begin in range(0, len(ids), 5000):
            part = ids[begin : begin + 5000]
            # each loan's installments and charges summed in one grouped walk per chunk
            scheduled = (
                select(
                    Installment.loan_id,
                    func.sum(Installment.owed_principal).label("owed"),
                    func.sum(Installment.owed).label("total"),
                )
                .where(among(db_session, Installment.loan_id, part))
                .group_by(Installment.loan_id)
                .subquery()
            )
            charged = (
                select(Charge.loan_id, func.sum(Charge.amount - Charge.paid).label("total"))
                .where(among(db_session, Charge.loan_id, part))
                .group_by(Charge.loan_id)
                .subquery()
            )
            owed = (
                select(
                    scheduled.c.loan_id,
                    scheduled.c.owed,
                    (scheduled.c.total + func.coalesce(charged.c.total, 0)).label("total"),
                )
                .select_from(scheduled.outerjoin(charged, charged.c.loan_id == scheduled.c.loan_id))
                .subquery()
            )
            db_session.execute(
                update(LoanState)
                .where(LoanState.loan_id == owed.c.loan_id, LoanState.past_due_days == 0)
                .values(outstanding_principal=owed.c.owed, outstanding_total=owed.c.total, as_of=on)
            )
    return len(ids)


def initialise_states(db_session: Session, on: date) -> int:
    """Give every active loan without a state a current one, set-based, in one statement."""
    fresh = and_(
        Loan.status == LoanStatus.ACTIVE.value,
        Loan.disbursed_on <= on,
        ~exists().where(LoanState.loan_id == Loan.id),
    )
    if not db_session.scalar(select(exists().where(fresh))):
        return 0
    # each product's lowest bucket is "current"
    current = {
        product_id: min(buckets, key=lambda b: b["min_days"])["code"]
        for product_id, buckets in db_session.execute(select(Product.id, Product.buckets))
    }
    if not current:
        return 0
    # per loan, through the installments' primary key: only new loans are looked at
    of_loan = Installment.loan_id == Loan.id
    lateral = None
    principal: ColumnElement[Any]
    total: ColumnElement[Any]
    if db_session.get_bind().dialect.name == "postgresql":
        # both sums from one walk of each loan's installments
        lateral = (
            select(
                func.sum(Installment.owed_principal).label("principal"),
                func.sum(Installment.owed).label("total"),
            )
            .where(of_loan)
            .lateral("owed")
        )
        principal, total = lateral.c.principal, lateral.c.total
    else:  # SQLite has no LATERAL: a walk for each sum
        principal = select(func.sum(Installment.owed_principal)).where(of_loan).scalar_subquery()
        total = select(func.sum(Installment.owed)).where(of_loan).scalar_subquery()
    source = select(
        Loan.id,
        literal(on),
        case(current, value=Loan.product_id),
        func.coalesce(principal, 0),
        func.coalesce(total, 0),
        literal(utcnow()),
    ).where(fresh)
    if lateral is not None:
        source = source.join_from(Loan, lateral, true())
    columns = [
        "loan_id",
        "as_of",
        "bucket",
        "outstanding_principal",
        "outstanding_total",
        "updated_at",
    ]
    result = db_session.execute(
        insert(LoanState).from_select(columns, source),
        execution_options={"preserve_rowcount": True},
    )
    created = cast(CursorResult[Any], result).rowcount or 0
    if created:
        history = select(LoanState.loan_id, LoanState.bucket, literal(on)).where(
            LoanState.as_of == on,
            ~exists().where(BucketHistory.loan_id == LoanState.loan_id),
        )
        db_session.execute(
            insert(BucketHistory).from_select(["loan_id", "bucket", "entered_on"], history)
        )
    return created


def apply_contagion(db_session: Session) -> None:
    """Borrower-level contagion: a non-performing loan makes the borrower's others so.

    Set-based: the borrowers with an active non-performing loan are found once, and only
    the states whose flag changes are written.
    """
    if not get_settings().npl_contagion:
        return
    sick, theirs = aliased(LoanState), aliased(Loan)
    infected = (
        select(theirs.customer_id)
        .join(sick, sick.loan_id == theirs.id)
        .where(sick.non_performing.is_(True), theirs.status == LoanStatus.ACTIVE.value)
    )
    flag = and_(LoanState.non_performing.is_(False), Loan.customer_id.in_(infected))
    db_session.execute(
        update(LoanState)
        .where(Loan.id == LoanState.loan_id, LoanState.non_performing_by_contagion != flag)
        .values(non_performing_by_contagion=flag)
    )


def take_snapshot(db_session: Session, on: date) -> int:
    """Replace the snapshot of ``on`` with the state of every active loan, in one statement."""
    db_session.execute(delete(LoanSnapshot).where(LoanSnapshot.as_of == on))
    source = (
        select(
            literal(on),
            LoanState.loan_id,
            LoanState.past_due_days,
            LoanState.delinquent_days,
            LoanState.bucket,
            LoanState.overdue_principal,
            LoanState.overdue_interest,
            LoanState.overdue_fee,
            LoanState.overdue_penalty,
            LoanState.outstanding_principal,
            LoanState.outstanding_total,
            LoanState.five_category,
            LoanState.ifrs9_stage,
            or_(LoanState.non_performing, LoanState.non_performing_by_contagion),
        )
        .join(Loan, Loan.id == LoanState.loan_id)
        .where(Loan.status == LoanStatus.ACTIVE.value, Loan.disbursed_on <= on)
    )
    columns = [
        "as_of",
        "loan_id",
        "past_due_days",
        "delinquent_days",
        "bucket",
        "overdue_principal",
        "overdue_interest",
        "overdue_fee",
        "overdue_penalty",
        "outstanding_principal",
        "outstanding_total",
        "five_category",
        "ifrs9_stage",
        "non_performing",
    ]
    result = db_session.execute(
        insert(LoanSnapshot).from_select(columns, source),
        execution_options={"preserve_rowcount": True},
    )
    return cast(CursorResult[Any], result).rowcount or 0


def snapshot_from_evaluations(db_session: Session, on: date, progress: Progress | None) -> int:
    """Re-take the snapshot of a past date by evaluating every active loan as of it.

    Used when a date earlier than the last completed one is run again: the loans' current
    state is later than that date, so it is evaluated afresh without touching the ledger.
    """
    db_session.execute(delete(LoanSnapshot).where(LoanSnapshot.as_of == on))
    ids = service.active_loan_ids(db_session, disbursed_by=on)
    written = 0
    rules: dict[int, service.ProductRules] = {}
    for chunk in service.chunks(ids):
        inputs = service.load_inputs(db_session, chunk)
        missing = {i.product_id for i in inputs.values()} - rules.keys()
        if missing:
            rules.update(service.load_rules(db_session, missing))
        rows = []
        for loan_id, item in inputs.items():
            columns = service.state_columns(
                service.evaluate_inputs(item, rules[item.product_id], on)
            )
            rows.append(
                {
                    "as_of": on,
                    "loan_id": loan_id,
                    **{
                        k: columns[k]
                        for k in (
                            "past_due_days",
                            "delinquent_days",
                            "bucket",
                            "overdue_principal",
                            "overdue_interest",
                            "overdue_fee",
                            "overdue_penalty",
                            "outstanding_principal",
                            "outstanding_total",
                            "five_category",
                            "ifrs9_stage",
                            "non_performing",
                        )
                    },
                }
            )
        if rows:
            db_session.execute(insert(LoanSnapshot), rows)
        written += len(rows)
        if progress:
            progress("snapshot", written, len(ids))
    return written


def _large_book(db_session: Session) -> bool:
    """Whether the book is big enough that helpers will likely be wanted."""
    delinquent = select(LoanState.loan_id).where(LoanState.past_due_days > 0)
    counted = select(func.count()).select_from(delinquent.limit(PARALLEL_FROM).subquery())
    return (db_session.scalar(counted) or 0) >= PARALLEL_FROM


def process_date(
    db_session: Session,
    on: date,
    previous: date | None,
    *,
    progress: Progress | None = None,
    helpers: EvaluationHelpers | None = None,
) -> DayResult:
    """Do one business date inside the caller's transaction.

    With ``helpers``, a long list of loans to evaluate is shared with helper processes.
    """
    seconds: dict[str, float] = {}

    def timed(stage: str, started: float) -> None:
        seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - started

    started = time.perf_counter()
    if helpers is not None and helpers.wanted and _large_book(db_session):
        helpers.start()  # they get ready while the loans are selected
    candidates = candidate_ids(db_session, on, previous)
    timed("select", started)

    url = helpers.url if helpers is not None else None

    def helpers_for(loans: int) -> list[Helper]:
        return helpers.for_work(loans) if helpers is not None else []

    started = time.perf_counter()
    stats = service.StoreStats()
    # delinquent loans to which nothing happened are moved on from their carry
    advanced = service.advance_and_store(
        db_session, candidates, on, stats=stats, helpers=helpers_for(len(candidates)), url=url
    )
    if progress:
        progress("evaluate", len(advanced), len(candidates))
    timed("advance", started)

    started = time.perf_counter()
    rest = candidates - advanced
    service.evaluate_and_store(
        db_session,
        rest,
        on,
        stats=stats,
        helpers=helpers_for(len(rest)),
        url=url,
        progress=(lambda n: progress("evaluate", n, len(candidates))) if progress else None,
    )
    timed("evaluate", started)

    started = time.perf_counter()
    paid_current = refresh_paid_current(db_session, on, previous, candidates)
    initialised = initialise_states(db_session, on)
    timed("initialise", started)

    started = time.perf_counter()
    apply_contagion(db_session)
    timed("classify", started)

    started = time.perf_counter()
    snapshot_rows = take_snapshot(db_session, on)
    counts = dict(
        db_session.execute(
            select(LoanSnapshot.bucket, func.count())
            .where(LoanSnapshot.as_of == on)
            .group_by(LoanSnapshot.bucket)
        ).all()
    )
    timed("snapshot", started)
    return DayResult(
        business_date=on,
        candidates=len(candidates),
        evaluated=stats.loans,
        advanced=stats.advanced,
        initialised=initialised,
        snapshot_rows=snapshot_rows,
        paid_current=paid_current,
        stage_seconds=seconds,
        bucket_counts={str(k): int(v) for k, v in sorted(counts.items())},
        events=stats.events,
    )


def _fail_interrupted(factory: sessionmaker[Session]) -> None:
    """Runs left 'running' by a killed process are marked failed (we hold the lock now)."""
    with factory.begin() as session:
        session.execute(
            update(EodRun)
            .where(EodRun.status == "running")
            .values(status="failed", error="interrupted before it finished", finished_at=utcnow())
        )


def start_run(
    engine: Engine, target: date, *, requested_by: str | None = None, catch_up: bool = True
) -> int:
    """Record a run about to start and return its id (committed at once)."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory.begin() as session:
        last = service.last_completed_date(session)
        dates = dates_to_run(last, target) if catch_up else [target]
        run = EodRun(
            business_date=target,
            from_date=dates[0],
            status="running",
            requested_by=requested_by,
            stage_seconds={},
            bucket_counts={},
        )
        session.add(run)
        session.flush()
        return run.id


def run_eod(
    engine: Engine,
    target: date,
    *,
    requested_by: str | None = None,
    progress: Progress | None = None,
    catch_up: bool = True,
    on_started: Callable[[int], None] | None = None,
) -> EodRun:
    """Run end of day through ``target``, catching up missed dates; refuses to overlap.

    ``catch_up=False`` closes only ``target`` (used to back-fill month-end history);
    ``on_started`` is told the run's id once the lock is held and the run recorded.
    """
    if target > service.today_in_portfolio() + timedelta(days=1):
        raise ValidationFailed(
            f"{target} is in the future; the end-of-day run can only close a day that has come",
            code="eod_future_date",
        )
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with eod_lock(engine), fewer_collections():
        _fail_interrupted(factory)
        run_id = start_run(engine, target, requested_by=requested_by, catch_up=catch_up)
        if on_started:
            on_started(run_id)
        live = LIVE.setdefault(run_id, {"stage": "starting", "done": 0, "total": 0})

        def report(stage: str, done: int, total: int) -> None:
            live.update(stage=stage, done=done, total=total)
            if progress:
                progress(stage, done, total)

        helpers = EvaluationHelpers(engine)
        stage_seconds: dict[str, float] = {}
        evaluated = advanced = 0
        events = 0
        try:
            with factory.begin() as session:
                last = service.last_completed_date(session)
            dates = dates_to_run(last, target) if catch_up else [target]
            for on in dates:
                live["date"] = on.isoformat()
                with factory.begin() as session:
                    if last is not None and on < last:
                        started = time.perf_counter()
                        rows = snapshot_from_evaluations(session, on, report)
                        result = DayResult(on, rows, rows, 0, rows)
                        result.stage_seconds = {"re-snapshot": time.perf_counter() - started}
                    else:
                        previous = service.last_completed_date(session)
                        result = process_date(
                            session, on, previous, progress=report, helpers=helpers
                        )
                        day = session.get(BusinessDay, on)
                        if day is None:
                            session.add(
                                BusinessDay(
                                    business_date=on, run_id=run_id, loans=result.snapshot_rows
                                )
                            )
                        else:
                            day.run_id, day.loans, day.completed_at = (
                                run_id,
                                result.snapshot_rows,
                                utcnow(),
                            )
                    for stage, spent in result.stage_seconds.items():
                        stage_seconds[stage] = round(stage_seconds.get(stage, 0.0) + spent, 3)
                    evaluated += result.evaluated
                    advanced += result.advanced
                    events += result.events
                    run = session.get(EodRun, run_id)
                    assert run is not None
                    run.completed_through = on
                    run.loans_total = result.snapshot_rows
                    run.loans_done = result.snapshot_rows
                    run.loans_evaluated = evaluated
                    run.loans_advanced = advanced
                    run.events_written = events
                    run.stage_seconds = dict(stage_seconds)
                    run.bucket_counts = result.bucket_counts
                    run.stage = f"completed {on.isoformat()}"
                    # last, so the audit chain's lock is held only while this date commits
                    audit.record(
                        db_session=session,
                        action="eod.run",
                        entity_type="eod_run",
                        entity_id=run_id,
                        after={
                            "business_date": on,
                            "loans": result.snapshot_rows,
                            "evaluated": result.evaluated,
                            "events": result.events,
                            "requested_by": requested_by,
                        },
                    )
        except Exception as exc:
            with factory.begin() as session:
                run = session.get(EodRun, run_id)
                if run is not None:
                    run.status = "failed"
                    run.error = f"{type(exc).__name__}: {exc}"[:2000]
                    run.finished_at = utcnow()
            raise
        finally:
            helpers.close()
            LIVE.pop(run_id, None)
        with factory.begin() as session:
            run = session.get(EodRun, run_id)
            assert run is not None
            run.status = "completed"
            run.finished_at = utcnow()
            run.stage = "completed"
            return run


def run_view(run: EodRun) -> dict[str, Any]:
    """A run as the API and CLI show it, with live progress while it runs."""
    live = LIVE.get(run.id, {})
    return {
        "id": run.id,
        "business_date": run.business_date.isoformat(),
        "from_date": run.from_date.isoformat(),
        "status": run.status,
        "requested_by": run.requested_by,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "completed_through": run.completed_through.isoformat() if run.completed_through else None,
        "loans_total": run.loans_total,
        "loans_evaluated": run.loans_evaluated,
        "loans_advanced": run.loans_advanced,
        "events_written": run.events_written,
        "stage_seconds": run.stage_seconds,
        "bucket_counts": run.bucket_counts,
        "error": run.error,
        "progress": {
            "date": live.get("date"),
            "stage": live.get("stage", run.stage),
            "done": live.get("done", run.loans_done),
            "total": live.get("total", run.loans_total),
        },
    }
