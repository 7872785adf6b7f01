"""Gatewright gateway client: `Client` / `AsyncClient`, wire models, and pact names.

The service lives in `gatewright.gateway.service` and needs the `[service]` extra; nothing here
imports it, FastAPI or servicekit.
"""

from gatewright.gateway.contract import (
    CONSUMER,
    PROVIDER,
    STATE_API_KEY,
    STATE_BUDGET_EXHAUSTED,
    STATE_NO_ROUTE,
    STATE_ROUTE_EXISTS,
    STATE_SERVICE_TOKEN,
)

__all__ = [
    "CONSUMER",
    "PROVIDER",
    "STATE_API_KEY",
    "STATE_BUDGET_EXHAUSTED",
    "STATE_NO_ROUTE",
    "STATE_ROUTE_EXISTS",
    "STATE_SERVICE_TOKEN",
]
