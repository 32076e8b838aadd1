"""The deterministic demo portfolio: customers, loans and their payment history as CSV files.

Same ``(loans, seed, as_of)``, same bytes: all randomness comes from one
``random.Random(seed)`` stream (and keyed shuffles derived from the seed), nothing reads the
clock. Rows are streamed, so memory stays flat however many loans are asked for.

Every loan follows one of four behaviours (personas) chosen from the seed: most pay on
time, some fall behind for a while and catch up, some pay partial amounts and drift into
arrears, some pay a few installments and stop. About 9 % of loans are overdue on ``as_of``.
Payment amounts come from the loan's schedule as ``arrears.loans.schedule.generate`` builds it
with the product's settings, and never add up to more than the loan's total repayment.
"""

from __future__ import annotations

import csv
import random
import shutil
from bisect import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum
from itertools import accumulate
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from arrears.demo.people import PeopleFactory
from arrears.kit.dates import DayCount, add_months
from arrears.kit.money import Rounding, exponent, minor_factor
from arrears.loans.schedule import LoanTerms, Method, generate

PRODUCTS_FILE = Path(__file__).with_name("products.yaml")

CUSTOMER_COLUMNS = (
    "customer_ref", "type", "name", "id_number", "phone", "email", "address", "city",
    "province", "employer", "monthly_income",
)  # fmt: skip
LOAN_COLUMNS = (
    "loan_ref", "customer_ref", "product_code", "principal", "annual_rate", "term_months",
    "disbursed_on", "first_due_on",
)  # fmt: skip
PAYMENT_COLUMNS = ("payment_ref", "loan_ref", "paid_on", "amount", "channel")

# (channel, share of payments)
CHANNELS: tuple[tuple[str, int], ...] = (
    ("bank_transfer", 30), ("alipay", 26), ("wechat", 22), ("card", 14), ("counter", 8),
)  # fmt: skip

PROGRESS_EVERY = 10_000
HISTORY_DAYS = 730  # loans are disbursed over the two years before as_of
BUSINESS_SHARE = 0.05
SECOND_LOAN_SHARE = 0.10
MAX_LOANS = 99_999_999  # customer_ref has eight digits


class Persona(StrEnum):
    """How a demo borrower repays a loan."""

    ON_TIME = "on_time"  # pays each installment on or a few days before its due date
    LATE_THEN_CURE = "late_then_cure"  # now and then 10–60 days late, then pays it all
    CHRONIC = "chronic"  # partial, irregular payments; drifts into arrears
    DEFAULTER = "defaulter"  # pays a few installments, then stops


# (persona, share of loans in ‰), tuned so that about 9 % of loans are overdue on as_of.
PERSONA_SHARES: tuple[tuple[Persona, int], ...] = (
    (Persona.ON_TIME, 820),
    (Persona.LATE_THEN_CURE, 85),
    (Persona.CHRONIC, 45),
    (Persona.DEFAULTER, 50),
)


@dataclass(frozen=True, slots=True)
class Offer:
    """How the demo book lends one product: who takes it, how much, how long, at what rate."""

    code: str
    individual_weight: int
    business_weight: int
    principal_min: int  # whole yuan
    principal_max: int
    principal_step: int
    terms: tuple[tuple[int, int], ...]  # (months, relative share)
    rates: tuple[str, ...]  # percent per year


# Mortgages are few (their 240–360 installments dominate the book's size); an average loan
# has about 27 installments.
DEMO_OFFERS: tuple[Offer, ...] = (
    Offer("CONSUMER_36", 520, 0, 5_000, 50_000, 1_000, ((12, 50), (24, 30), (36, 20)),
          ("7.20", "8.40", "9.60", "10.80", "12.00", "13.20", "14.40", "15.60", "16.80",
           "18.00", "19.80", "21.60", "23.40", "24.00")),
    Offer("CASH_12", 270, 0, 1_000, 20_000, 1_000, ((3, 30), (6, 40), (12, 30)),
          ("12.00", "14.40", "15.40", "18.00", "21.60", "23.90")),
    Offer("MORTGAGE_EP", 50, 0, 300_000, 2_000_000, 50_000, ((240, 65), (360, 35)),
          ("3.50", "3.60", "3.75", "3.85", "3.95", "4.10", "4.20", "4.30", "4.45", "4.65",
           "4.90")),
    Offer("SME_IO", 90, 650, 100_000, 1_000_000, 10_000, ((12, 55), (24, 45)),
          ("4.35", "4.75", "5.20", "5.60", "6.00", "6.50", "7.20", "8.00")),
    Offer("BRIDGE_BULLET", 70, 350, 10_000, 200_000, 10_000,
          ((3, 25), (6, 35), (9, 15), (12, 25)),
          ("6.00", "7.20", "8.50", "9.60", "10.80", "12.00")),
)  # fmt: skip


def load_demo_products() -> list[dict[str, Any]]:
    """The packaged demo products file, as the list of mappings it holds."""
    with PRODUCTS_FILE.open(encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    if not isinstance(document, list) or not all(isinstance(p, dict) for p in document):
        raise ValueError(f"{PRODUCTS_FILE.name} must hold a list of products")
    return document


def load_demo_product_terms() -> dict[str, dict[str, Any]]:
    """Per product code, the ``LoanTerms`` keyword arguments all its loans share.

    ``method``, ``day_count``, ``rounding`` and ``rounding_unit`` (in minor units: a cent is
    1, a whole yuan 100), so ``LoanTerms(principal=…, annual_rate=…, months=…,
    first_due_on=…, disbursed_on=…, **terms[code])`` is a loan of that product.
    """
    terms: dict[str, dict[str, Any]] = {}
    for product in load_demo_products():
        code = str(product["code"])
        if (product.get("penalty_rate") is None) == (product.get("penalty_multiplier") is None):
            raise ValueError(f"product {code}: give one of penalty_rate and penalty_multiplier")
        for key in ("penalty_rate", "penalty_multiplier", "late_fee", "tolerance"):
            if product.get(key) is not None:
                Decimal(str(product[key]))  # raises on anything that is not a decimal
        currency = str(product.get("currency", "CNY"))
        if exponent(currency) != 2:
            raise ValueError(f"product {code}: the demo writes amounts with two decimals")
        unit = str(product.get("rounding_unit", "cent"))
        if unit not in ("cent", "unit"):
            raise ValueError(f"product {code}: rounding_unit must be cent or unit, not {unit}")
        terms[code] = {
            "method": Method(product["method"]),
            "day_count": DayCount(product.get("day_count", DayCount.THIRTY_360.value)),
            "rounding": Rounding(product.get("rounding", Rounding.HALF_UP.value)),
            "rounding_unit": 1 if unit == "cent" else minor_factor(currency),
        }
    return terms


class LateCharges(NamedTuple):
    """What a product charges a late payer: penalty rate or multiplier, late fee, grace."""

    penalty_rate: Decimal | None
    penalty_multiplier: Decimal | None
    late_fee: int  # minor units
    grace_days: int


def load_demo_late_charges() -> dict[str, LateCharges]:
    """Per product code, the charges a late payment has to cover."""
    out: dict[str, LateCharges] = {}
    for product in load_demo_products():
        rate, multiplier = product.get("penalty_rate"), product.get("penalty_multiplier")
        out[str(product["code"])] = LateCharges(
            None if rate is None else Decimal(str(rate)),
            None if multiplier is None else Decimal(str(multiplier)),
            int(Decimal(str(product.get("late_fee", "0"))) * 100),
            int(product.get("grace_days", 0)),
        )
    return out


def late_surcharge(
    charges: LateCharges, loan_rate: str, covered: Sequence[tuple[int, int]], paid_on: int
) -> int:
    """What a borrower paying late adds for penalty interest and late fees (minor units).

    ``covered`` holds ``(installment total, due date ordinal)`` of what the payment clears.
    Penalty is estimated on the whole installment on a 360-day year and rounded up to a
    yuan, so it is never short: the little left over is kept for the borrower as credit,
    and a borrower who catches up is really current again.
    """
    if charges.penalty_rate is not None:
        rate = charges.penalty_rate
    else:
        rate = (charges.penalty_multiplier or Decimal(0)) * Decimal(loan_rate)
    extra = 0
    for total, due_on in covered:
        late = paid_on - due_on - charges.grace_days
        if late <= 0:
            continue
        penalty = Decimal(total) * rate * late / Decimal(36000)
        extra += charges.late_fee + int(penalty.to_integral_value(rounding=ROUND_CEILING))
    return -(-extra // 100) * 100 if extra else 0


class DemoLoan(NamedTuple):
    """One loan of the demo book: its ``loans.csv`` row, persona and ``payments.csv`` rows."""

    row: tuple[str, ...]
    persona: Persona
    payments: list[tuple[str, ...]]


class DemoCustomer(NamedTuple):
    """One borrower of the demo book: the ``customers.csv`` row and their loans."""

    row: tuple[str, ...]
    loans: list[DemoLoan]


def _amount(minor: int) -> str:
    """Decimal string of a non-negative amount with two decimals (12345 → "123.45")."""
    return f"{minor // 100}.{minor % 100:02d}"


def _weighted(options: Sequence[tuple[Any, int]]) -> tuple[list[Any], list[int]]:
    return [o for o, _ in options], list(accumulate(w for _, w in options))


class _Due(NamedTuple):
    """What payments are made from: each installment's total, also as a decimal string."""

    totals: tuple[int, ...]  # minor units
    amounts: tuple[str, ...]
    total_repayment: int


class _Schedules:
    """Installment totals of demo loans, as ``schedule.generate`` makes them, reused.

    A demo loan is disbursed on its due day of month (at most the 28th), so each period is
    one calendar month: under 30/360 its amounts do not depend on its dates at all, under
    act/365 only on the month it starts (which fixes every period's length). Equal terms
    are therefore generated once; the cache holds at most ``limit`` schedules.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._cache: dict[tuple[Any, ...], _Due] = {}

    def due(
        self,
        code: str,
        product: dict[str, Any],
        principal: int,
        rate: str,
        months: int,
        disbursed_on: date,
    ) -> _Due:
        """The schedule of a loan of product ``code`` (``product``: its ``LoanTerms`` settings).

        The loan is disbursed on ``disbursed_on`` (day of month at most 28) and falls due a
        month later, then monthly.
        """
        if disbursed_on.day > 28:
            raise ValueError("demo loans are disbursed on day 1–28 of a month")
        month = None if product["day_count"] is DayCount.THIRTY_360 else disbursed_on.replace(day=1)
        key = (code, principal, rate, months, month)
        found = self._cache.get(key)
        if found is None:
            terms = LoanTerms(
                principal=principal,
                annual_rate=Decimal(rate),
                months=months,
                first_due_on=add_months(disbursed_on, 1),
                disbursed_on=disbursed_on,
                **product,
            )
            schedule = generate(terms)
            totals = tuple(i.total for i in schedule.installments)
            found = _Due(totals, tuple(_amount(t) for t in totals), schedule.total_repayment)
            if len(self._cache) >= self.limit:
                self._cache.clear()
            self._cache[key] = found
        return found


class _Book:
    """Draws the demo book from one random stream."""

    def __init__(self, *, seed: int, as_of: date) -> None:
        self.rng = random.Random(seed)
        self.as_of = as_of
        self.as_of_ordinal = as_of.toordinal()
        self.people = PeopleFactory(self.rng, as_of=as_of, key=f"arrears-demo:{seed}")
        self.product_terms = load_demo_product_terms()
        self.late_charges = load_demo_late_charges()
        missing = [o.code for o in DEMO_OFFERS if o.code not in self.product_terms]
        if missing:
            raise ValueError(f"{PRODUCTS_FILE.name} lacks the demo products {missing}")
        self.schedules = _Schedules()
        self._individual = _weighted([(o, o.individual_weight) for o in DEMO_OFFERS])
        self._business = _weighted([(o, o.business_weight) for o in DEMO_OFFERS])
        self._terms = {o.code: _weighted(o.terms) for o in DEMO_OFFERS}
        self._personas = _weighted(PERSONA_SHARES)
        self._channels = _weighted(CHANNELS)
        self.payment_count = 0
        # Every date a loan row or payment can carry lies in this window; their ISO strings
        # and each month's first day are looked up rather than formatted per row.
        first = date.fromordinal(self.as_of_ordinal - HISTORY_DAYS - 1).replace(day=1)
        self._first_day = first.toordinal()
        self._iso = [
            date.fromordinal(o).isoformat() for o in range(self._first_day, self.as_of_ordinal + 62)
        ]
        self._first_month = first.year * 12 + first.month - 1
        self._month_starts = [
            date(m // 12, m % 12 + 1, 1).toordinal()
            for m in range(self._first_month, as_of.year * 12 + as_of.month + 1)
        ]

    def pick(self, options: tuple[list[Any], list[int]]) -> Any:
        values, cum = options
        return values[bisect(cum, self.rng.random() * cum[-1])]

    def customer(self, number: int, loan_numbers: range) -> DemoCustomer:
        """Customer ``number`` (1-based) and the loans numbered ``loan_numbers``."""
        ref = f"C{number:08d}"
        if self.rng.random() < BUSINESS_SHARE:
            company = self.people.company(number - 1)
            row: tuple[str, ...] = (
                ref, "business", company.name, company.id_number, company.phone,
                f"finance{number}@example.cn", company.address, company.region.city,
                company.region.province, "", _amount(company.monthly_income),
            )  # fmt: skip
            offers = self._business
        else:
            person = self.people.person(number - 1)
            row = (
                ref, "individual", person.name, person.id_number, person.phone,
                f"u{number}@example.com", person.address, person.region.city,
                person.region.province, person.employer, _amount(person.monthly_income),
            )  # fmt: skip
            offers = self._individual
        loans = [self.loan(n, ref, self.pick(offers)) for n in loan_numbers]
        return DemoCustomer(row, loans)

    def loan(self, number: int, customer_ref: str, offer: Offer) -> DemoLoan:
        """Loan ``number`` (1-based) of ``offer``'s product, with its payments to date."""
        r = self.rng.random
        steps = (offer.principal_max - offer.principal_min) // offer.principal_step + 1
        # the smaller of two draws: small loans are more common than large ones
        step = min(int(r() * steps), int(r() * steps))
        principal = (offer.principal_min + step * offer.principal_step) * 100
        term_values, term_cum = self._terms[offer.code]
        months: int = term_values[bisect(term_cum, r() * term_cum[-1])]
        rate = offer.rates[int(r() * len(offer.rates))]
        disbursed = date.fromordinal(self.as_of_ordinal - 1 - int(r() * HISTORY_DAYS))
        if disbursed.day > 28:
            disbursed = disbursed.replace(day=28)
        product = self.product_terms[offer.code]
        due = self.schedules.due(offer.code, product, principal, rate, months, disbursed)
        # the first due date is a month after disbursement, same day; then monthly
        day_offset = disbursed.day - 1
        first_month = disbursed.year * 12 + disbursed.month - self._first_month  # next month
        starts = self._month_starts
        first_due = starts[first_month] + day_offset
        # due dates up to a few days after as_of: early payments before as_of count
        horizon = self.as_of_ordinal + 5
        month = first_month + months - 1 if product["method"] is Method.BULLET else first_month
        dues: list[int] = []
        for k in range(month, min(month + len(due.totals), len(starts))):
            ordinal = starts[k] + day_offset
            if ordinal > horizon:
                break
            dues.append(ordinal)
        personas, persona_cum = self._personas
        persona: Persona = personas[bisect(persona_cum, r() * persona_cum[-1])]
        loan_ref = f"L{number:09d}"
        iso, first_day = self._iso, self._first_day
        payments: list[tuple[str, ...]] = []
        if dues:
            channels, channel_cum = self._channels
            usual = channels[bisect(channel_cum, r() * channel_cum[-1])]
            amounts = due.amounts
            count = self.payment_count
            charges = self.late_charges[offer.code]

            def surcharge(covered: Sequence[tuple[int, int]], paid_on: int) -> int:
                return late_surcharge(charges, rate, covered, paid_on)

            for paid_on, index, amount in self._repay(persona, dues, due, surcharge):
                count += 1
                channel = (
                    usual if r() < 0.85 else channels[bisect(channel_cum, r() * channel_cum[-1])]
                )
                payments.append(
                    (
                        f"P{count:010d}",
                        loan_ref,
                        iso[paid_on - first_day],
                        amounts[index] if amount < 0 else _amount(amount),
                        channel,
                    )
                )
            self.payment_count = count
        row = (
            loan_ref, customer_ref, offer.code, _amount(principal), rate, str(months),
            iso[disbursed.toordinal() - first_day], iso[first_due - first_day],
        )  # fmt: skip
        return DemoLoan(row, persona, payments)

    def _repay(
        self,
        persona: Persona,
        dues: list[int],
        due: _Due,
        surcharge: Callable[[Sequence[tuple[int, int]], int], int],
    ) -> list[tuple[int, int, int]]:
        """Payments ``(paid_on ordinal, installment index, minor units)`` up to as_of.

        An amount of -1 means "that installment's total". ``dues`` are the due dates up to a
        few days after as_of. Payments made after the grace period add ``surcharge`` for the
        penalty and fees they owe; apart from that they never exceed the total repayment.
        """
        r = self.rng.random
        as_of = self.as_of_ordinal
        totals = due.totals
        out: list[tuple[int, int, int]] = []
        count = len(dues)
        if persona is Persona.ON_TIME or persona is Persona.DEFAULTER:
            # a defaulter stops after a few installments, at the latest before the last one
            stop = count if persona is Persona.ON_TIME else min(int(r() * 9), len(totals) - 1)
            for index in range(min(stop, count)):
                paid_on = _on_time_day(r, dues[index])
                if paid_on > as_of:
                    break
                extra = surcharge([(totals[index], dues[index])], paid_on)
                out.append((paid_on, index, totals[index] + extra if extra else -1))
        elif persona is Persona.LATE_THEN_CURE:
            history = sum(1 for d in dues if d < as_of)
            first_episode = int(r() * history) if history else -1
            index = 0
            while index < count:
                due_on = dues[index]
                if due_on < as_of and (index == first_episode or r() < 0.1):
                    cured_on = due_on + 10 + int(r() * 51)
                    if cured_on > as_of:
                        break
                    first = index
                    amount = 0
                    covered = []
                    while index < count and dues[index] <= cured_on:
                        amount += totals[index]
                        covered.append((totals[index], dues[index]))
                        index += 1
                    out.append((cured_on, first, amount + surcharge(covered, cured_on)))
                    continue
                paid_on = _on_time_day(r, due_on)
                if paid_on > as_of:
                    break
                extra = surcharge([(totals[index], due_on)], paid_on)
                out.append((paid_on, index, totals[index] + extra if extra else -1))
                index += 1
        else:  # chronic
            paid = 0
            on_time = int(r() * 3)
            for index in range(count):
                if index < on_time:
                    paid_on, amount = _on_time_day(r, dues[index]), totals[index]
                else:
                    if r() < 0.25:
                        continue  # a month with nothing paid
                    paid_on = dues[index] - 2 + int(r() * 28)
                    share = totals[index] * (30 + int(r() * 71)) // 100
                    amount = max(share - share % 100, 100)  # people pay round sums
                if paid_on > as_of:
                    break
                amount = min(amount, due.total_repayment - paid)
                if amount <= 0:
                    break
                paid += amount
                out.append((paid_on, index, amount))
        return out


def _on_time_day(r: Callable[[], float], due_on: int) -> int:
    """When an on-time payer pays: mostly on or just before the due date, now and then late."""
    draw = r()
    if draw < 0.06:
        return due_on + 1 + int(r() * 5)
    if draw < 0.55:
        return due_on
    return due_on - 1 - int(r() * 3)


def iter_portfolio(*, loans: int, seed: int, as_of: date) -> Iterator[DemoCustomer]:
    """The demo book, customer by customer; the same arguments give the same book."""
    if not 1 <= loans <= MAX_LOANS:
        raise ValueError(f"loans must be between 1 and {MAX_LOANS}, not {loans}")
    book = _Book(seed=seed, as_of=as_of)
    made = 0
    number = 0
    while made < loans:
        number += 1
        count = 2 if loans - made >= 2 and book.rng.random() < SECOND_LOAN_SHARE else 1
        yield book.customer(number, range(made + 1, made + count + 1))
        made += count


def write_portfolio(
    directory: Path,
    *,
    loans: int,
    seed: int,
    as_of: date,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, Path]:
    """Write the demo book's files into ``directory``; return their paths by kind.

    ``products.yaml`` (the packaged demo products), ``customers.csv``, ``loans.csv`` and
    ``payments.csv`` (UTF-8, header row, payments dated on or before ``as_of``).
    ``progress(stage, rows_done)`` is called every ten thousand rows of a stage and once at
    its end; the stages are ``customers``, ``loans`` and ``payments``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "products": directory / "products.yaml",
        "customers": directory / "customers.csv",
        "loans": directory / "loans.csv",
        "payments": directory / "payments.csv",
    }
    shutil.copyfile(PRODUCTS_FILE, paths["products"])
    buffer = 1 << 20
    with (
        paths["customers"].open("w", encoding="utf-8", newline="", buffering=buffer) as c_file,
        paths["loans"].open("w", encoding="utf-8", newline="", buffering=buffer) as l_file,
        paths["payments"].open("w", encoding="utf-8", newline="", buffering=buffer) as p_file,
    ):
        customers_out = csv.writer(c_file, lineterminator="\n")
        loans_out = csv.writer(l_file, lineterminator="\n")
        payments_out = csv.writer(p_file, lineterminator="\n")
        customers_out.writerow(CUSTOMER_COLUMNS)
        loans_out.writerow(LOAN_COLUMNS)
        payments_out.writerow(PAYMENT_COLUMNS)
        n_customers = n_loans = n_payments = 0
        next_payments_report = PROGRESS_EVERY
        for customer in iter_portfolio(loans=loans, seed=seed, as_of=as_of):
            customers_out.writerow(customer.row)
            n_customers += 1
            for loan in customer.loans:
                loans_out.writerow(loan.row)
                payments_out.writerows(loan.payments)
                n_loans += 1
                n_payments += len(loan.payments)
                if progress is not None and n_loans % PROGRESS_EVERY == 0:
                    progress("loans", n_loans)
            if progress is not None:
                if n_customers % PROGRESS_EVERY == 0:
                    progress("customers", n_customers)
                if n_payments >= next_payments_report:
                    progress("payments", n_payments)
                    next_payments_report = (n_payments // PROGRESS_EVERY + 1) * PROGRESS_EVERY
        if progress is not None:
            progress("customers", n_customers)
            progress("loans", n_loans)
            progress("payments", n_payments)
    return paths
