"""The consumer side of a pact: interactions registered next to their tests, served, written once.

Every consumer test module of the monorepo follows one pattern:

    interaction = Interactions(CONSUMER, PROVIDER)

    @interaction
    def _login(pact: Pact) -> None:
        pact.upon_receiving("a login").with_request("POST", "/v1/auth/login")...

    @pytest.fixture(scope="module")
    def mock_url() -> Iterator[str]:
        with interaction.serve() as url:
            yield url

Pact's mock server cannot take new interactions once it has served, so `serve()` builds them all
first, serves them once for the module (`raises=True`: an interaction never requested, or a
mismatched request, fails at teardown), then writes `<pact dir>/<consumer>-<provider>.json`
exactly once (one writer per pact file). The pact dir is `pactverify.default_pact_dir()`, the one
the provider side reads: `$GATEWRIGHT_PACT_DIR`, else the nearest `contracts/` above the cwd.

The matchers every module shares are here too: `bearer`, `timestamp`, `error_body`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pact import Pact, match

from gatewright.testkit.pactverify import default_pact_dir

Builder = Callable[[Pact], None]

TIMESTAMP_EXAMPLE = "2026-01-01T00:00:00Z"
TIMESTAMP_REGEX = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"


class Interactions:
    """The interactions of one pact file; use an instance as the decorator of each builder."""

    def __init__(self, consumer: str, provider: str) -> None:
        self.consumer = consumer
        self.provider = provider
        self.builders: list[Builder] = []

    def __call__(self, build: Builder) -> Builder:
        self.builders.append(build)
        return build

    @contextmanager
    def serve(self, pact_dir: Path | None = None) -> Iterator[str]:
        """Serve every registered interaction; yields the mock server's URL, then writes."""
        pact = Pact(self.consumer, self.provider).with_specification("V4")
        for build in self.builders:
            build(pact)
        with pact.serve(raises=True) as server:
            yield str(server.url)
        pact.write_file(pact_dir or default_pact_dir(), overwrite=True)


def bearer(token: str) -> Any:
    """`Authorization: Bearer <token>` with any token (the provider makes the example valid)."""
    return match.regex(f"Bearer {token}", regex=r"^Bearer \S+$")


def timestamp() -> Any:
    """An RFC 3339 timestamp (the example is fixed, so pact files are deterministic)."""
    return match.regex(TIMESTAMP_EXAMPLE, regex=TIMESTAMP_REGEX)


def error_body(kind: Any, code: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one error envelope: `kind` is the `type` (a value or a matcher), `code` exact."""
    body: dict[str, Any] = {
        "type": kind,
        "code": code,
        "message": match.str("A sentence for a person."),
        "request_id": match.str("req_0123456789abcdef"),
    }
    if details is not None:
        body["details"] = details
    return {"error": body}
