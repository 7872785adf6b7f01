"""Pact participant names and provider-state names, shared by the consumer and provider tests.

Both test files import these, so a renamed state or participant breaks both sides at once
instead of silently verifying nothing.
"""

from typing import Final

CONSUMER: Final = "budgets-client"
PROVIDER: Final = "budgets"

# Provider states. Each takes parameters (fixed ids, example tokens, figures) named in the pact.
STATE_USER_CAN_MANAGE_BUDGETS: Final = "a user may manage the org's budgets"
"""params: org_id, user_id, token — the user's token is accepted and authz allows budgets:*."""
STATE_ORG_BUDGET_EXISTS: Final = "an org budget exists"
"""params: org_id, user_id, token, limit_micro_usd, period, spent_micro_usd."""
STATE_KEY_BUDGET_EXISTS: Final = "a key budget exists"
"""params: org_id, key_id, user_id, token, limit_micro_usd, period, spent_micro_usd."""
STATE_SERVICE_TOKEN: Final = "the caller holds the service token"  # noqa: S105 - a name
"""params: service_token — the shared secret service-only endpoints accept."""
STATE_RESERVATION_HELD: Final = "a reservation is held"
"""params: service_token, reservation_id, org_id, key_id, amount_micro_usd, request_id."""
STATE_BUDGET_NEARLY_SPENT: Final = "an org budget is nearly spent"
"""params: service_token, org_id, limit_micro_usd, spent_micro_usd, period."""

ALL_STATES: Final = (
    STATE_USER_CAN_MANAGE_BUDGETS,
    STATE_ORG_BUDGET_EXISTS,
    STATE_KEY_BUDGET_EXISTS,
    STATE_SERVICE_TOKEN,
    STATE_RESERVATION_HELD,
    STATE_BUDGET_NEARLY_SPENT,
)
