"""One valid request for every operation that takes a body, in this world (`templates`).

The hostile-input properties start from these and spoil one part at a time, so the spoiled
value travels as far into the service as a good one would: past authentication (each template
carries the credential its operation needs), past the lookups (the world's real IDs) and, for
completions, on to the backend. `test_every_body_operation_has_a_template` compares the list
with the live OpenAPI, so a new operation with a body cannot be left out.

Writes stay out of the world's way and out of Schemathesis' (which is handed the world's main
IDs only): completions use the side org's key, budgets and reservations the side org, audit
events a chain of their own, route writes use the scratch alias, gitops' writes and previews
the side Application (new Applications are made on the world's repository, with its long poll
interval), and no template revokes or deletes what the world needs.

gitops' webhook is authenticated by GitHub's signature over the raw bytes, not by a bearer
token: its template's `headers` sign each body as it is sent (with the target's webhook secret),
so a spoiled payload reaches the code that reads it. Without a secret (a target that has none)
it is sent unsigned and answered 401.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gatewright.budgets.models import MAX_TTL_SECONDS
from gatewright.gitops._hooks import (
    GITHUB_EVENT_HEADER,
    GITHUB_SIGNATURE_HEADER,
    github_push_payload,
    sign_github,
)

from .world import (
    ECHO_MODEL,
    POLL_INTERVAL_SECONDS,
    SIDE_BRANCH,
    Credential,
    World,
    credential_for,
)

_counter = itertools.count(1)


def fresh(prefix: str) -> str:
    """A new unique token (idempotency keys, event IDs), so a template is never a replay."""
    return f"{prefix}{next(_counter):06d}"


@dataclass(frozen=True)
class Template:
    service: str
    operation_id: str
    method: str
    path: str
    body: Callable[[], Any]
    # What the template itself is answered with (a wrong password, an unknown invitation, a
    # reservation already committed are the points of those templates).
    expected: tuple[int, ...] = (200, 201, 204)
    # Headers that depend on the exact bytes sent (a webhook's signature), given those bytes.
    headers: Callable[[bytes], dict[str, str]] | None = None

    def headers_for(self, content: bytes | None) -> dict[str, str]:
        """This template's own headers for `content` (None: a body streamed in chunks)."""
        if self.headers is None:
            return {}
        return self.headers(b"" if content is None else content)

    @property
    def credential(self) -> Credential:
        return credential_for(self.service, self.operation_id)


def _event(org_id: str) -> dict[str, Any]:
    return {
        "id": fresh("evt_fuzzhostile"),
        "time": datetime.now(UTC).isoformat(),
        "service": "fuzz",
        "org_id": org_id,
        "actor": {"type": "service", "id": "fuzz"},
        "action": "fuzz.probe",
        "target": {"type": "probe", "id": "p1"},
        "outcome": "success",
        "reason": "a probe",
        "request_id": "",
        "details": {"note": "hostile-input probe", "n": 1},
    }


def _route(world: World) -> dict[str, Any]:
    return {
        "backends": [{"url": world.url("modelsim"), "model": ECHO_MODEL, "timeout_seconds": 5.0}],
        "input_micro_usd_per_mtok": 1,
        "output_micro_usd_per_mtok": 1,
    }


def _chat(model: str) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hello there"}]},
        ],
        "max_tokens": 3,
        "temperature": 0.5,
    }


def _application(world: World) -> dict[str, Any]:
    return {
        "name": fresh(f"{world.app_name}-"),
        "repo_url": world.repo_url,
        "branch": "main",
        "path": ".",
        "sync_policy": {"automated": True, "self_heal": False, "prune": False},
        "poll_interval_seconds": POLL_INTERVAL_SECONDS,
        "drift_check_interval_seconds": POLL_INTERVAL_SECONDS,
    }


def _github_push(world: World) -> dict[str, Any]:
    return github_push_payload(world.repo_url, branch=SIDE_BRANCH, sha=world.repo.head)


def _signed(world: World) -> Callable[[bytes], dict[str, str]]:
    def headers(content: bytes) -> dict[str, str]:
        signed = {GITHUB_EVENT_HEADER: "push"}
        if world.webhook_secret is not None:
            signed[GITHUB_SIGNATURE_HEADER] = sign_github(world.webhook_secret, content)
        return signed

    return headers


def templates(world: World) -> list[Template]:
    org, user = world.org_id, world.admin_user_id
    side, side_key = world.side_org_id, world.side_key_id
    scratch = world.scratch_alias
    email = world.target.admin_email or "admin@example.test"
    rows: list[tuple[Any, ...]] = [
        # identity
        (
            "identity",
            "login",
            "POST",
            "/v1/auth/login",
            lambda: {"email": email, "password": "not the password"},
            (401,),
        ),
        ("identity", "create_org", "POST", "/v1/orgs", lambda: {"name": fresh("fuzz-hostile-")}),
        (
            "identity",
            "update_member",
            "PATCH",
            f"/v1/orgs/{org}/members/{user}",
            lambda: {"role": "owner"},
        ),
        (
            "identity",
            "create_invitation",
            "POST",
            f"/v1/orgs/{org}/invitations",
            lambda: {"email": f"{fresh('h')}@fuzz.gatewright.test", "role": "viewer"},
        ),
        (
            "identity",
            "accept_invitation",
            "POST",
            "/v1/invitations/accept",
            lambda: {"token": "gwi_unknown", "password": "long enough", "name": "H"},
            (404,),
        ),
        (
            "identity",
            "create_key",
            "POST",
            f"/v1/orgs/{org}/keys",
            lambda: {
                "name": fresh("hostile-"),
                "models": [world.alias],
                "rate_limit_rpm": 60,
                "expires_at": "2099-01-01T00:00:00+02:00",
            },
        ),
        ("identity", "verify_key", "POST", "/v1/keys/verify", lambda: {"secret": world.key_secret}),
        (
            "identity",
            "register_revocation_hook",
            "POST",
            "/v1/keys/revocation-hooks",
            lambda: {"url": f"{world.url('gateway')}/v1/internal/revoked-keys"},
        ),
        (
            "identity",
            "check_permission",
            "POST",
            "/v1/authz/check",
            lambda: {"subject": user, "org_id": org, "permission": "org:read"},
        ),
        # budgets
        (
            "budgets",
            "set_org_budget",
            "PUT",
            f"/v1/orgs/{side}/budget",
            lambda: {"limit_micro_usd": 10**9, "period": "monthly"},
        ),
        (
            "budgets",
            "set_key_budget",
            "PUT",
            f"/v1/orgs/{side}/keys/{side_key}/budget",
            lambda: {"limit_micro_usd": 10**9, "period": "daily"},
        ),
        (
            "budgets",
            "create_reservation",
            "POST",
            "/v1/reservations",
            lambda: {
                "org_id": side,
                "key_id": side_key,
                "amount_micro_usd": 1,
                "request_id": fresh("hostile-"),
                "idempotency_key": fresh("idk-hostile-"),
                "ttl_seconds": MAX_TTL_SECONDS,  # never expires while the test compares state
            },
        ),
        (
            "budgets",
            "commit_reservation",
            "POST",
            f"/v1/reservations/{world.side_reservation_id}/commit",
            lambda: {"actual_micro_usd": 1},
            (200, 409),  # the side reservation: committed once, then a conflict
        ),
        # gateway
        (
            "gateway",
            "create_chat_completion",
            "POST",
            "/v1/chat/completions",
            lambda: _chat(world.alias),
        ),
        (
            "gateway",
            "put_org_route",
            "PUT",
            f"/v1/orgs/{org}/routes/{scratch}",
            lambda: _route(world),
        ),
        ("gateway", "put_global_route", "PUT", f"/v1/routes/{scratch}", lambda: _route(world)),
        (
            "gateway",
            "revoked_keys",
            "POST",
            "/v1/internal/revoked-keys",
            lambda: {"key_ids": ["key_fuzz_not_a_key"], "org_id": org},
        ),
        # audit
        ("audit", "ingest_event", "POST", "/v1/events", lambda: _event(world.audit_chain)),
        (
            "audit",
            "ingest_events",
            "POST",
            "/v1/events/batch",
            lambda: {"events": [_event(world.audit_chain)]},
        ),
        # modelsim
        (
            "modelsim",
            "create_chat_completion",
            "POST",
            "/v1/chat/completions",
            lambda: _chat(ECHO_MODEL),
        ),
    ]
    side_app = f"/v1/applications/{world.side_app_name}"
    gitops = [
        Template(
            "gitops", "create_application", "POST", "/v1/applications", lambda: _application(world)
        ),
        Template(
            "gitops",
            "update_application",
            "PATCH",
            side_app,
            lambda: (
                {k: v for k, v in _application(world).items() if k != "name"}
                | {"branch": SIDE_BRANCH}
            ),
        ),
        Template(
            "gitops", "diff_application", "POST", f"{side_app}/diff", lambda: {"revision": "main"}
        ),
        Template(
            "gitops",
            "git_webhook",
            "POST",
            "/v1/hooks/git",
            lambda: _github_push(world),
            (202,) if world.webhook_secret is not None else (401,),
            _signed(world),
        ),
    ]
    return [*(Template(*row) for row in rows), *gitops]


def for_service(world: World, service: str) -> list[Template]:
    return [t for t in templates(world) if t.service == service]
