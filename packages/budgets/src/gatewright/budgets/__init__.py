"""Gatewright budgets client: `Client` / `AsyncClient`, wire models, and pact names.

The service lives in `gatewright.budgets.service` and needs the `[service]` extra; nothing here
imports it, FastAPI or servicekit. A 402 from the service raises `gatewright.core.BudgetExceeded`.
"""

from gatewright.budgets._client import (
    AsyncBudgets,
    AsyncClient,
    AsyncReservations,
    AsyncSpendResource,
    Budgets,
    Client,
    Reservations,
    SpendResource,
)
from gatewright.budgets.contract import (
    CONSUMER,
    PROVIDER,
    STATE_BUDGET_NEARLY_SPENT,
    STATE_KEY_BUDGET_EXISTS,
    STATE_ORG_BUDGET_EXISTS,
    STATE_RESERVATION_HELD,
    STATE_SERVICE_TOKEN,
    STATE_USER_CAN_MANAGE_BUDGETS,
)
from gatewright.budgets.models import (
    DEFAULT_TTL_SECONDS,
    MAX_AMOUNT_MICRO_USD,
    MAX_LIMIT_MICRO_USD,
    MAX_TTL_SECONDS,
    PERIODS,
    RESERVATION_STATUSES,
    Budget,
    KeySpend,
    Period,
    Reservation,
    ReservationList,
    ReservationStatus,
    Spend,
)
from gatewright.core import BudgetExceeded

__all__ = [
    "CONSUMER",
    "DEFAULT_TTL_SECONDS",
    "MAX_AMOUNT_MICRO_USD",
    "MAX_LIMIT_MICRO_USD",
    "MAX_TTL_SECONDS",
    "PERIODS",
    "PROVIDER",
    "RESERVATION_STATUSES",
    "STATE_BUDGET_NEARLY_SPENT",
    "STATE_KEY_BUDGET_EXISTS",
    "STATE_ORG_BUDGET_EXISTS",
    "STATE_RESERVATION_HELD",
    "STATE_SERVICE_TOKEN",
    "STATE_USER_CAN_MANAGE_BUDGETS",
    "AsyncBudgets",
    "AsyncClient",
    "AsyncReservations",
    "AsyncSpendResource",
    "Budget",
    "BudgetExceeded",
    "Budgets",
    "Client",
    "KeySpend",
    "Period",
    "Reservation",
    "ReservationList",
    "ReservationStatus",
    "Reservations",
    "Spend",
    "SpendResource",
]
