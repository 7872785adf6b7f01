"""The budgets service (needs the `[service]` extra): `create_app(settings)` and its settings."""

from gatewright.budgets.service.app import create_app
from gatewright.budgets.service.config import BudgetsSettings

__all__ = ["BudgetsSettings", "create_app"]
