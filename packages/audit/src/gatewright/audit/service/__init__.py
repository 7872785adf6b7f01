"""The audit service (needs the `[service]` extra): `create_app(settings)` and its settings."""

from gatewright.audit.service.app import create_app
from gatewright.audit.service.config import AuditSettings

__all__ = ["AuditSettings", "create_app"]
