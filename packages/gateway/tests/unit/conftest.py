"""Fixtures for the in-process gateway (helpers live in `gateway_fixtures`)."""

from gateway_fixtures import stack, world

__all__ = ["stack", "world"]
