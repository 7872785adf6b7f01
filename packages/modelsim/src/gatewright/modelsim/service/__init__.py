"""The modelsim service (needs the `[service]` extra): `create_app(settings)` and its settings."""

from gatewright.modelsim.service.app import create_app
from gatewright.modelsim.service.config import ModelsimSettings

__all__ = ["ModelsimSettings", "create_app"]
