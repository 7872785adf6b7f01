"""The gitops service (needs the `[service]` extra): `create_app(settings)` and its settings."""

from gatewright.gitops.service.app import create_app
from gatewright.gitops.service.config import GitopsSettings

__all__ = ["GitopsSettings", "create_app"]
