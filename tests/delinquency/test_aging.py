"""Ageing rules, pure: past-due and delinquent days, buckets, classification, holds."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.delinquency.aging import (
    BucketRule,
    ClassificationRules,
    FiveCategory,
    HoldSpan,
    Position,
    age,
    bucket_for,
    classify,
    held_days,
)

D = date(2024, 6, 30)


def pos(number, due_on, principal=10000, interest=0, fee=0, penalty=0):
    return Position(number, due_on, principal, interest, fee, penalty)


def test_payment_on_due_date_is_not_overdue():
    assert age([pos(1, D, principal=0)], D).past_due_days == 0
    # due today is not yet overdue even when unpaid
    assert age([pos(1, D)], D).past_due_days == 0


def test_an_installment_due_yesterday_and_unpaid_is_one_day_past_due():
    aging = age([pos(1, D - timedelta(days=1))], D)
    assert (aging.past_due_days, aging.bucket) == (1, "M1")


def test_amount_within_tolerance_is_not_overdue():
    assert age([pos(1, D - timedelta(days=40), principal=1)], D, tolerance=1).past_due_days == 0
    assert age([pos(1, D - timedelta(days=40), principal=2)], D, tolerance=1).past_due_days == 40


def test_days_are_counted_from_the_oldest_overdue_installment():
    aging = age([pos(1, D - timedelta(days=70)), pos(2, D - timedelta(days=40))], D)
    assert aging.past_due_days == 70 and aging.bucket == "M3"
    assert aging.overdue_by_bucket == {"M2": 10000, "M3": 10000}


def test_grace_days_reduce_delinquent_days_not_past_due_days():
    aging = age([pos(1, D - timedelta(days=5))], D, grace_days=3)
    assert (aging.past_due_days, aging.delinquent_days, aging.bucket) == (5, 2, "M1")
    assert age([pos(1, D - timedelta(days=3))], D, grace_days=3).bucket == "M0"


def test_held_days_count_overlaps_once_and_exclude_the_end_date():
    holds = [
        HoldSpan(date(2024, 1, 10), date(2024, 1, 20)),
        HoldSpan(date(2024, 1, 15), date(2024, 1, 25)),
    ]
    assert held_days(holds, date(2024, 1, 1), date(2024, 2, 1)) == 15
    assert held_days([HoldSpan(date(2024, 1, 10), None)], date(2024, 1, 1), date(2024, 1, 12)) == 2


@pytest.mark.parametrize(
    ("days", "category", "stage", "npl"),
    [
        (0, FiveCategory.NORMAL, 1, False),
        (1, FiveCategory.SPECIAL_MENTION, 1, False),
        (30, FiveCategory.SPECIAL_MENTION, 1, False),
        (31, FiveCategory.SPECIAL_MENTION, 2, False),
        (90, FiveCategory.SPECIAL_MENTION, 2, False),
        (91, FiveCategory.SUBSTANDARD, 3, True),
        (270, FiveCategory.SUBSTANDARD, 3, True),
        (271, FiveCategory.DOUBTFUL, 3, True),
        (360, FiveCategory.DOUBTFUL, 3, True),
        (361, FiveCategory.LOSS, 3, True),
    ],
)
def test_regulatory_classification_thresholds(days, category, stage, npl):
    result = classify(days)
    assert (result.five_category, result.ifrs9_stage, result.non_performing) == (
        category,
        stage,
        npl,
    )


def test_thresholds_are_configurable():
    rules = ClassificationRules(substandard_over=60, non_performing_over=60)
    assert classify(61, rules).five_category is FiveCategory.SUBSTANDARD
    assert classify(61, rules).non_performing


def test_buckets_cover_every_day():
    buckets = [BucketRule("A", 0, 0), BucketRule("B", 1, 9), BucketRule("C", 10, None)]
    assert [bucket_for(d, buckets) for d in (0, 1, 9, 10, 10_000)] == ["A", "B", "B", "C", "C"]


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=-200, max_value=400), st.integers(min_value=0, max_value=5000)
        ),
        min_size=1,
        max_size=12,
    ),
    st.integers(min_value=0, max_value=15),
)
def test_overdue_by_bucket_adds_up_and_days_never_negative(rows, grace):
    positions = [
        pos(k + 1, D - timedelta(days=offset), principal=amount)
        for k, (offset, amount) in enumerate(rows)
    ]
    aging = age(positions, D, grace_days=grace)
    assert sum(aging.overdue_by_bucket.values()) == aging.overdue.total
    assert 0 <= aging.delinquent_days <= aging.past_due_days
    assert aging.overdue.total == sum(p.total for p in positions if p.due_on < D and p.total > 1)
