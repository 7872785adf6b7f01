"""The gateway service (needs the `[service]` extra): `create_app(settings)` and its settings."""

from gatewright.gateway.service.app import create_app
from gatewright.gateway.service.config import GatewaySettings

__all__ = ["GatewaySettings", "create_app"]
