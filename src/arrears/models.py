"""Every table of every domain, imported once so the metadata is complete (Alembic, tests)."""

from arrears.auth.models import ApprovalRequest, AuditEntry, AuthSession, User
from arrears.customers.models import ContactPoint, Customer
from arrears.delinquency.models import (
    BucketHistory,
    BusinessDay,
    Cure,
    EodRun,
    Hold,
    LoanSnapshot,
    LoanState,
    OutboxEvent,
)
from arrears.kit.db import Base
from arrears.ledger.models import Allocation, Charge, Payment
from arrears.loans.models import ImportRun, Installment, Loan, Product

metadata = Base.metadata

__all__ = [
    "Allocation",
    "ApprovalRequest",
    "AuditEntry",
    "AuthSession",
    "Base",
    "BucketHistory",
    "BusinessDay",
    "Charge",
    "ContactPoint",
    "Cure",
    "Customer",
    "EodRun",
    "Hold",
    "ImportRun",
    "Installment",
    "Loan",
    "LoanSnapshot",
    "LoanState",
    "OutboxEvent",
    "Payment",
    "Product",
    "User",
    "metadata",
]
