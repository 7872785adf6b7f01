"""Fixed example values shared by the consumer and provider contract tests.

Everything in the pact file is one of these (or a matcher's fixed example), so the file is
byte-for-byte the same on every run and CI can diff it against the committed copy.
"""

from typing import Final

ALICE_ID: Final = "usr_0a11ce"
ALICE_TOKEN: Final = "pact-token-alice"
ORG_ID: Final = "org_c0ffee"
UNBUDGETED_ORG_ID: Final = "org_0e0e0e"
KEY_ID: Final = "key_5ec2e7"
SERVICE_TOKEN: Final = "pact-service-token"

RESERVATION_ID: Final = "res_0000000000000000000000aa"
REQUEST_ID: Final = "req_pact-example-0001"
NEW_REQUEST_ID: Final = "req_pact-example-0002"

LIMIT: Final = 5_000_000
SPENT: Final = 1_250_000
HELD: Final = 20_000

TIMESTAMP_EXAMPLE: Final = "2026-01-01T00:00:00Z"
TIMESTAMP_REGEX: Final = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
