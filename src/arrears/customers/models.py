"""Customer and contact-point tables.

ID numbers are stored encrypted (``EncryptedString``); each has a blind index beside it
for exact search, kept up to date whenever the ID number is set.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from arrears.auth.audit import register_audited
from arrears.auth.crypto import BLIND_INDEX_LENGTH, EncryptedString, blind_index
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
    # Chinese resident ID (individuals), encrypted at rest; searched by its blind index.
    id_number: Mapped[str | None] = mapped_column(EncryptedString(purpose="customers.id_number"))
    id_number_index: Mapped[str | None] = mapped_column(String(BLIND_INDEX_LENGTH), index=True)
    # Unified social credit code (businesses), likewise.
    registration_code: Mapped[str | None] = mapped_column(
        EncryptedString(purpose="customers.registration_code")
    )
    registration_code_index: Mapped[str | None] = mapped_column(
        String(BLIND_INDEX_LENGTH), index=True
    )
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

    @validates("id_number", "registration_code")
    def _keep_blind_index(self, key: str, value: str | None) -> str | None:
        setattr(self, f"{key}_index", identifier_index(value))
        return value


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


def identifier_index(value: str | None) -> str | None:
    """The blind index stored beside an ID number or credit code (None for none)."""
    return None if value is None else blind_index(value)


# Every edit of a customer or contact point is an audit entry. Encrypted columns show only
# that they changed; so do their blind indexes and contact values (personal data stays
# out of the trail).
register_audited(
    Customer, entity_type="customer", redact=("id_number_index", "registration_code_index")
)
register_audited(ContactPoint, entity_type="contact_point", redact=("value",))
