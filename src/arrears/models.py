"""Every table of every domain, imported once so the metadata is complete (Alembic, tests)."""

from arrears.customers.models import ContactPoint, Customer
from arrears.kit.db import Base
from arrears.ledger.models import Allocation, Charge, Payment
from arrears.loans.models import ImportRun, Installment, Loan, Product

metadata = Base.metadata

__all__ = [
    "Allocation",
    "Base",
    "Charge",
    "ContactPoint",
    "Customer",
    "ImportRun",
    "Installment",
    "Loan",
    "Payment",
    "Product",
    "metadata",
]
