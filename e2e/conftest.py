"""E2E fixtures: actors built from the identity client package and the testkit harness.

Every test owns what it creates (its org, its users, its keys), named from the test id and the
run seed; each creation registers its cleanup, so the suite is safe under `-n auto` and random
order. The stack (or a deployment, with `--gw-target`) comes from testkit.

What a test leaves goes with it (decision 16): an org is deleted everywhere (identity, then its
routes and ledgers), and last of all `remove_prefixed` deletes any org or user still carrying
the test's prefix (`gw.names.prefix`); each worker purges the data of deleted orgs at its end.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gatewright.budgets import Client as BudgetsClient
from gatewright.gateway import Client as GatewayClient
from gatewright.identity import Client, Org, Role
from gatewright.testkit import Harness, Target, require_stack

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
from .leftovers import ServiceClients, delete_org_everywhere, remove_orphans, remove_prefixed


def pytest_configure(config: pytest.Config) -> None:
    require_stack(
        config, services=("audit", "identity", "budgets", "modelsim", "gateway", "gitops")
    )


@pytest.fixture(scope="session")
def _orphan_purge(request: pytest.FixtureRequest, gw_target: Target) -> Iterator[None]:
    """At this worker's end, purge the data of orgs identity no longer knows (a test that
    deleted its org itself, e.g. to see its keys stop, leaves its routes to this)."""
    yield
    if not request.config.option.keep_data:
        clients = ServiceClients.for_target(gw_target)
        try:
            remove_orphans(clients)
        finally:
            clients.close()


@pytest.fixture
def service_clients(gw: Harness, _orphan_purge: None) -> ServiceClients:
    """identity, gateway and budgets with the service token; at teardown (after every other
    cleanup) they delete whatever still carries this test's prefix."""
    token = gw.target.service_token
    assert token, "the target has no service token (GATEWRIGHT_SERVICE_TOKEN)"
    clients = ServiceClients(
        Client(**gw.client_kwargs("identity", token=token)),
        GatewayClient(**gw.client_kwargs("gateway", token=token)),
        BudgetsClient(**gw.client_kwargs("budgets", token=token)),
    )
    gw.cleanup.release("close the service clients", clients.close)
    gw.cleanup.add(
        f"delete what is left with prefix {gw.names.prefix}",
        lambda: remove_prefixed(clients, gw.names.prefix),
    )
    return clients


@pytest.fixture
def identity(gw: Harness, service_clients: ServiceClients) -> Client:
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
def org(gw: Harness, admin: Actor, service_clients: ServiceClients) -> Org:
    """A fresh org owned by the admin, deleted at teardown."""
    with gw.given("a fresh org owned by the admin"):
        created = admin.client.orgs.create(gw.names.name("org"))
    gw.cleanup.add(
        f"delete org {created.id} everywhere",
        lambda: delete_org_everywhere(service_clients, created.id),
    )
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
