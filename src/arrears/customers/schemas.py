"""Customer input and output shapes; input validation normalises identifiers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from arrears.customers.models import (
    ContactKind,
    ContactRelation,
    ContactStatus,
    CustomerType,
    identifier_index,
)
from arrears.customers.validation import (
    normalise_email,
    normalise_phone,
    normalise_resident_id,
    normalise_uscc,
)
from arrears.kit.errors import ValidationFailed
from arrears.kit.money import check_currency, parse_amount, to_minor


class ContactPointIn(BaseModel):
    """A contact point as sent by a client or a file."""

    model_config = ConfigDict(extra="forbid")

    kind: ContactKind
    value: str = Field(min_length=1, max_length=500)
    relation: ContactRelation = ContactRelation.SELF
    status: ContactStatus = ContactStatus.VALID
    contact_name: str | None = Field(default=None, max_length=200)
    is_primary: bool = False

    @model_validator(mode="after")
    def _normalise(self) -> ContactPointIn:
        try:
            if self.kind is ContactKind.PHONE:
                self.value = normalise_phone(self.value)
            elif self.kind is ContactKind.EMAIL:
                self.value = normalise_email(self.value)
            else:
                self.value = self.value.strip()
        except ValidationFailed as exc:
            raise ValueError(exc.message) from None
        return self


class CustomerIn(BaseModel):
    """A customer as sent by a client or a file row."""

    model_config = ConfigDict(extra="forbid")

    customer_ref: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    type: CustomerType = CustomerType.INDIVIDUAL
    name: str = Field(min_length=1, max_length=200)
    id_number: str | None = Field(default=None, description="Resident ID or, for businesses, USCC")
    employer: str | None = Field(default=None, max_length=200)
    monthly_income: Decimal | None = None
    income_currency: str = "CNY"
    time_zone: str = "Asia/Shanghai"
    language: str = Field(default="zh-CN", max_length=16)
    city: str | None = Field(default=None, max_length=100)
    province: str | None = Field(default=None, max_length=100)
    contact_points: list[ContactPointIn] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        stripped = value.strip()
        if not stripped:
            raise ValueError("name is empty")
        return stripped

    @field_validator("monthly_income", mode="before")
    @classmethod
    def _income(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        try:
            amount = parse_amount(value, field="monthly_income")
        except ValidationFailed as exc:
            raise ValueError(exc.message) from None
        if amount < 0:
            raise ValueError("monthly income cannot be negative")
        return amount

    @field_validator("income_currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        try:
            return check_currency(value)
        except ValidationFailed as exc:
            raise ValueError(exc.message) from None

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not a time zone (for example Asia/Shanghai)") from None
        return value

    @model_validator(mode="after")
    def _identifiers(self) -> CustomerIn:
        if self.id_number is not None:
            text = self.id_number.strip()
            try:
                if not text:
                    self.id_number = None
                elif self.type is CustomerType.BUSINESS:
                    self.id_number = normalise_uscc(text)
                else:
                    self.id_number = normalise_resident_id(text)
            except ValidationFailed as exc:
                raise ValueError(exc.message) from None
        if self.monthly_income is not None:
            to_minor(self.monthly_income, self.income_currency, field="monthly_income")
        return self

    def columns(self) -> dict[str, Any]:
        """Customer table columns (identifier split by type with its blind index, income in
        minor units)."""
        is_business = self.type is CustomerType.BUSINESS
        id_number = None if is_business else self.id_number
        registration_code = self.id_number if is_business else None
        return {
            "customer_ref": self.customer_ref,
            "type": self.type.value,
            "name": self.name,
            "id_number": id_number,
            "id_number_index": identifier_index(id_number),
            "registration_code": registration_code,
            "registration_code_index": identifier_index(registration_code),
            "employer": self.employer,
            "income": None
            if self.monthly_income is None
            else to_minor(self.monthly_income, self.income_currency),
            "income_currency": None if self.monthly_income is None else self.income_currency,
            "time_zone": self.time_zone,
            "language": self.language,
            "city": self.city,
            "province": self.province,
        }


# --- API shapes (edits and output) ----------------------------------------------------


class CustomerPatch(BaseModel):
    """A partial edit of a customer: the fields to change and the version they were read at.

    The customer as it would be after the edit is validated like a new one (``CustomerIn``).
    """

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=2**31 - 1, description="The version you read (optimistic lock).")
    name: str | None = None
    id_number: str | None = None
    employer: str | None = None
    monthly_income: Decimal | str | None = Field(default=None, examples=["12000.00"])
    income_currency: str | None = None
    time_zone: str | None = None
    language: str | None = None
    city: str | None = None
    province: str | None = None


class ContactPointPatch(BaseModel):
    """A change to a contact point, e.g. marking it ``wrong_number`` or ``opted_out``."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=2**31 - 1, description="The version you read (optimistic lock).")
    status: ContactStatus | None = None
    relation: ContactRelation | None = None
    contact_name: str | None = Field(default=None, max_length=200)
    is_primary: bool | None = None


class ContactPointOut(BaseModel):
    """A contact point as the API shows it: its value masked."""

    id: int
    kind: ContactKind
    value: str = Field(
        description="Masked (138****8000); POST /customers/{customer_ref}/reveal shows it.",
        examples=["138****8000"],
    )
    relation: ContactRelation
    status: ContactStatus
    contact_name: str | None
    is_primary: bool
    version: int
    created_at: datetime
    updated_at: datetime


class CustomerOut(BaseModel):
    """A customer as the API shows it (amounts as decimal strings)."""

    customer_ref: str
    type: CustomerType
    name: str
    id_number: str | None = Field(
        description="Resident ID or, for businesses, USCC; masked (110105********002X). "
        "POST /customers/{customer_ref}/reveal shows it.",
        examples=["110105********002X"],
    )
    employer: str | None
    monthly_income: str | None = Field(examples=["12000.00"])
    income_currency: str | None
    time_zone: str
    language: str
    city: str | None
    province: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    contact_points: list[ContactPointOut]


class RevealIn(BaseModel):
    """Why the caller needs a customer's personal data in full (kept in the audit trail)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, examples=["calling about a promise"])

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("say why you need the values in full")
        return value.strip()


class RevealedContactPointOut(BaseModel):
    """A contact point's value in full."""

    id: int
    kind: ContactKind
    value: str = Field(examples=["+8613800138000"])


class RevealedCustomerOut(BaseModel):
    """A customer's ID number and contact values in full."""

    customer_ref: str
    id_number: str | None = Field(examples=["11010519491231002X"])
    contact_points: list[RevealedContactPointOut]
