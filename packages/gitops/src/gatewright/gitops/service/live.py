"""Live state: orgs, memberships, budgets and routes as identity, budgets and the gateway hold them.

`LiveState` is the seam the reconciler reads and writes through; `ClientLive` implements it over
the owners' client packages only (never another service's database), with the service token,
`X-Gatewright-Service: gitops`, and ONE request ID for every call of one reconcile, so a
reconcile can be followed across all services by that ID. Unit tests pass a fake `LiveState`.

Errors are the clients' own (`gatewright.core` exceptions): the reconciler turns them into a
failed resource and a condition, never a crash of the loop.

`WRITES` names the methods that change state: the reconciler counts every call to one of them
on its operation (`Operation.writes`), so a reconcile that found nothing to do proves it made
none. Deletes answer False when there was nothing to delete (a 404), never raise for it.

Memberships go through identity only: the members come with the org (`GET /v1/orgs/{id}`),
a role change is `PATCH .../members/{user}`, a newcomer gets an invitation (`POST
.../invitations`). The invitation's token is dropped at once: it is a secret, and gitops
neither stores nor logs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from gatewright.budgets import Client as BudgetsClient
from gatewright.core import NotFound
from gatewright.gateway import Client as GatewayClient
from gatewright.identity import Client as IdentityClient
from gatewright.identity.models import Role
from gatewright.servicekit.access import SERVICE_NAME_HEADER


@dataclass(frozen=True)
class LiveMember:
    user_id: str
    email: str
    role: str


@dataclass(frozen=True)
class SentInvitation:
    id: str
    expires_at: datetime


class LiveState(Protocol):
    def org_exists(self, org_id: str) -> bool: ...

    def create_org(self, name: str, *, owner_email: str) -> str:
        """Create the org owned by `owner_email`; its ID."""
        ...

    def get_budget(self, org_id: str) -> dict[str, Any] | None:
        """`{limit_micro_usd, period}` of the org's budget, or None when it has none."""
        ...

    def set_budget(self, org_id: str, *, limit_micro_usd: int, period: str) -> None: ...

    def get_route(self, org_id: str, alias: str) -> dict[str, Any] | None:
        """`{backends, input_micro_usd_per_mtok, output_micro_usd_per_mtok}` or None."""
        ...

    def put_route(self, org_id: str, alias: str, *, route: dict[str, Any]) -> None: ...

    def list_members(self, org_id: str) -> list[LiveMember]: ...

    def set_role(self, org_id: str, user_id: str, role: Role) -> None: ...

    def invite(self, org_id: str, *, email: str, role: Role) -> SentInvitation:
        """Invite `email` into the org with `role` (its token is never kept)."""
        ...

    def delete_route(self, org_id: str, alias: str) -> bool: ...

    def delete_budget(self, org_id: str) -> bool: ...

    def remove_member(self, org_id: str, user_id: str) -> bool: ...

    def delete_org(self, org_id: str) -> bool: ...


WRITES = frozenset(
    {
        "create_org",
        "set_budget",
        "put_route",
        "set_role",
        "invite",
        "delete_route",
        "delete_budget",
        "remove_member",
        "delete_org",
    }
)
"""The `LiveState` methods that change live state (the rest only read)."""

LiveFactory = Callable[[str], AbstractContextManager[LiveState]]
"""`factory(request_id)`: a `LiveState` whose every outbound call carries that request ID."""


def route_fields(backends: list[Any], input_price: int, output_price: int) -> dict[str, Any]:
    """A route's fields in the one normalized shape both sides of a diff use."""
    return {
        "backends": [
            {
                "url": b["url"].rstrip("/"),
                "model": b["model"],
                "timeout_seconds": float(b["timeout_seconds"]),
            }
            for b in backends
        ],
        "input_micro_usd_per_mtok": input_price,
        "output_micro_usd_per_mtok": output_price,
    }


@dataclass
class ClientLive:
    identity: IdentityClient
    budgets: BudgetsClient
    gateway: GatewayClient

    def org_exists(self, org_id: str) -> bool:
        try:
            self.identity.orgs.get(org_id)
        except NotFound:
            return False
        return True

    def create_org(self, name: str, *, owner_email: str) -> str:
        return self.identity.orgs.create(name, owner_email=owner_email).id

    def get_budget(self, org_id: str) -> dict[str, Any] | None:
        try:
            budget = self.budgets.budgets.get_org(org_id)
        except NotFound:
            return None
        return {"limit_micro_usd": budget.limit_micro_usd, "period": budget.period}

    def set_budget(self, org_id: str, *, limit_micro_usd: int, period: str) -> None:
        self.budgets.budgets.set_org(
            org_id,
            limit_micro_usd=limit_micro_usd,
            period=period,  # type: ignore[arg-type]  # validated as a Period by the manifest
        )

    def get_route(self, org_id: str, alias: str) -> dict[str, Any] | None:
        try:
            route = self.gateway.routes.get(alias, org_id=org_id)
        except NotFound:
            return None
        return route_fields(
            [b.model_dump() for b in route.backends],
            route.input_micro_usd_per_mtok,
            route.output_micro_usd_per_mtok,
        )

    def put_route(self, org_id: str, alias: str, *, route: dict[str, Any]) -> None:
        self.gateway.routes.put(
            alias,
            org_id=org_id,
            backends=route["backends"],
            input_micro_usd_per_mtok=route["input_micro_usd_per_mtok"],
            output_micro_usd_per_mtok=route["output_micro_usd_per_mtok"],
        )

    def list_members(self, org_id: str) -> list[LiveMember]:
        members = self.identity.orgs.get(org_id).members
        return [LiveMember(m.user_id, m.email.lower(), m.role) for m in members]

    def set_role(self, org_id: str, user_id: str, role: Role) -> None:
        self.identity.members.update(org_id, user_id, role)

    def invite(self, org_id: str, *, email: str, role: Role) -> SentInvitation:
        sent = self.identity.invitations.create(org_id, email=email, role=role)
        return SentInvitation(sent.id, sent.expires_at)

    def delete_route(self, org_id: str, alias: str) -> bool:
        return _gone(lambda: self.gateway.routes.delete(alias, org_id=org_id))

    def delete_budget(self, org_id: str) -> bool:
        return _gone(lambda: self.budgets.budgets.delete_org(org_id))

    def remove_member(self, org_id: str, user_id: str) -> bool:
        return _gone(lambda: self.identity.members.remove(org_id, user_id))

    def delete_org(self, org_id: str) -> bool:
        return _gone(lambda: self.identity.orgs.delete(org_id))


def _gone(delete: Callable[[], None]) -> bool:
    """True when `delete` deleted something, False when it was not there (404)."""
    try:
        delete()
    except NotFound:
        return False
    return True


class ClientLiveFactory:
    """The production `LiveFactory`: the three clients are built once per service, so every
    reconcile reuses their pooled keep-alive connections (`close()` at shutdown). Each call
    gives `with_options` views sharing those pools whose every request carries that
    reconcile's request ID."""

    def __init__(
        self, *, identity_url: str, budgets_url: str, gateway_url: str, service_token: str
    ) -> None:
        kwargs: dict[str, Any] = {
            "token": service_token,
            "headers": {SERVICE_NAME_HEADER: "gitops"},
        }
        self.identity = IdentityClient(identity_url, **kwargs)
        self.budgets = BudgetsClient(budgets_url, **kwargs)
        self.gateway = GatewayClient(gateway_url, **kwargs)

    @contextmanager
    def __call__(self, request_id: str) -> Iterator[LiveState]:
        def stamp() -> str:
            return request_id

        yield ClientLive(
            self.identity.with_options(request_id_factory=stamp),
            self.budgets.with_options(request_id_factory=stamp),
            self.gateway.with_options(request_id_factory=stamp),
        )

    def close(self) -> None:
        """Close the connection pools (the service's shutdown)."""
        self.identity.close()
        self.budgets.close()
        self.gateway.close()
