"""Borrowers (individuals and businesses) and their contact points."""
