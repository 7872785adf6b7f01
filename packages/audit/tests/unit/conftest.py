"""Fixtures for the in-process audit service (helpers live in `audit_fixtures`)."""

from audit_fixtures import app, client, clock, database_url, identity, world

__all__ = ["app", "client", "clock", "database_url", "identity", "world"]
