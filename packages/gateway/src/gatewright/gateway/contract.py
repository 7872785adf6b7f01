"""Pact participant names and provider-state names, shared by the consumer and provider tests.

Both sides import these, so a renamed state breaks both at once instead of silently verifying
nothing. The gateway is also a consumer, of any OpenAI-compatible backend: its pact with modelsim
(`PROVIDER` as the consumer name) uses modelsim's own state names, copied here so the gateway does
not need modelsim installed to run; a unit test checks they equal `gatewright.modelsim.STATE_*`.
"""

from typing import Final

CONSUMER: Final = "gateway-client"
PROVIDER: Final = "gateway"

# gateway-client -> gateway states.
STATE_API_KEY: Final = "an api key exists"
"""params: secret, key_id, org_id, models (list or null), rate_limit_rpm (int or null)."""
STATE_ROUTE_EXISTS: Final = "a route exists"
"""params: alias, org_id (or null for a global route), backend_url, backend_model, input_price,
output_price, and optionally max_output_tokens (default the gateway's) — the route's single
backend answers completions like modelsim's `sim-echo`."""
STATE_NO_ROUTE: Final = "no route exists"
"""params: alias, org_id (null for global) — that route does not exist."""
STATE_BUDGET_EXHAUSTED: Final = "the org's budget is exhausted"
"""params: org_id — budgets answers every reservation for that org with 402."""
STATE_SERVICE_TOKEN: Final = "the caller holds the service token"  # noqa: S105 - a name
"""params: service_token — the shared secret the route admin API accepts."""
STATE_ORG_EXISTS: Final = "identity knows the org"
"""params: org_id — identity answers that org (a route is kept only for an org it knows)."""

# gateway -> any OpenAI-compatible backend (modelsim verifies it; its names, see above).
BACKEND_PROVIDER: Final = "modelsim"
STATE_BACKEND_MODEL_EXISTS: Final = "a backend model exists"
"""params: model — a model that answers normally (modelsim: `sim-echo`)."""
STATE_BACKEND_MODEL_FAILS_503: Final = "the backend model fails with 503"
"""params: model — a model that answers 503 (modelsim: `sim-fail-503`)."""

ALL_STATES: Final = (
    STATE_API_KEY,
    STATE_ROUTE_EXISTS,
    STATE_NO_ROUTE,
    STATE_BUDGET_EXHAUSTED,
    STATE_SERVICE_TOKEN,
    STATE_ORG_EXISTS,
)
