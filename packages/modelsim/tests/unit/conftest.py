"""Fixtures for the in-process modelsim service (helpers live in `modelsim_fixtures`)."""

from modelsim_fixtures import aclient, app, client

__all__ = ["aclient", "app", "client"]
