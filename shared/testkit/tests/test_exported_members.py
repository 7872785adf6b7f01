"""testkit's public API is what `__all__` says; a change to it is a deliberate, reviewed change."""

import gatewright.testkit as testkit


def test_all_is_pinned() -> None:
    assert sorted(testkit.__all__) == [
        "AuditTrail",
        "Cleanup",
        "CleanupFailed",
        "ConsistentlyFailed",
        "EventuallyFailed",
        "EventuallyTimeout",
        "Exchange",
        "ExchangeRecorder",
        "Flow",
        "HARNESS_PREFIX",
        "Harness",
        "LocalStack",
        "Names",
        "Outcome",
        "RequestIds",
        "SERVICES",
        "ServiceSpec",
        "StackError",
        "Step",
        "TIMEOUT_PROFILES",
        "Target",
        "TargetError",
        "consistently",
        "eventually",
        "is_transient",
        "profile_timeout",
        "redact_body",
        "redact_headers",
        "redact_json",
        "redact_text",
        "redact_url",
        "register_secret",
        "register_service",
        "require_stack",
        "run_prefix",
        "timeout_scale",
    ]
    for name in testkit.__all__:
        assert getattr(testkit, name) is not None
