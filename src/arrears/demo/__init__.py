"""The demo portfolio: a deterministic, realistic loan book written as import files."""

from arrears.demo.generate import (
    DemoCustomer,
    DemoLoan,
    Persona,
    iter_portfolio,
    load_demo_product_terms,
    load_demo_products,
    write_portfolio,
)

__all__ = [
    "DemoCustomer",
    "DemoLoan",
    "Persona",
    "iter_portfolio",
    "load_demo_product_terms",
    "load_demo_products",
    "write_portfolio",
]
