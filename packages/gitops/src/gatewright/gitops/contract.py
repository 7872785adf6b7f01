"""Pact participant names and provider-state names, shared by the consumer and provider tests.

Both test files import these, so a renamed state or participant breaks both sides at once
instead of silently verifying nothing.
"""

from typing import Final

CONSUMER: Final = "gitops-client"
PROVIDER: Final = "gitops"

# Provider states. Each takes parameters (fixed names, the service token) named in the pact.
STATE_SERVICE_TOKEN: Final = "the caller holds the service token"  # noqa: S105 - a name
"""params: service_token — no Application exists yet."""
STATE_APPLICATION_EXISTS: Final = "an application exists"
"""params: service_token, name, repo_url, branch, path — reconciled once at `revision`."""

STATE_PREVIEW_BRANCH: Final = "an application whose repository has a pull-request branch"
"""params: service_token, name, path, branch, org_name, owner — the Application follows `main`
(nothing applied yet); `branch` adds one Org manifest (`org_name`, owned by `owner`)."""
STATE_WEBHOOK_SECRET: Final = "the webhook secret is configured"  # noqa: S105 - a name
"""params: webhook_secret — the provider checks deliveries with it (it seeds nothing)."""

ALL_STATES: Final = (
    STATE_SERVICE_TOKEN,
    STATE_APPLICATION_EXISTS,
    STATE_PREVIEW_BRANCH,
    STATE_WEBHOOK_SECRET,
)
