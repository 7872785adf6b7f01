"""Fixed example values shared by the consumer and provider contract tests.

Everything in the pact file is one of these (or a matcher's fixed example), so the file is
byte-for-byte the same on every run and CI can diff it against the committed copy.
"""

from typing import Any, Final

ALICE_ID: Final = "usr_0a11ce"
ALICE_TOKEN: Final = "pact-token-alice"
ORG_ID: Final = "org_c0ffee"
SERVICE_TOKEN: Final = "pact-service-token"
REQUEST_ID: Final = "req_pact-example-0001"

TIMESTAMP_EXAMPLE: Final = "2026-01-01T00:00:00Z"
TIMESTAMP_REGEX: Final = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
HASH_EXAMPLE: Final = "ab" * 32
HASH_REGEX: Final = r"^[0-9a-f]{64}$"


def example_event(n: int, **overrides: Any) -> dict[str, Any]:
    """The n-th example EventIn, as JSON (the way the client sends it)."""
    body: dict[str, Any] = {
        "id": f"evt_pact{n:04d}",
        "time": f"2026-01-01T00:00:0{n}Z",
        "service": "identity",
        "org_id": ORG_ID,
        "actor": {"type": "user", "id": ALICE_ID},
        "action": "key.create",
        "target": {"type": "api_key", "id": f"key_pact{n:04d}"},
        "outcome": "success",
        "reason": "Created an API key.",
        "request_id": REQUEST_ID,
        "details": {"models": ["sim-echo"]},
    }
    return body | overrides
