"""Fixed example values shared by the gateway-client consumer and the gateway provider tests.

Everything in the pact file is one of these (or a matcher's fixed example), so the file is
byte-for-byte the same on every run and CI can diff it against the committed copy.
"""

from typing import Final

ORG_ID: Final = "org_c0ffee"
KEY_ID: Final = "key_5ec2e7"
KEY_SECRET: Final = "gwk_pact-example-secret-00000000000000000000"
LIMITED_KEY_ID: Final = "key_11m173d"
LIMITED_KEY_SECRET: Final = "gwk_pact-example-limited-0000000000000000000"
SERVICE_TOKEN: Final = "pact-service-token"

ALIAS: Final = "pact-echo"
NEW_ALIAS: Final = "pact-new"
MISSING_ALIAS: Final = "no-such-model"
BACKEND_URL: Final = "http://backend.pact.test"
BACKEND_MODEL: Final = "sim-echo"
INPUT_PRICE: Final = 1_000_000  # micro-USD per million tokens: 1 micro-USD a token
OUTPUT_PRICE: Final = 2_000_000

MAX_OUTPUT_TOKENS: Final = 8192  # a route's largest max_tokens (not the 4096 default)
MAX_TOKENS: Final = 3
PROMPT_TOKENS: Final = 10  # 4 words + 4 per message + 2 per request

TIMESTAMP_EXAMPLE: Final = "2026-01-01T00:00:00Z"
TIMESTAMP_REGEX: Final = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
