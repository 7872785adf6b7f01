"""The fuzz world: the credentials and the few real resources fuzzing needs, made once per run.

Fuzzed path parameters are random strings, so on their own they only ever reach "not found".
`provision` creates one org owned by the bootstrap admin (logged in through identity), an API key
of that org, an org route over modelsim and a held reservation, plus a side org and key for the
hostile-input writes; the hooks offer their IDs to the
generator half of the time, so fuzzing reaches the code behind the lookups too.

For gitops it makes a git repository of its own (`GitRepo`, under a temporary directory: one
commit, a README and no manifest, so an Application on it applies nothing) and two Applications
on it, one whose name is offered to Schemathesis and a side one for the hostile-input writes
(on a branch of its own, `SIDE_BRANCH`).
gitops fetches whatever `repo_url` an Application names, so every `repo_url` a fuzzed or hostile
request sends is rewritten to this repository (`hooks.loopback_only`): no fuzzed request makes a
service contact a non-loopback address, git included. `World.remove` deletes every Application
on that repository (the world's and whatever the stage created) and the repository itself.

Credentials come the way e2e gets them: the admin's access token from `POST /v1/auth/login`
with the target's bootstrap admin, the target's service token, and an API key issued through
identity. `credential_for` says which one each operation needs (its operation ID decides).
"""

from __future__ import annotations

import contextlib
import enum
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gatewright.budgets import Client as BudgetsClient
from gatewright.budgets.models import MAX_TTL_SECONDS
from gatewright.core import Conflict, NotFound
from gatewright.gateway import Client as GatewayClient
from gatewright.gitops import Client as GitopsClient
from gatewright.identity import Client as IdentityClient
from gatewright.testkit import Target, register_secret
from gatewright.testkit.gitrepo import GitRepo

SERVICES = ("audit", "identity", "budgets", "modelsim", "gateway", "gitops")
ECHO_MODEL = "sim-echo"
# The poll interval of every Application the stage makes (`hooks.loopback_only` raises shorter
# ones to it): no fuzzed Application makes gitops poll hard while the stage runs.
POLL_INTERVAL_SECONDS = 3600
# The branch the side Application follows and the webhook template pushes: a push refreshes it
# alone, not every Application fuzzing created (those follow `main`, the default).
SIDE_BRANCH = "fuzz-side"


class Credential(enum.Enum):
    """What an operation's `Authorization: Bearer ...` carries."""

    NONE = "none"
    ADMIN = "admin access token"
    SERVICE = "service token"
    API_KEY = "API key"


# The operations that take something other than the service's default credential.
SERVICE_ONLY = frozenset(
    {
        ("identity", "verify_key"),
        ("identity", "register_revocation_hook"),
        ("budgets", "create_reservation"),
        ("budgets", "commit_reservation"),
        ("budgets", "release_reservation"),
        ("audit", "ingest_event"),
        ("audit", "ingest_events"),
        ("audit", "events_by_request_id"),
        ("gateway", "put_global_route"),
        ("gateway", "get_global_route"),
        ("gateway", "delete_global_route"),
        ("gateway", "revoked_keys"),
    }
)
API_KEY_ONLY = frozenset({("gateway", "create_chat_completion"), ("gateway", "list_models")})
# Operations that take no bearer token (health, login, accepting an invitation, the signing
# keys; gitops' webhook, whose authentication is the host's signature or token).
PUBLIC_OPERATIONS = frozenset(
    {"healthz", "readyz", "login", "accept_invitation", "get_jwks", "git_webhook"}
)
# Every other operation of these services takes the admin's access token; modelsim takes none.
DEFAULT_CREDENTIAL = {
    "identity": Credential.ADMIN,
    "budgets": Credential.ADMIN,
    "audit": Credential.ADMIN,
    "gateway": Credential.ADMIN,
    "gitops": Credential.ADMIN,
    "modelsim": Credential.NONE,
}


def credential_for(service: str, operation_id: str) -> Credential:
    if operation_id in PUBLIC_OPERATIONS:
        return Credential.NONE
    if (service, operation_id) in SERVICE_ONLY:
        return Credential.SERVICE
    if (service, operation_id) in API_KEY_ONLY:
        return Credential.API_KEY
    return DEFAULT_CREDENTIAL[service]


@dataclass(frozen=True)
class World:
    """The run's credentials and resources (secrets stay in memory, registered for redaction)."""

    target: Target
    admin_token: str = field(repr=False)
    admin_user_id: str
    service_token: str = field(repr=False)
    org_id: str
    key_id: str
    key_secret: str = field(repr=False)
    alias: str  # an org route over modelsim `sim-echo`; completions use it
    scratch_alias: str  # the alias route writes may overwrite (never `alias`)
    reservation_id: str
    # The hostile-input properties' own org, key (with a route `alias` of its own) and held
    # reservation, out of Schemathesis' reach (it is handed only the IDs above).
    side_org_id: str
    side_key_id: str
    side_key_secret: str = field(repr=False)
    side_reservation_id: str
    # An audit chain no service writes to (audit takes any org ID), for the ingest templates.
    audit_chain: str
    # gitops: the run's git repository (the only `repo_url` any request sends), the Application
    # Schemathesis may look up, the side one the hostile templates change, and the secret the
    # webhook template signs with (None: the target has none, the template is answered 401).
    repo: GitRepo = field(repr=False)
    repo_dir: Path
    app_name: str
    side_app_name: str
    webhook_secret: str | None = field(repr=False)

    @property
    def repo_url(self) -> str:
        return self.repo.url

    def token(self, credential: Credential, *, side: bool = False) -> str | None:
        """The bearer token for `credential` (`side`: the API key of the side org)."""
        return {
            Credential.NONE: None,
            Credential.ADMIN: self.admin_token,
            Credential.SERVICE: self.service_token,
            Credential.API_KEY: self.side_key_secret if side else self.key_secret,
        }[credential]

    def headers(self, service: str, operation_id: str, request_id: str) -> dict[str, str]:
        headers = {"X-Request-ID": request_id}
        token = self.token(credential_for(service, operation_id))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def url(self, service: str) -> str:
        return self.target.url(service)

    def remove(self) -> None:
        """Delete what `provision` made (and the routes and budgets the tests wrote on it);
        deleting the orgs revokes their keys. Every Application on the world's repository goes
        too, those the stage created included (each `repo_url` sent was rewritten to it)."""
        with GatewayClient(self.url("gateway"), token=self.service_token) as gateway:
            for alias, org_id in (
                (self.alias, self.org_id),
                (self.alias, self.side_org_id),
                (self.scratch_alias, self.org_id),
                (self.scratch_alias, None),
            ):
                with _absent_ok():
                    gateway.routes.delete(alias, org_id=org_id)
        with BudgetsClient(self.url("budgets"), token=self.service_token) as budgets:
            for reservation_id in (self.reservation_id, self.side_reservation_id):
                with _absent_ok():
                    budgets.reservations.release(reservation_id)
            with _absent_ok():
                budgets.budgets.delete_key(self.side_org_id, self.side_key_id)
            with _absent_ok():
                budgets.budgets.delete_org(self.side_org_id)
        with IdentityClient(self.url("identity"), token=self.admin_token) as identity:
            for org_id in (self.org_id, self.side_org_id):
                with _absent_ok():
                    identity.orgs.delete(org_id)
        try:
            with GitopsClient(self.url("gitops"), token=self.service_token) as gitops:
                names = {self.app_name, self.side_app_name}
                names |= {
                    a.name for a in gitops.applications.list().data if a.repo_url == self.repo_url
                }
                for name in sorted(names):
                    with _absent_ok():
                        gitops.applications.delete(name)
        finally:
            self.repo.close()
            shutil.rmtree(self.repo_dir, ignore_errors=True)

    def known_path_values(self, service: str) -> Mapping[str, str]:
        """Real IDs a path parameter of this service may take instead of a random string."""
        values = {"org_id": self.org_id, "user_id": self.admin_user_id}
        if service == "budgets":
            values |= {"key_id": self.key_id, "reservation_id": self.reservation_id}
        if service == "gateway":
            values["alias"] = self.alias
        if service == "gitops":
            values["name"] = self.app_name
        return values


def _absent_ok() -> contextlib.suppress:
    """For cleanup calls: already gone (404) or already final (409) is fine."""
    return contextlib.suppress(NotFound, Conflict)


def provision(target: Target, name: str) -> World:
    """Log the admin in and create the org, key, route and reservation fuzzing reuses."""
    assert target.admin_email, "the target has no admin email"
    assert target.admin_password, "the target has no admin password"
    assert target.service_token, "the target has no service token"
    with IdentityClient(target.url("identity")) as anonymous:
        login = anonymous.auth.login(target.admin_email, target.admin_password)
    with IdentityClient(target.url("identity"), token=login.access_token) as admin:
        org = admin.orgs.create(name)
        key = admin.keys.create(org.id, name=f"{name}-key")
        side = admin.orgs.create(f"{name}-side")
        side_key = admin.keys.create(side.id, name=f"{name}-side-key")
    alias = f"{name}-echo"
    backends = [{"url": target.url("modelsim"), "model": ECHO_MODEL, "timeout_seconds": 5.0}]
    with GatewayClient(target.url("gateway"), token=login.access_token) as gateway:
        for org_id in (org.id, side.id):
            gateway.routes.put(
                alias,
                org_id=org_id,
                backends=backends,
                input_micro_usd_per_mtok=1_000_000,
                output_micro_usd_per_mtok=2_000_000,
            )
    with BudgetsClient(target.url("budgets"), token=target.service_token) as budgets:
        held = [
            budgets.reservations.create(
                org_id=org_id,
                key_id=key_id,
                amount_micro_usd=1,
                request_id=f"{name}-held-{org_id}",
                ttl_seconds=MAX_TTL_SECONDS,  # held for the whole run
            )
            for org_id, key_id in ((org.id, key.id), (side.id, side_key.id))
        ]
    repo_dir = Path(tempfile.mkdtemp(prefix=f"gatewright-{name}-"))
    repo = GitRepo(repo_dir / "config")
    repo.commit({"README.md": "The fuzz stage's repository: it declares nothing.\n"}, "empty")
    repo.branch(SIDE_BRANCH, checkout=False)
    app_name, side_app_name = f"{name}-app", f"{name}-side-app"
    with GitopsClient(target.url("gitops"), token=target.service_token) as gitops:
        for app, branch in ((app_name, "main"), (side_app_name, SIDE_BRANCH)):
            gitops.applications.create(
                name=app,
                repo_url=repo.url,
                branch=branch,
                poll_interval_seconds=POLL_INTERVAL_SECONDS,
                drift_check_interval_seconds=POLL_INTERVAL_SECONDS,
            )
    for secret in (login.access_token, key.secret, side_key.secret):
        register_secret(secret)
    return World(
        target=target,
        admin_token=login.access_token,
        admin_user_id=login.user_id,
        service_token=target.service_token,
        org_id=org.id,
        key_id=key.id,
        key_secret=key.secret,
        alias=alias,
        scratch_alias=f"{name}-scratch",
        reservation_id=held[0].id,
        side_org_id=side.id,
        side_key_id=side_key.id,
        side_key_secret=side_key.secret,
        side_reservation_id=held[1].id,
        audit_chain=f"chain_{name}",
        repo=repo,
        repo_dir=repo_dir,
        app_name=app_name,
        side_app_name=side_app_name,
        webhook_secret=target.webhook_secret,
    )
