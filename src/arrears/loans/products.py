"""Loan products: the file format, its validation, and the product service."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.kit.dates import DayCount
from arrears.kit.errors import NotFound, ValidationFailed
from arrears.kit.money import (
    Rounding,
    check_currency,
    from_minor,
    minor_factor,
    parse_amount,
    to_minor,
)
from arrears.loans.models import Product
from arrears.loans.schedule import Method

COMPONENTS = ("penalty", "fee", "interest", "principal")
DEFAULT_ALLOCATION_ORDER = list(COMPONENTS)
DEFAULT_BUCKETS: list[dict[str, Any]] = [
    {"code": "M0", "min_days": 0, "max_days": 0},
    {"code": "M1", "min_days": 1, "max_days": 30},
    {"code": "M2", "min_days": 31, "max_days": 60},
    {"code": "M3", "min_days": 61, "max_days": 90},
    {"code": "M4", "min_days": 91, "max_days": 120},
    {"code": "M5", "min_days": 121, "max_days": 150},
    {"code": "M6", "min_days": 151, "max_days": 180},
    {"code": "M7", "min_days": 181, "max_days": None},
]


class Bucket(BaseModel):
    """A range of delinquent days, inclusive at both ends; ``max_days`` None is open-ended."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=16)
    min_days: int = Field(ge=0)
    max_days: int | None = None


def check_buckets(buckets: Sequence[Bucket]) -> list[Bucket]:
    """Buckets sorted by ``min_days``; raise unless they cover 0 … ∞ with no gap or overlap."""
    if not buckets:
        raise ValueError("at least one bucket is needed")
    ordered = sorted(buckets, key=lambda b: b.min_days)
    codes = [b.code for b in ordered]
    if len(set(codes)) != len(codes):
        raise ValueError("bucket codes must be unique")
    if ordered[0].min_days != 0:
        raise ValueError(f"the first bucket must start at 0 days, not {ordered[0].min_days}")
    for here, after in itertools.pairwise(ordered):
        if here.max_days is None:
            raise ValueError(f"bucket {here.code} is open-ended but bucket {after.code} follows it")
        if here.max_days < here.min_days:
            raise ValueError(f"bucket {here.code} ends ({here.max_days}) before it starts")
        if after.min_days <= here.max_days:
            raise ValueError(f"buckets {here.code} and {after.code} overlap")
        if after.min_days > here.max_days + 1:
            raise ValueError(
                f"days {here.max_days + 1}–{after.min_days - 1} fall in no bucket "
                f"(gap between {here.code} and {after.code})"
            )
    if ordered[-1].max_days is not None:
        raise ValueError(
            f"the last bucket ({ordered[-1].code}) must be open-ended (max_days: null)"
        )
    return ordered


class Classification(BaseModel):
    """Thresholds in delinquent days above which a loan moves class (defaults: regulation)."""

    model_config = ConfigDict(extra="forbid")

    special_mention_over: int = Field(default=0, ge=0)
    substandard_over: int = Field(default=90, ge=0)
    doubtful_over: int = Field(default=270, ge=0)
    loss_over: int = Field(default=360, ge=0)
    ifrs9_stage2_over: int = Field(default=30, ge=0)
    ifrs9_stage3_over: int = Field(default=90, ge=0)
    non_performing_over: int = Field(default=90, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Classification:
        if not (
            self.special_mention_over
            <= self.substandard_over
            <= self.doubtful_over
            <= self.loss_over
        ):
            raise ValueError("five-category thresholds must not decrease from 关注 to 损失")
        if self.ifrs9_stage2_over > self.ifrs9_stage3_over:
            raise ValueError("the IFRS 9 stage 2 threshold must not exceed stage 3's")
        return self


class ProductSpec(BaseModel):
    """A product as written in a product file or sent to the API (amounts as decimals)."""

    model_config = ConfigDict(extra="forbid", use_enum_values=False)

    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str = Field(min_length=1, max_length=200)
    currency: str = "CNY"
    method: Method = Method.ANNUITY
    day_count: DayCount = DayCount.THIRTY_360
    rounding: Rounding = Rounding.HALF_UP
    rounding_unit: str = Field(default="cent", pattern=r"^(cent|unit)$")
    grace_days: int = Field(default=0, ge=0, le=365)
    penalty_rate: Decimal | None = Field(default=None, ge=0, le=1000)
    penalty_multiplier: Decimal | None = Field(default=None, ge=0, le=100)
    penalty_compound: bool = False
    late_fee: Decimal = Field(default=Decimal(0), ge=0)
    allocation_order: list[str] = Field(default_factory=lambda: list(DEFAULT_ALLOCATION_ORDER))
    tolerance: Decimal = Field(default=Decimal("0.01"), ge=0)
    buckets: list[Bucket] = Field(default_factory=lambda: [Bucket(**b) for b in DEFAULT_BUCKETS])
    classification: Classification | None = None

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return check_currency(value)

    @field_validator("penalty_rate", "penalty_multiplier", "late_fee", "tolerance", mode="before")
    @classmethod
    def _exact(cls, value: Any) -> Any:
        # YAML hands floats over; read them back as the decimal the user wrote.
        return None if value is None else parse_amount(value)

    @field_validator("allocation_order")
    @classmethod
    def _order(cls, value: list[str]) -> list[str]:
        if sorted(value) != sorted(COMPONENTS):
            raise ValueError(
                "allocation_order must list each of penalty, fee, interest, principal exactly once"
            )
        return value

    @field_validator("buckets")
    @classmethod
    def _buckets(cls, value: list[Bucket]) -> list[Bucket]:
        return check_buckets(value)

    @model_validator(mode="after")
    def _penalty_and_money(self) -> ProductSpec:
        if self.penalty_rate is not None and self.penalty_multiplier is not None:
            raise ValueError("give penalty_rate or penalty_multiplier, not both")
        to_minor(self.late_fee, self.currency, field="late_fee")
        to_minor(self.tolerance, self.currency, field="tolerance")
        return self

    @property
    def rounding_unit_minor(self) -> int:
        return rounding_unit_minor(self.rounding_unit, self.currency)


def rounding_unit_minor(unit: str, currency: str) -> int:
    """Rounding unit in minor units: a cent is 1, a whole unit is 10^exponent."""
    return 1 if unit == "cent" else minor_factor(currency)


def describe_validation_error(error: ValidationError, prefix: str = "") -> str:
    """One readable sentence per problem pydantic found."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{prefix}{where}: {message}" if where else f"{prefix}{message}")
    return "; ".join(parts)


def parse_product_specs(document: Any) -> list[ProductSpec]:
    """Validate a loaded product document: one mapping, a list, or ``{products: [...]}``."""
    if isinstance(document, dict) and "products" in document:
        document = document["products"]
    if isinstance(document, dict):
        document = [document]
    if not isinstance(document, list) or not document:
        raise ValidationFailed(
            "a product file holds a product or a list of products", code="invalid_product_file"
        )
    specs: list[ProductSpec] = []
    problems: list[str] = []
    for index, item in enumerate(document):
        label = item.get("code", f"#{index + 1}") if isinstance(item, dict) else f"#{index + 1}"
        try:
            specs.append(ProductSpec.model_validate(item))
        except ValidationError as exc:
            problems.append(describe_validation_error(exc, prefix=f"product {label}: "))
        except ValidationFailed as exc:
            problems.append(f"product {label}: {exc.message}")
    if problems:
        raise ValidationFailed("; ".join(problems), code="invalid_product", problems=problems)
    codes = [spec.code for spec in specs]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise ValidationFailed(
            f"product codes appear more than once: {', '.join(duplicates)}",
            code="duplicate_product",
        )
    return specs


def read_product_file(path: Path) -> list[ProductSpec]:
    """Read and validate a YAML or JSON product file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"cannot read {path}: {exc}", code="unreadable_file") from None
    try:
        document = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
        raise ValidationFailed(
            f"{path.name} is not valid {kind}: {exc}",
            code="invalid_product_file",
        ) from None
    return parse_product_specs(document)


def spec_to_columns(spec: ProductSpec) -> dict[str, Any]:
    """Table columns of a spec (money to minor units)."""
    return {
        "code": spec.code,
        "name": spec.name,
        "currency": spec.currency,
        "method": spec.method.value,
        "day_count": spec.day_count.value,
        "rounding": spec.rounding.value,
        "rounding_unit": spec.rounding_unit,
        "grace_days": spec.grace_days,
        "penalty_rate": spec.penalty_rate,
        "penalty_multiplier": spec.penalty_multiplier,
        "penalty_compound": spec.penalty_compound,
        "late_fee": to_minor(spec.late_fee, spec.currency),
        "tolerance": to_minor(spec.tolerance, spec.currency),
        "allocation_order": list(spec.allocation_order),
        "buckets": [b.model_dump() for b in spec.buckets],
        "classification": None if spec.classification is None else spec.classification.model_dump(),
    }


def product_to_spec(product: Product) -> ProductSpec:
    """The spec a stored product was made from."""
    return ProductSpec(
        code=product.code,
        name=product.name,
        currency=product.currency,
        method=Method(product.method),
        day_count=DayCount(product.day_count),
        rounding=Rounding(product.rounding),
        rounding_unit=product.rounding_unit,
        grace_days=product.grace_days,
        penalty_rate=product.penalty_rate,
        penalty_multiplier=product.penalty_multiplier,
        penalty_compound=product.penalty_compound,
        late_fee=from_minor(product.late_fee, product.currency),
        allocation_order=list(product.allocation_order),
        tolerance=from_minor(product.tolerance, product.currency),
        buckets=[Bucket(**b) for b in product.buckets],
        classification=None
        if product.classification is None
        else Classification(**product.classification),
    )


def get_by_code(*, db_session: Session, code: str) -> Product | None:
    """The product with ``code``, if any."""
    return db_session.scalar(select(Product).where(Product.code == code))


def get_by_code_or_raise(*, db_session: Session, code: str) -> Product:
    """The product with ``code``; ``NotFound`` otherwise."""
    product = get_by_code(db_session=db_session, code=code)
    if product is None:
        raise NotFound(f"there is no product with code '{code}'", code="product_not_found")
    return product


def upsert(*, db_session: Session, spec: ProductSpec) -> tuple[Product, str]:
    """Create the product or update it in place; returns it and created|updated|unchanged."""
    columns = spec_to_columns(spec)
    product = get_by_code(db_session=db_session, code=spec.code)
    if product is None:
        product = Product(**columns)
        db_session.add(product)
        db_session.flush()
        return product, "created"
    changed = False
    for key, value in columns.items():
        if getattr(product, key) != value:
            setattr(product, key, value)
            changed = True
    if changed:
        db_session.flush()
    return product, "updated" if changed else "unchanged"


def list_all(*, db_session: Session) -> list[Product]:
    """Every product, by code."""
    return list(db_session.scalars(select(Product).order_by(Product.code)))
