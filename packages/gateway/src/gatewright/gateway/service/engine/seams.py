"""The gateway's collaborator seams: what a completion needs of identity and budgets.

The real identity and budgets `AsyncClient`s satisfy these Protocols, and so do their owners'
doubles (identity's `FakeIdentity`, budgets' `FakeBudgets`, in each one's `service.testing`),
so the pipeline is tested and verified without either service running.
"""

from __future__ import annotations

from typing import Any, Protocol

from gatewright.identity import AuthzDecision, KeyVerification


class _Keys(Protocol):
    async def verify(self, secret: str) -> KeyVerification: ...
    async def register_revocation_hook(self, url: str) -> None: ...


class _Authz(Protocol):
    async def check(self, *, subject: str, org_id: str, permission: str) -> AuthzDecision: ...


class _Orgs(Protocol):
    async def get(self, org_id: str) -> Any: ...


class IdentityAPI(Protocol):
    @property
    def keys(self) -> _Keys: ...
    @property
    def authz(self) -> _Authz: ...
    @property
    def orgs(self) -> _Orgs: ...


class _Reservation(Protocol):
    @property
    def id(self) -> str: ...


class _Reservations(Protocol):
    async def create(
        self,
        *,
        org_id: str,
        key_id: str | None,
        amount_micro_usd: int,
        request_id: str,
        ttl_seconds: int | None = None,
    ) -> Any: ...
    async def commit(self, reservation_id: str, *, actual_micro_usd: int) -> Any: ...
    async def release(self, reservation_id: str) -> Any: ...


class BudgetsAPI(Protocol):
    @property
    def reservations(self) -> _Reservations: ...
