"""Client defaults in one place. Timeouts are in seconds and short: a harness fails fast."""

from typing import Final

REQUEST_ID_HEADER: Final = "X-Request-ID"
IDEMPOTENCY_KEY_HEADER: Final = "Idempotency-Key"
TRACEPARENT_HEADER: Final = "traceparent"

DEFAULT_TIMEOUT: Final = 10.0
DEFAULT_CONNECT_TIMEOUT: Final = 2.0
DEFAULT_MAX_RETRIES: Final = 2
INITIAL_RETRY_DELAY: Final = 0.1
MAX_RETRY_DELAY: Final = 4.0
# A server may ask for a longer pause than a client should sit through; past this cap the client
# gives up waiting on Retry-After and raises, so a caller never hangs for minutes.
MAX_RETRY_AFTER: Final = 30.0

# Statuses worth another attempt. 402 budget_exceeded is deliberately absent: retrying a denial
# would only repeat it (and, worse, could slip through after a concurrent release). 409 is absent
# too: Gatewright's conflicts (a used invitation, a duplicate name) are answers, never transient.
RETRYABLE_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})
