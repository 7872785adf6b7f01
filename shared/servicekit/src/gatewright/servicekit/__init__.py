"""Service plumbing shared by every Gatewright service. Never imported by client code."""

from gatewright.servicekit.app import create_service_app
from gatewright.servicekit.correlation import current_request_id, outbound_request_id
from gatewright.servicekit.db import Database
from gatewright.servicekit.errors import DEPENDENCY_RESPONSES, ERROR_RESPONSES, ServiceError
from gatewright.servicekit.settings import ServiceSettings

__all__ = [
    "DEPENDENCY_RESPONSES",
    "ERROR_RESPONSES",
    "Database",
    "ServiceError",
    "ServiceSettings",
    "create_service_app",
    "current_request_id",
    "outbound_request_id",
]
