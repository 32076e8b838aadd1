"""The demo portfolio: valid identities, exact amounts, a realistic delinquency mix, same bytes."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import phonenumbers
import pytest
import yaml
from stdnum.cn import ric, uscc

from arrears.demo import Persona, iter_portfolio, load_demo_product_terms, write_portfolio
from arrears.demo import generate as generate_module
from arrears.demo.generate import (
    CUSTOMER_COLUMNS,
    LOAN_COLUMNS,
    PAYMENT_COLUMNS,
    PRODUCTS_FILE,
    late_surcharge,
    load_demo_late_charges,
)
from arrears.demo.people import KeyedShuffle, resident_id, years_before
from arrears.demo.people import uscc as uscc_code
from arrears.kit.dates import add_months
from arrears.loans.schedule import LoanTerms, Method, Schedule, generate

AS_OF = date(2025, 6, 30)
SEED = 20250630
LOANS = 2000


LATE_CHARGES = load_demo_late_charges()


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def minor(amount: str) -> int:
    value = Decimal(amount) * 100
    assert value == value.to_integral_value(), amount
    return int(value)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_portfolio(tmp_path_factory.mktemp("demo"), loans=LOANS, seed=SEED, as_of=AS_OF)


@pytest.fixture(scope="module")
def customers(files: dict[str, Path]) -> list[dict[str, str]]:
    return read_csv(files["customers"])[1]


@pytest.fixture(scope="module")
def loans(files: dict[str, Path]) -> list[dict[str, str]]:
    return read_csv(files["loans"])[1]


@pytest.fixture(scope="module")
def payments_by_loan(files: dict[str, Path]) -> dict[str, list[dict[str, str]]]:
    grouped: dict[str, list[dict[str, str]]] = {}
    for row in read_csv(files["payments"])[1]:
        grouped.setdefault(row["loan_ref"], []).append(row)
    return grouped


@pytest.fixture(scope="module")
def schedules(loans: list[dict[str, str]]) -> dict[str, Schedule]:
    """Each loan's schedule, straight from the engine with the product's settings."""
    terms = load_demo_product_terms()
    return {
        loan["loan_ref"]: generate(
            LoanTerms(
                principal=minor(loan["principal"]),
                annual_rate=Decimal(loan["annual_rate"]),
                months=int(loan["term_months"]),
                first_due_on=date.fromisoformat(loan["first_due_on"]),
                disbursed_on=date.fromisoformat(loan["disbursed_on"]),
                **terms[loan["product_code"]],
            )
        )
        for loan in loans
    }


@pytest.fixture(scope="module")
def personas() -> dict[str, Persona]:
    return {
        loan.row[0]: loan.persona
        for customer in iter_portfolio(loans=LOANS, seed=SEED, as_of=AS_OF)
        for loan in customer.loans
    }


def is_overdue(schedule: Schedule, paid: int) -> bool:
    """Whether the oldest installment not paid (beyond 0.01) fell due before AS_OF."""
    left = paid
    for installment in schedule.installments:
        if left >= installment.total - 1:
            left -= installment.total
            continue
        return installment.due_on < AS_OF
    return False


def test_files_have_exactly_the_specified_columns(files: dict[str, Path]) -> None:
    assert read_csv(files["customers"])[0] == list(CUSTOMER_COLUMNS) == [
        "customer_ref", "type", "name", "id_number", "phone", "email", "address", "city",
        "province", "employer", "monthly_income",
    ]  # fmt: skip
    assert read_csv(files["loans"])[0] == list(LOAN_COLUMNS) == [
        "loan_ref", "customer_ref", "product_code", "principal", "annual_rate", "term_months",
        "disbursed_on", "first_due_on",
    ]  # fmt: skip
    assert read_csv(files["payments"])[0] == list(PAYMENT_COLUMNS) == [
        "payment_ref", "loan_ref", "paid_on", "amount", "channel",
    ]  # fmt: skip
    assert files["products"].read_bytes() == PRODUCTS_FILE.read_bytes()


def test_every_resident_id_is_valid_and_matches_age_and_address(
    customers: list[dict[str, str]],
) -> None:
    individuals = [c for c in customers if c["type"] == "individual"]
    assert individuals
    for customer in individuals:
        number = ric.validate(customer["id_number"])
        born = ric.get_birth_date(number)
        assert years_before(AS_OF, 66) < born <= years_before(AS_OF, 20), customer
        place = ric.get_birth_place(number)
        assert place["province"] == customer["province"]
        assert customer["address"].startswith(customer["province"])
        assert customer["city"].removesuffix("市") in customer["address"]
    assert len({c["id_number"] for c in individuals}) == len(individuals)


def test_every_business_has_a_valid_unified_social_credit_code(
    customers: list[dict[str, str]],
) -> None:
    businesses = [c for c in customers if c["type"] == "business"]
    assert businesses
    for customer in businesses:
        uscc.validate(customer["id_number"])
        assert customer["name"].endswith("公司")
    assert len({c["id_number"] for c in businesses}) == len(businesses)


def test_every_phone_is_a_valid_mainland_number(customers: list[dict[str, str]]) -> None:
    for customer in customers:
        phone = customer["phone"]
        assert len(phone) == 11 and phone.startswith("1"), phone
        assert phonenumbers.is_valid_number(phonenumbers.parse(phone, "CN")), phone
    assert len({c["phone"] for c in customers}) == len(customers)


def test_customers_are_mostly_individuals_and_some_have_two_loans(
    customers: list[dict[str, str]], loans: list[dict[str, str]]
) -> None:
    business_share = sum(c["type"] == "business" for c in customers) / len(customers)
    assert 0.02 < business_share < 0.09
    per_customer = Counter(loan["customer_ref"] for loan in loans)
    assert set(per_customer) == {c["customer_ref"] for c in customers}
    assert set(per_customer.values()) == {1, 2}
    assert 0.06 < sum(n == 2 for n in per_customer.values()) / len(customers) < 0.14
    for customer in customers:
        assert Decimal(customer["monthly_income"]) > 0
        assert customer["email"].endswith(("@example.com", "@example.cn"))


def test_all_four_methods_are_lent(loans: list[dict[str, str]]) -> None:
    terms = load_demo_product_terms()
    lent = {terms[loan["product_code"]]["method"] for loan in loans}
    assert lent == set(Method)


def test_loans_fall_due_a_month_after_disbursement_within_two_years(
    loans: list[dict[str, str]],
) -> None:
    assert [loan["loan_ref"] for loan in loans] == [f"L{n:09d}" for n in range(1, LOANS + 1)]
    for loan in loans:
        disbursed = date.fromisoformat(loan["disbursed_on"])
        assert 0 < (AS_OF - disbursed).days <= 731
        assert disbursed.day <= 28
        assert date.fromisoformat(loan["first_due_on"]) == add_months(disbursed, 1)
        assert loan["principal"].count(".") == 1 and len(loan["principal"].split(".")[1]) == 2


def test_about_one_loan_in_ten_is_overdue_on_as_of(
    schedules: dict[str, Schedule], payments_by_loan: dict[str, list[dict[str, str]]]
) -> None:
    overdue = sum(
        is_overdue(schedule, sum(minor(p["amount"]) for p in payments_by_loan.get(ref, [])))
        for ref, schedule in schedules.items()
    )
    assert 0.05 <= overdue / len(schedules) <= 0.15


def test_every_persona_appears_and_behaves_as_named(
    personas: dict[str, Persona],
    schedules: dict[str, Schedule],
    payments_by_loan: dict[str, list[dict[str, str]]],
) -> None:
    assert set(personas.values()) == set(Persona)
    assert sum(p is Persona.ON_TIME for p in personas.values()) / len(personas) > 0.7
    overdue: Counter[Persona] = Counter()
    for ref, persona in personas.items():
        paid = sum(minor(p["amount"]) for p in payments_by_loan.get(ref, []))
        overdue[persona] += is_overdue(schedules[ref], paid)
    count = Counter(personas.values())
    assert overdue[Persona.ON_TIME] / count[Persona.ON_TIME] < 0.02
    assert overdue[Persona.CHRONIC] / count[Persona.CHRONIC] > 0.5
    assert overdue[Persona.DEFAULTER] / count[Persona.DEFAULTER] > 0.5


def test_on_time_payments_are_installments_paid_around_their_due_date(
    loans: list[dict[str, str]],
    personas: dict[str, Persona],
    schedules: dict[str, Schedule],
    payments_by_loan: dict[str, list[dict[str, str]]],
) -> None:
    products = {loan["loan_ref"]: loan["product_code"] for loan in loans}
    rates = {loan["loan_ref"]: loan["annual_rate"] for loan in loans}
    for ref, persona in personas.items():
        if persona is not Persona.ON_TIME:
            continue
        installments = schedules[ref].installments
        charges = LATE_CHARGES[products[ref]]
        for payment, installment in zip(payments_by_loan.get(ref, []), installments, strict=False):
            paid_on = date.fromisoformat(payment["paid_on"])
            extra = late_surcharge(
                charges,
                rates[ref],
                [(installment.total, installment.due_on.toordinal())],
                paid_on.toordinal(),
            )
            assert minor(payment["amount"]) == installment.total + extra
            assert -3 <= (paid_on - installment.due_on).days <= 5
            if paid_on <= installment.due_on:
                assert extra == 0


def test_no_loan_is_paid_more_than_owed_nor_after_as_of(
    loans: list[dict[str, str]],
    schedules: dict[str, Schedule],
    payments_by_loan: dict[str, list[dict[str, str]]],
) -> None:
    disbursed = {loan["loan_ref"]: date.fromisoformat(loan["disbursed_on"]) for loan in loans}
    refs = []
    for ref, payments in payments_by_loan.items():
        # late payers add what they owe in penalty and fees; nobody pays more than that
        allowance = schedules[ref].total_repayment * 11 // 10 + 100 * len(payments)
        assert sum(minor(p["amount"]) for p in payments) <= allowance
        for payment in payments:
            paid_on = date.fromisoformat(payment["paid_on"])
            assert disbursed[ref] < paid_on <= AS_OF
            assert minor(payment["amount"]) > 0
            assert len(payment["amount"].split(".")[1]) == 2
            assert payment["channel"] in {"bank_transfer", "card", "alipay", "wechat", "counter"}
            refs.append(payment["payment_ref"])
    assert refs == [f"P{n:010d}" for n in range(1, len(refs) + 1)]


def test_same_arguments_give_byte_identical_files(files: dict[str, Path], tmp_path: Path) -> None:
    again = write_portfolio(tmp_path / "again", loans=LOANS, seed=SEED, as_of=AS_OF)
    for kind, path in files.items():
        assert again[kind].read_bytes() == path.read_bytes(), kind
    other = write_portfolio(tmp_path / "other", loans=LOANS, seed=SEED + 1, as_of=AS_OF)
    for kind in ("customers", "loans", "payments"):
        assert other[kind].read_bytes() != files[kind].read_bytes(), kind


def test_progress_is_reported_per_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generate_module, "PROGRESS_EVERY", 100)
    calls: list[tuple[str, int]] = []
    write_portfolio(
        tmp_path, loans=250, seed=1, as_of=AS_OF, progress=lambda s, n: calls.append((s, n))
    )
    assert ("loans", 100) in calls and ("loans", 200) in calls
    assert calls[-3:][1] == ("loans", 250)
    assert {stage for stage, _ in calls} == {"customers", "loans", "payments"}


def test_products_file_is_a_valid_product_file_covering_every_method() -> None:
    from arrears.loans.products import parse_product_specs

    document = yaml.safe_load(PRODUCTS_FILE.read_text(encoding="utf-8"))
    specs = parse_product_specs(document)
    assert {spec.method for spec in specs} == set(Method)
    assert all(spec.currency == "CNY" for spec in specs)
    for product in document:
        assert ("penalty_rate" in product) != ("penalty_multiplier" in product)
        for key in ("penalty_rate", "penalty_multiplier", "late_fee", "tolerance"):
            assert key not in product or isinstance(product[key], str), (product["code"], key)
    terms = load_demo_product_terms()
    assert terms["CASH_12"]["rounding_unit"] == 100
    assert terms["CONSUMER_36"]["rounding_unit"] == 1


def test_identifiers_follow_the_published_check_digit_rules() -> None:
    assert resident_id("360426", date(1991, 1, 1), 7) == "360426199101010071"
    assert uscc_code("110000", "60003734") == "91110000600037341L"


def test_keyed_shuffle_is_a_permutation() -> None:
    shuffle = KeyedShuffle(1000, "test")
    assert sorted(shuffle(n) for n in range(1000)) == list(range(1000))
    assert [shuffle(n) for n in range(10)] != list(range(10))
