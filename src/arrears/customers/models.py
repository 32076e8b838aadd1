"""Customer and contact-point tables."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from arrears.kit.db import Audited, Base, BigId


class CustomerType(StrEnum):
    INDIVIDUAL = "individual"
    BUSINESS = "business"


class ContactKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"


class ContactRelation(StrEnum):
    SELF = "self"
    SPOUSE = "spouse"
    RELATIVE = "relative"
    EMPLOYER = "employer"
    REFERENCE = "reference"


class ContactStatus(StrEnum):
    VALID = "valid"
    WRONG_NUMBER = "wrong_number"
    OPTED_OUT = "opted_out"


class Customer(Audited, Base):
    """A borrower."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_ref: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    # Chinese resident ID (individuals) — encrypted at rest by the security issue.
    id_number: Mapped[str | None] = mapped_column(String(32), index=True)
    # Unified social credit code (businesses).
    registration_code: Mapped[str | None] = mapped_column(String(32), index=True)
    employer: Mapped[str | None] = mapped_column(String(200))
    # Monthly income in minor units of income_currency.
    income: Mapped[int | None] = mapped_column(BigInteger)
    income_currency: Mapped[str | None] = mapped_column(String(3))
    time_zone: Mapped[str] = mapped_column(String(64), nullable=False, default="Asia/Shanghai")
    language: Mapped[str] = mapped_column(String(16), nullable=False, default="zh-CN")
    city: Mapped[str | None] = mapped_column(String(100))
    province: Mapped[str | None] = mapped_column(String(100))

    contact_points: Mapped[list[ContactPoint]] = relationship(
        back_populates="customer", order_by="ContactPoint.id", cascade="all, delete-orphan"
    )


class ContactPoint(Audited, Base):
    """A phone, e-mail or address at which a customer (or someone for them) can be reached."""

    __tablename__ = "contact_points"
    __table_args__ = (Index("ix_contact_points_kind_value", "kind", "value"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    # E.164 for phones, lower-cased for e-mail, free text for addresses.
    value: Mapped[str] = mapped_column(String(500), nullable=False)
    relation: Mapped[str] = mapped_column(String(16), nullable=False, default="self")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="valid")
    # Name of the person at this contact point when it is not the customer.
    contact_name: Mapped[str | None] = mapped_column(String(200))
    is_primary: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    customer: Mapped[Customer] = relationship(back_populates="contact_points")
