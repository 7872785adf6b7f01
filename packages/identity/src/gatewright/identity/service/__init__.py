"""The identity service (needs the `[service]` extra): `create_app(settings)` and its settings."""

from gatewright.identity.service.app import create_app
from gatewright.identity.service.config import IdentitySettings

__all__ = ["IdentitySettings", "create_app"]
