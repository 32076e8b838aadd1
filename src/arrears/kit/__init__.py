"""Shared plumbing: settings, database, money, errors, pagination."""
