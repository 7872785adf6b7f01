"""E2E fixtures: actors built from the identity client package and the testkit harness.

Every test owns what it creates (its org, its users, its keys), named from the test id and the
run seed; each creation registers its cleanup, so the suite is safe under `-n auto` and random
order. The stack (or a deployment, with `--gw-target`) comes from testkit.
"""

from __future__ import annotations

import pytest

from gatewright.identity import Client, Org, Role
from gatewright.testkit import Harness, require_stack

from .actors import Actor
from .audit_fixtures import service_audit  # noqa: F401 - fixture for the audit flows
from .gateway_fixtures import (  # noqa: F401 - fixtures for the routing and budget flows
    async_gateway,
    budgets_admin,
    gateway_admin,
    make_key,
    make_route,
    modelsim,
)
from .gitops_fixtures import (  # noqa: F401 - fixtures for the GitOps flows
    config_repo,
    gitops,
    live_clients,
    owned_apps,
)


def pytest_configure(config: pytest.Config) -> None:
    require_stack(
        config, services=("audit", "identity", "budgets", "modelsim", "gateway", "gitops")
    )


@pytest.fixture
def identity(gw: Harness) -> Client:
    """An anonymous identity client whose every exchange the harness records."""
    client = Client(**gw.client_kwargs("identity"))
    # Registered first, so it runs last: the other cleanups still need the connection pool.
    gw.cleanup.release("close the identity client", client.close)
    return client


@pytest.fixture
def service_identity(gw: Harness, identity: Client) -> Client:
    """Identity as another Gatewright service sees it (service token)."""
    token = gw.target.service_token
    assert token, "the target has no service token (GATEWRIGHT_SERVICE_TOKEN)"
    return identity.with_options(token=token)


@pytest.fixture
def admin(gw: Harness, identity: Client) -> Actor:
    """The platform admin, logged in."""
    email, password = gw.target.admin_email, gw.target.admin_password
    assert email, "the target has no admin credentials (GATEWRIGHT_ADMIN_EMAIL)"
    assert password, "the target has no admin credentials (GATEWRIGHT_ADMIN_PASSWORD)"
    with gw.given("the platform admin is logged in"):
        login = identity.auth.login(email, password)
    return Actor(identity.with_options(token=login.access_token), login.user_id, email)


@pytest.fixture
def org(gw: Harness, admin: Actor) -> Org:
    """A fresh org owned by the admin, deleted at teardown."""
    with gw.given("a fresh org owned by the admin"):
        created = admin.client.orgs.create(gw.names.name("org"))
    gw.cleanup.add(f"delete org {created.id}", lambda: admin.client.orgs.delete(created.id))
    return created


@pytest.fixture
def join(gw: Harness, identity: Client, admin: Actor) -> object:
    """`join(org, role, label)`: invite a new person with `role`, accept, log in → Actor."""

    def _join(org: Org, role: Role, label: str) -> Actor:
        email = gw.names.email(label)
        password = gw.names.password(label)
        with gw.given(f"a {role} '{label}' has joined {org.name}"):
            invitation = admin.client.invitations.create(org.id, email=email, role=role)
            identity.invitations.accept(token=invitation.token, password=password)
            login = identity.auth.login(email, password)
        return Actor(identity.with_options(token=login.access_token), login.user_id, email)

    return _join
