"""Pact participant names and provider-state names, shared by the consumer and provider tests.

Both test files import these, so a renamed state or participant breaks both sides at once
instead of silently verifying nothing.
"""

from typing import Final

CONSUMER: Final = "identity-client"
PROVIDER: Final = "identity"

# Provider states. Each takes parameters (fixed ids, emails, example tokens) named in the pact.
STATE_USER_EXISTS: Final = "a user exists"
"""params: user_id, email, password, token (an access token the provider will accept)."""
STATE_ORG_EXISTS: Final = "an org exists"
"""params: org_id, name, user_id, email, role, token — the user is a member with that role."""
STATE_INVITATION_EXISTS: Final = "an invitation exists"
"""params: org_id, invitation_id, email, role, invitation_token."""
STATE_ACCOUNT_INVITED: Final = "an account has a pending invitation"
"""params: user_id, email, token (the account and its access token); org_id, invitation_id,
invitation_email, role (a pending invitation, addressed to `invitation_email`, which may be
someone else's)."""
STATE_API_KEY_EXISTS: Final = "an api key exists"
"""params: org_id, key_id, name, secret, models, user_id, email, role, token."""
STATE_SERVICE_TOKEN: Final = "the caller holds the service token"  # noqa: S105 - a name
"""params: service_token — the shared secret service-only endpoints accept."""

ALL_STATES: Final = (
    STATE_USER_EXISTS,
    STATE_ORG_EXISTS,
    STATE_INVITATION_EXISTS,
    STATE_ACCOUNT_INVITED,
    STATE_API_KEY_EXISTS,
    STATE_SERVICE_TOKEN,
)
