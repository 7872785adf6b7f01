"""Fixtures for the in-process identity service (helpers live in `identity_fixtures`)."""

from identity_fixtures import app, client, world

__all__ = ["app", "client", "world"]
