"""Fixtures for the in-process budgets service (helpers live in `budgets_fixtures`)."""

from budgets_fixtures import app, client, clock, database_url, identity, world

__all__ = ["app", "client", "clock", "database_url", "identity", "world"]
