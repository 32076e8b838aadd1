"""arrears: loan delinquency and collections for lenders."""

__version__ = "0.1.0"
