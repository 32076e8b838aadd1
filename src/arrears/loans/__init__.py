"""Products, loans, repayment schedules and imports."""
