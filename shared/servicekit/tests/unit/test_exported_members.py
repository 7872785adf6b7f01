"""servicekit's public API is what `__all__` says; changing it is a deliberate, reviewed change."""

import gatewright.servicekit as servicekit


def test_all_is_pinned() -> None:
    assert sorted(servicekit.__all__) == [
        "DEPENDENCY_RESPONSES",
        "Database",
        "ERROR_RESPONSES",
        "ServiceError",
        "ServiceSettings",
        "create_service_app",
        "current_request_id",
        "outbound_request_id",
    ]
    for name in servicekit.__all__:
        assert getattr(servicekit, name) is not None
