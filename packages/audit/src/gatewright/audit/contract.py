"""Pact participant names and provider-state names, shared by the consumer and provider tests.

Both test files import these, so a renamed state or participant breaks both sides at once
instead of silently verifying nothing.
"""

from typing import Final

CONSUMER: Final = "audit-client"
PROVIDER: Final = "audit"

# Provider states. Each takes parameters (fixed ids, example tokens) named in the pact.
STATE_SERVICE_TOKEN: Final = "the caller holds the service token"  # noqa: S105 - a name
"""params: service_token — the shared secret service-only endpoints accept."""
STATE_EVENT_STORED: Final = "an event is stored"
"""params: service_token, event (the EventIn fields) — the event is seq 1 of its chain."""
STATE_USER_CAN_READ_AUDIT: Final = "a user may read the org's audit log"
"""params: org_id, user_id, token, events (EventIn field dicts, stored in order)."""

ALL_STATES: Final = (
    STATE_SERVICE_TOKEN,
    STATE_EVENT_STORED,
    STATE_USER_CAN_READ_AUDIT,
)
