"""Payments, charges, their allocation to installments, and reversals."""
