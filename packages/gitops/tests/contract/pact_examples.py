"""Fixed example values shared by the consumer and provider contract tests.

Everything in the pact file is one of these (or a matcher's fixed example), so the file is
byte-for-byte the same on every run and CI can diff it against the committed copy.
"""

from typing import Final

SERVICE_TOKEN: Final = "pact-service-token"
APP_NAME: Final = "platform"
MISSING_APP: Final = "no-such-app"
REPO_URL: Final = "/srv/config.git"
BRANCH: Final = "main"
PATH: Final = "orgs"
REVISION: Final = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
REFRESH_TOKEN: Final = "rfr_0000000001_0a0b0c0d"
ORG_NAME: Final = "acme"
ORG_ID: Final = "org_c0ffee"
PR_BRANCH: Final = "pr-7"
MISSING_BRANCH: Final = "no-such-branch"
OWNER: Final = "admin@gatewright.test"
WEBHOOK_SECRET: Final = "pact-webhook-secret"
