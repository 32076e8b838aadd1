"""Ageing: past-due and delinquent days, buckets, classification. Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class BucketRule:
    """Delinquent days ``min_days`` … ``max_days`` (inclusive; None: no upper end)."""

    code: str
    min_days: int
    max_days: int | None


DEFAULT_BUCKETS: tuple[BucketRule, ...] = (
    BucketRule("M0", 0, 0),
    BucketRule("M1", 1, 30),
    BucketRule("M2", 31, 60),
    BucketRule("M3", 61, 90),
    BucketRule("M4", 91, 120),
    BucketRule("M5", 121, 150),
    BucketRule("M6", 151, 180),
    BucketRule("M7", 181, None),
)


class FiveCategory(IntEnum):
    """China's five-category loan classification (五级分类)."""

    NORMAL = 1  # 正常
    SPECIAL_MENTION = 2  # 关注
    SUBSTANDARD = 3  # 次级
    DOUBTFUL = 4  # 可疑
    LOSS = 5  # 损失

    @property
    def label(self) -> str:
        return FIVE_CATEGORY_LABELS[self]

    @property
    def key(self) -> str:
        return self.name.lower()


FIVE_CATEGORY_LABELS = {
    FiveCategory.NORMAL: "正常",
    FiveCategory.SPECIAL_MENTION: "关注",
    FiveCategory.SUBSTANDARD: "次级",
    FiveCategory.DOUBTFUL: "可疑",
    FiveCategory.LOSS: "损失",
}


@dataclass(frozen=True, slots=True)
class ClassificationRules:
    """Thresholds in delinquent days: a loan is in a class when its days EXCEED the threshold."""

    special_mention_over: int = 0
    substandard_over: int = 90
    doubtful_over: int = 270
    loss_over: int = 360
    ifrs9_stage2_over: int = 30
    ifrs9_stage3_over: int = 90
    non_performing_over: int = 90
    borrower_contagion: bool = False


@dataclass(frozen=True, slots=True)
class Classification:
    five_category: FiveCategory
    ifrs9_stage: int
    non_performing: bool


@dataclass(frozen=True, slots=True)
class HoldSpan:
    """A hold from ``start`` (held) to ``end`` (no longer held); ``end`` None is open."""

    start: date
    end: date | None
    suspends_penalty: bool = True


class Position(NamedTuple):
    """What is owed on one installment as of the business date (minor units).

    A named tuple: one is built for every installment of every loan evaluated.
    """

    number: int
    due_on: date
    principal: int
    interest: int
    fee: int
    penalty: int

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.fee + self.penalty


@dataclass(frozen=True, slots=True)
class Overdue:
    principal: int = 0
    interest: int = 0
    fee: int = 0
    penalty: int = 0

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.fee + self.penalty


@dataclass(frozen=True, slots=True)
class Aging:
    """The ageing of one loan as of a business date."""

    as_of: date
    past_due_days: int
    delinquent_days: int
    paused_days: int
    oldest_overdue_due_on: date | None
    bucket: str
    overdue: Overdue
    overdue_by_bucket: dict[str, int] = field(default_factory=dict)
    overdue_installments: tuple[int, ...] = ()
    classification: Classification = Classification(FiveCategory.NORMAL, 1, False)


def held_days(holds: Iterable[HoldSpan], start: date, end: date) -> int:
    """Days in ``[start, end)`` covered by at least one hold (overlapping holds count once)."""
    if end <= start:
        return 0
    spans = sorted((max(h.start, start), min(h.end or end, end)) for h in holds if h.start < end)
    total = 0
    cursor = start
    for s, e in spans:
        s = max(s, cursor)
        if e > s:
            total += (e - s).days
            cursor = e
    return total


def bucket_for(days: int, buckets: Sequence[BucketRule] = DEFAULT_BUCKETS) -> str:
    """The code of the bucket whose range holds ``days``."""
    for rule in buckets:
        if days >= rule.min_days and (rule.max_days is None or days <= rule.max_days):
            return rule.code
    raise ValueError(f"no bucket holds {days} days")


def classify(days: int, rules: ClassificationRules = ClassificationRules()) -> Classification:
    """Five-category class, IFRS 9 stage and the non-performing flag for ``days`` delinquent."""
    if days > rules.loss_over:
        category = FiveCategory.LOSS
    elif days > rules.doubtful_over:
        category = FiveCategory.DOUBTFUL
    elif days > rules.substandard_over:
        category = FiveCategory.SUBSTANDARD
    elif days > rules.special_mention_over:
        category = FiveCategory.SPECIAL_MENTION
    else:
        category = FiveCategory.NORMAL
    stage = 3 if days > rules.ifrs9_stage3_over else 2 if days > rules.ifrs9_stage2_over else 1
    return Classification(category, stage, days > rules.non_performing_over)


def age(
    positions: Sequence[Position],
    as_of: date,
    *,
    tolerance: int = 1,
    grace_days: int = 0,
    holds: Sequence[HoldSpan] = (),
    buckets: Sequence[BucketRule] = DEFAULT_BUCKETS,
    rules: ClassificationRules = ClassificationRules(),
) -> Aging:
    """Age a loan: an installment is overdue when due before ``as_of`` and owing > tolerance."""
    # one pass over the positions: this runs for every loan the daily run moves on
    principal = interest = fee = penalty = 0
    oldest: date | None = None
    by_bucket: dict[str, int] = {}
    numbers: list[int] = []
    for p in positions:
        due_on = p.due_on
        if due_on >= as_of:
            continue
        total = p.principal + p.interest + p.fee + p.penalty
        if total <= tolerance:
            continue
        principal += p.principal
        interest += p.interest
        fee += p.fee
        penalty += p.penalty
        numbers.append(p.number)
        if oldest is None or due_on < oldest:
            oldest = due_on
        days = (as_of - due_on).days - grace_days
        if holds:
            days -= held_days(holds, due_on, as_of)
        code = bucket_for(max(0, days), buckets)
        by_bucket[code] = by_bucket.get(code, 0) + total
    if oldest is None:
        return Aging(as_of, 0, 0, 0, None, bucket_for(0, buckets), Overdue())
    past_due = (as_of - oldest).days
    paused = held_days(holds, oldest, as_of) if holds else 0
    delinquent = max(0, past_due - grace_days - paused)
    numbers.sort()
    return Aging(
        as_of=as_of,
        past_due_days=past_due,
        delinquent_days=delinquent,
        paused_days=paused,
        oldest_overdue_due_on=oldest,
        bucket=bucket_for(delinquent, buckets),
        overdue=Overdue(principal, interest, fee, penalty),
        overdue_by_bucket={
            rule.code: by_bucket[rule.code] for rule in buckets if rule.code in by_bucket
        },
        overdue_installments=tuple(numbers),
        classification=classify(delinquent, rules),
    )
