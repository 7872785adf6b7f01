"""Budgets clients: `Client` (sync) and `AsyncClient` over one request builder per resource.

Each resource has a `_*Requests` builder whose methods return a `Call` (method, path, body,
query, response type). `Foo` and `AsyncFoo` only hand that call to their client, so sync and
async can never diverge: a change to a path or a body is made once. Bodies are plain dicts, not
validated here: the service is the authority on input, and its 422 arrives as `ValidationFailed`
like every other error. Errors are core's exception tree (`gatewright.core.errors`); a 402 is
`BudgetExceeded` (with `.limit_micro_usd`, `.spent_micro_usd`, `.reserved_micro_usd`,
`.requested_micro_usd`) and is never retried.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from gatewright.budgets.models import (
    Budget,
    Period,
    Reservation,
    ReservationList,
    ReservationStatus,
    Spend,
)
from gatewright.core import (
    AsyncAPIClient,
    AsyncOrgDataResource,
    AsyncResource,
    Call,
    OrgDataResource,
    SyncAPIClient,
    SyncResource,
    json_body,
    path_segment,
)


def _budget_path(org_id: str, key_id: str | None = None) -> str:
    if key_id is None:
        return f"/v1/orgs/{path_segment(org_id)}/budget"
    return f"/v1/orgs/{path_segment(org_id)}/keys/{path_segment(key_id)}/budget"


# -- request builders (no I/O) ----------------------------------------------------------------
class _BudgetsRequests:
    @staticmethod
    def set(
        org_id: str, key_id: str | None, *, limit_micro_usd: int, period: Period
    ) -> Call[Budget]:
        body = {"limit_micro_usd": limit_micro_usd, "period": period}
        return Call("PUT", _budget_path(org_id, key_id), Budget, body)

    @staticmethod
    def get(org_id: str, key_id: str | None) -> Call[Budget]:
        return Call("GET", _budget_path(org_id, key_id), Budget)

    @staticmethod
    def delete(org_id: str, key_id: str | None) -> Call[None]:
        return Call("DELETE", _budget_path(org_id, key_id), None)


class _SpendRequests:
    @staticmethod
    def get(org_id: str) -> Call[Spend]:
        return Call("GET", f"/v1/orgs/{path_segment(org_id)}/spend", Spend)


class _ReservationsRequests:
    @staticmethod
    def create(
        *,
        org_id: str,
        key_id: str | None,
        amount_micro_usd: int,
        request_id: str,
        idempotency_key: str | None,
        ttl_seconds: int | None,
    ) -> Call[Reservation]:
        # key_id is always sent (null = an org-level reservation), so the body says what it means.
        # One idempotency key per logical reservation: made here, once per call, and resent by
        # that call's retries (the body is built once).
        body = {
            "org_id": org_id,
            "key_id": key_id,
            "amount_micro_usd": amount_micro_usd,
            "request_id": request_id,
            "idempotency_key": idempotency_key or f"idk_{secrets.token_hex(16)}",
            **json_body(ttl_seconds=ttl_seconds),
        }
        return Call("POST", "/v1/reservations", Reservation, body)

    @staticmethod
    def commit(reservation_id: str, *, actual_micro_usd: int) -> Call[Reservation]:
        path = f"/v1/reservations/{path_segment(reservation_id)}/commit"
        return Call("POST", path, Reservation, {"actual_micro_usd": actual_micro_usd})

    @staticmethod
    def release(reservation_id: str) -> Call[Reservation]:
        return Call("POST", f"/v1/reservations/{path_segment(reservation_id)}/release", Reservation)

    @staticmethod
    def list(
        org_id: str, *, status: ReservationStatus | None, limit: int | None
    ) -> Call[ReservationList]:
        path = f"/v1/orgs/{path_segment(org_id)}/reservations"
        return Call("GET", path, ReservationList, params=json_body(status=status, limit=limit))


# -- senders ---------------------------------------------------------------------------------
# -- resources -------------------------------------------------------------------------------
class Budgets(SyncResource):
    """Org and per-key limits (`budgets:set` to change, `budgets:read` to read)."""

    def set_org(self, org_id: str, *, limit_micro_usd: int, period: Period) -> Budget:
        """Create or change the org's budget; changing it keeps the current period's spend."""
        return self._send(
            _BudgetsRequests.set(org_id, None, limit_micro_usd=limit_micro_usd, period=period)
        )

    def get_org(self, org_id: str) -> Budget:
        """The org's budget (404 `budget_not_found` when none is set)."""
        return self._send(_BudgetsRequests.get(org_id, None))

    def delete_org(self, org_id: str) -> None:
        """Remove the org's limit (spend keeps being tracked)."""
        self._send(_BudgetsRequests.delete(org_id, None))

    def set_key(self, org_id: str, key_id: str, *, limit_micro_usd: int, period: Period) -> Budget:
        return self._send(
            _BudgetsRequests.set(org_id, key_id, limit_micro_usd=limit_micro_usd, period=period)
        )

    def get_key(self, org_id: str, key_id: str) -> Budget:
        return self._send(_BudgetsRequests.get(org_id, key_id))

    def delete_key(self, org_id: str, key_id: str) -> None:
        self._send(_BudgetsRequests.delete(org_id, key_id))


class AsyncBudgets(AsyncResource):
    """Org and per-key limits (`budgets:set` to change, `budgets:read` to read)."""

    async def set_org(self, org_id: str, *, limit_micro_usd: int, period: Period) -> Budget:
        """Create or change the org's budget; changing it keeps the current period's spend."""
        return await self._send(
            _BudgetsRequests.set(org_id, None, limit_micro_usd=limit_micro_usd, period=period)
        )

    async def get_org(self, org_id: str) -> Budget:
        """The org's budget (404 `budget_not_found` when none is set)."""
        return await self._send(_BudgetsRequests.get(org_id, None))

    async def delete_org(self, org_id: str) -> None:
        """Remove the org's limit (spend keeps being tracked)."""
        await self._send(_BudgetsRequests.delete(org_id, None))

    async def set_key(
        self, org_id: str, key_id: str, *, limit_micro_usd: int, period: Period
    ) -> Budget:
        return await self._send(
            _BudgetsRequests.set(org_id, key_id, limit_micro_usd=limit_micro_usd, period=period)
        )

    async def get_key(self, org_id: str, key_id: str) -> Budget:
        return await self._send(_BudgetsRequests.get(org_id, key_id))

    async def delete_key(self, org_id: str, key_id: str) -> None:
        await self._send(_BudgetsRequests.delete(org_id, key_id))


class SpendResource(SyncResource):
    def get(self, org_id: str) -> Spend:
        """The org's current-period spend, reserved amount and limit, and the same per key."""
        return self._send(_SpendRequests.get(org_id))


class AsyncSpendResource(AsyncResource):
    async def get(self, org_id: str) -> Spend:
        """The org's current-period spend, reserved amount and limit, and the same per key."""
        return await self._send(_SpendRequests.get(org_id))


class Reservations(SyncResource):
    """Hold, commit and release spend (service token for create/commit/release)."""

    def create(
        self,
        *,
        org_id: str,
        key_id: str | None,
        amount_micro_usd: int,
        request_id: str,
        idempotency_key: str | None = None,
        ttl_seconds: int | None = None,
    ) -> Reservation:
        """Reserve `amount_micro_usd` against the org (and key) budgets, atomically.

        Raises `BudgetExceeded` (402) when a limit would be exceeded. `request_id` labels the
        request the reservation pays for; `idempotency_key` (default: a fresh one per call, kept
        across its retries) makes it safe to retry: repeating a key while the reservation is held
        returns it with `replayed` true; once it is settled, or with another amount, `Conflict`.
        """
        return self._send(
            _ReservationsRequests.create(
                org_id=org_id,
                key_id=key_id,
                amount_micro_usd=amount_micro_usd,
                request_id=request_id,
                idempotency_key=idempotency_key,
                ttl_seconds=ttl_seconds,
            )
        )

    def commit(self, reservation_id: str, *, actual_micro_usd: int) -> Reservation:
        """Charge the actual cost and release the hold (idempotent for the same amount)."""
        return self._send(
            _ReservationsRequests.commit(reservation_id, actual_micro_usd=actual_micro_usd)
        )

    def release(self, reservation_id: str) -> Reservation:
        """Release the hold without charging (idempotent)."""
        return self._send(_ReservationsRequests.release(reservation_id))

    def list(
        self,
        org_id: str,
        *,
        status: ReservationStatus | None = None,
        limit: int | None = None,
    ) -> ReservationList:
        return self._send(_ReservationsRequests.list(org_id, status=status, limit=limit))


class AsyncReservations(AsyncResource):
    """Hold, commit and release spend (service token for create/commit/release)."""

    async def create(
        self,
        *,
        org_id: str,
        key_id: str | None,
        amount_micro_usd: int,
        request_id: str,
        idempotency_key: str | None = None,
        ttl_seconds: int | None = None,
    ) -> Reservation:
        """Reserve `amount_micro_usd` against the org (and key) budgets, atomically.

        Raises `BudgetExceeded` (402) when a limit would be exceeded. `request_id` labels the
        request the reservation pays for; `idempotency_key` (default: a fresh one per call, kept
        across its retries) makes it safe to retry: repeating a key while the reservation is held
        returns it with `replayed` true; once it is settled, or with another amount, `Conflict`.
        """
        return await self._send(
            _ReservationsRequests.create(
                org_id=org_id,
                key_id=key_id,
                amount_micro_usd=amount_micro_usd,
                request_id=request_id,
                idempotency_key=idempotency_key,
                ttl_seconds=ttl_seconds,
            )
        )

    async def commit(self, reservation_id: str, *, actual_micro_usd: int) -> Reservation:
        """Charge the actual cost and release the hold (idempotent for the same amount)."""
        return await self._send(
            _ReservationsRequests.commit(reservation_id, actual_micro_usd=actual_micro_usd)
        )

    async def release(self, reservation_id: str) -> Reservation:
        """Release the hold without charging (idempotent)."""
        return await self._send(_ReservationsRequests.release(reservation_id))

    async def list(
        self,
        org_id: str,
        *,
        status: ReservationStatus | None = None,
        limit: int | None = None,
    ) -> ReservationList:
        return await self._send(_ReservationsRequests.list(org_id, status=status, limit=limit))


# -- clients ---------------------------------------------------------------------------------
class Client(SyncAPIClient):
    """Synchronous budgets client.

    `Client(base_url, token=None, **core options)`; `token` is a user access token (JWT from
    identity) for the budget and spend routes, or the service token (required for reservations;
    accepted everywhere). `client.with_options(token=...)` shares the connection pool.
    """

    def __init__(self, base_url: str | httpx.URL, *, token: str | None = None, **kwargs: Any):
        super().__init__(base_url, token=token, **kwargs)
        self.budgets = Budgets(self)
        self.spend = SpendResource(self)
        self.reservations = Reservations(self)
        # The orgs budgets keeps ledgers for, and their purge (service token; decision 16).
        self.orgs = OrgDataResource(self)


class AsyncClient(AsyncAPIClient):
    """Asynchronous budgets client; the same resources as `Client`, awaited."""

    def __init__(self, base_url: str | httpx.URL, *, token: str | None = None, **kwargs: Any):
        super().__init__(base_url, token=token, **kwargs)
        self.budgets = AsyncBudgets(self)
        self.spend = AsyncSpendResource(self)
        self.reservations = AsyncReservations(self)
        self.orgs = AsyncOrgDataResource(self)
