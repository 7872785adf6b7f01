"""Fixed example values shared by the consumer and provider contract tests.

Everything in the pact file is one of these (or a matcher's fixed example), so the file is
byte-for-byte the same on every run and CI can diff it against the committed copy.
"""

from typing import Final

ALICE_ID: Final = "usr_0a11ce"
ALICE_EMAIL: Final = "alice@example.test"
ALICE_PASSWORD: Final = "alice-password-1"
ALICE_TOKEN: Final = "pact-token-alice"

VICTOR_ID: Final = "usr_71c702"
VICTOR_EMAIL: Final = "victor@example.test"
VICTOR_TOKEN: Final = "pact-token-victor"

ORG_ID: Final = "org_c0ffee"
ORG_NAME: Final = "acme"
VIEWER_ORG_ID: Final = "org_dec1ded"

INVITATION_ID: Final = "inv_0b0b"
OTHERS_INVITATION_ID: Final = "inv_0e15e"  # addressed to someone else than the caller
INVITATION_TOKEN: Final = "gwi_pact-example-invitation-token-000000"
BOB_EMAIL: Final = "bob@example.test"
BOB_PASSWORD: Final = "bob-password-1"

KEY_ID: Final = "key_5ec2e7"
KEY_NAME: Final = "ci"
KEY_SECRET: Final = "gwk_pact-example-secret-00000000000000000000"
KEY_MODELS: Final = ("sim-echo",)

SERVICE_TOKEN: Final = "pact-service-token"

TIMESTAMP_EXAMPLE: Final = "2026-01-01T00:00:00Z"
TIMESTAMP_REGEX: Final = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
