"""The completion pipeline: authenticate, allow, limit, route, price, reserve, call, settle.

`Gateway` holds everything a completion needs for the life of the app (identity and budgets
clients, the shared backend `httpx.AsyncClient`, the key cache, the rate limiter, the route
cache) and runs the numbered steps of PLATFORM.md §5. Money: a reservation is made before any
backend is called and is always settled exactly once: committed with the backend's usage once
the answer is out (streamed or not; off the latency path), or released (every backend failed,
or anything raised after reserving).

The reservation bounds what the completion can cost (decision 10; `plan`). A completion also
never outlives its reservation: no backend attempt starts after `Plan.deadline` (the reservation
TTL less the time the commit needs), each attempt's timeout is clamped to it, a stream is cut
(`metering`) once its next read could end past it, and the sending of an answer stops at it
(`responses`); so the commit reaches budgets while the money is still held. A backend that
reports more than was reserved is charged in full, logged, and recorded on the audit event
(`events`, `overrun_micro_usd`).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import httpx
from starlette.responses import JSONResponse, StreamingResponse

from gatewright.core import APIConnectionError, APIStatusError, AuthenticationError, BudgetExceeded
from gatewright.gateway._client import ATTEMPTS_HEADER, BACKEND_HEADER, BACKEND_MODEL_HEADER
from gatewright.gateway.models import ChatCompletionRequest, Route
from gatewright.gateway.service import pricing, store
from gatewright.gateway.service.config import GatewaySettings
from gatewright.gateway.service.engine import events, failures
from gatewright.gateway.service.engine.metering import Meter
from gatewright.gateway.service.engine.plan import Plan, max_tokens_for
from gatewright.gateway.service.engine.responses import MeteredStream, SettlingJSONResponse
from gatewright.gateway.service.engine.routecache import RouteTable
from gatewright.gateway.service.engine.seams import BudgetsAPI, IdentityAPI
from gatewright.gateway.service.keycache import KeyCache
from gatewright.gateway.service.ratelimit import RateLimiter
from gatewright.gateway.service.upstream import (
    AttemptFailed,
    Target,
    UpstreamStream,
    Usage,
    complete,
    open_stream,
)
from gatewright.identity import KeyVerification
from gatewright.identity.models import MAX_SECRET_LENGTH
from gatewright.servicekit import Database, ServiceError
from gatewright.servicekit.audit import AuditOutbox
from gatewright.servicekit.correlation import current_request_id, outbound_headers

log = logging.getLogger("gatewright.gateway")

A = TypeVar("A")  # what a backend answered
R = TypeVar("R")  # the response made of it


class Gateway:
    """The numbered steps of a completion (PLATFORM.md §5), with what they share for the life
    of the app."""

    def __init__(
        self,
        *,
        settings: GatewaySettings,
        db: Database,
        identity: IdentityAPI,
        budgets: BudgetsAPI,
        http: httpx.AsyncClient,
    ) -> None:
        self.settings = settings
        self.identity = identity
        self.budgets = budgets
        self.http = http
        self.db = db
        self.audit: AuditOutbox = store.outbox
        self.keys = KeyCache(settings.key_cache_seconds)
        self.limiter = RateLimiter()
        self.routes = RouteTable(db, settings.route_cache_seconds)

    # 1. the API key
    async def authenticate(self, secret: str) -> KeyVerification:
        if len(secret) > MAX_SECRET_LENGTH:  # identity would refuse it (422), so it is no key
            raise failures.invalid_key()
        try:
            return await self.keys.get(secret, self.identity.keys.verify)
        except AuthenticationError as exc:
            raise failures.invalid_key() from exc
        except (APIConnectionError, APIStatusError) as exc:
            raise ServiceError(
                503, "identity_unavailable", f"Cannot verify the API key right now: {exc}"
            ) from exc

    async def visible_models(self, key: KeyVerification) -> list[Route]:
        def load() -> list[Route]:
            with self.routes.db.session() as s:
                own = store.list_routes(s, org_id=key.org_id)
                shared = store.list_routes(s, org_id=None)
            return own + shared

        seen: dict[str, Route] = {}
        for route in await self.db.call(load):
            seen.setdefault(route.alias, route)
        allowed = set(key.models) if key.models is not None else None
        return [r for a, r in sorted(seen.items()) if allowed is None or a in allowed]

    # 2-6: allow-list, rate limit, route, price, reserve
    async def plan(self, key: KeyVerification, body: dict[str, Any]) -> Plan:
        req = ChatCompletionRequest.model_validate(body)
        alias = req.model
        # An alias that does not exist is 404 for every key, as OpenAI answers (decision 9); the
        # allow-list then refuses only aliases that exist, which the key's org may list anyway.
        route = await self.routes.resolve(key.org_id, alias)
        if route is None:
            raise ServiceError(
                404,
                "model_not_found",
                f"The model '{alias}' does not exist or has no route for this org.",
                details={"model": alias},
            )
        if key.models is not None and alias not in key.models:
            raise await self.denied(
                key,
                ServiceError(
                    403,
                    "model_not_allowed",
                    f"This API key may not use model '{alias}'; it allows: "
                    + (", ".join(key.models) or "no models")
                    + ".",
                    details={"model": alias, "allowed_models": list(key.models)},
                ),
            )
        if key.rate_limit_rpm is not None:
            wait = self.limiter.acquire(key.key_id, key.rate_limit_rpm)
            if wait is not None:
                raise await self.denied(
                    key,
                    ServiceError(
                        429,
                        "rate_limited",
                        f"This API key allows {key.rate_limit_rpm} requests per minute; "
                        f"retry in {wait} s.",
                        details={"rate_limit_rpm": key.rate_limit_rpm, "retry_after_seconds": wait},
                        headers={"Retry-After": str(wait)},
                    ),
                    model=alias,
                )
        max_tokens = max_tokens_for(req, route)
        prompt = pricing.prompt_token_bound(body)
        completion = pricing.completion_token_bound(max_tokens, req.n)
        estimate = pricing.cost(
            prompt,
            completion,
            input_price=route.input_micro_usd_per_mtok,
            output_price=route.output_micro_usd_per_mtok,
        )
        payload = dict(body)
        payload.pop("max_completion_tokens", None)
        payload["max_tokens"] = max_tokens
        # Counted from before budgets is asked, so this deadline is never later than the
        # reservation's own expiry.
        deadline = time.monotonic() + self.settings.completion_seconds
        plan = Plan(key, alias, route, payload, prompt, max_tokens, completion, estimate, deadline)
        plan.reservation_id = await self._reserve(plan)
        return plan

    async def denied(
        self, key: KeyVerification | None, exc: ServiceError, *, model: str | None = None
    ) -> ServiceError:
        """Record `completion.denied` for one of the gateway's own refusals; returns `exc`.

        Not for a budget refusal (402): budgets' `reservation.denied` is that request's event."""
        await self.db.call(events.record_denied, self.audit, self.db, key, exc, model=model)
        return exc

    async def _reserve(self, plan: Plan) -> str:
        # The caller's X-Request-ID only labels the reservation (audit, logs): it is chosen by
        # the caller and proves nothing. The budgets client makes a fresh idempotency key for
        # this one call (kept across its retries), so every completion holds money of its own and
        # a replayed request ID can never ride on an earlier reservation (decision 8).
        try:
            reservation = await self.budgets.reservations.create(
                org_id=plan.key.org_id,
                key_id=plan.key.key_id,
                amount_micro_usd=plan.estimate,
                request_id=current_request_id(),
                ttl_seconds=self.settings.reservation_ttl_seconds,
            )
        except BudgetExceeded as exc:
            # No gateway event: budgets recorded `reservation.denied` for this request ID, the
            # one denied event of a budget-refused completion.
            raise ServiceError(402, "budget_exceeded", exc.message, details=exc.details) from exc
        except APIStatusError as exc:
            raise ServiceError(
                503, "budgets_unavailable", f"Cannot reserve budget right now: {exc.message}"
            ) from exc
        except APIConnectionError as exc:
            raise ServiceError(
                503, "budgets_unavailable", f"Cannot reserve budget right now: {exc}"
            ) from exc
        return str(reservation.id)

    async def commit(self, plan: Plan, actual: int) -> None:
        try:
            await self.budgets.reservations.commit(plan.reservation_id, actual_micro_usd=actual)
        except Exception:
            # The reservation expires on its own; the answer already went out.
            log.exception("commit failed", extra={"reservation_id": plan.reservation_id})

    async def settle(
        self,
        plan: Plan,
        *,
        target: Target,
        usage: Usage,
        cost: int,
        stream: bool = False,
        broken: bool = False,
        cut: bool = False,
    ) -> None:
        """After a served answer went out: commit its cost, then record `completion.create`."""
        if cost > plan.estimate:
            # Charged in full all the same: the backend was paid (decision 10).
            log.warning(
                "completion cost %d micro-USD exceeds its reservation of %d by %d: charged in "
                "full; the backend reported more tokens than the gateway's bound",
                cost,
                plan.estimate,
                cost - plan.estimate,
                extra={
                    "reservation_id": plan.reservation_id,
                    "org_id": plan.key.org_id,
                    "model": plan.alias,
                    "backend": target.url,
                    "prompt_tokens": usage.prompt_tokens,
                    "completion_tokens": usage.completion_tokens,
                },
            )
        await self.commit(plan, cost)
        await self.db.call(
            events.record_completion,
            self.audit,
            self.db,
            plan,
            stream=stream,
            target=target,
            usage=usage,
            cost=cost,
            broken=broken,
            cut=cut,
        )

    async def release(self, plan: Plan) -> None:
        try:
            await self.budgets.reservations.release(plan.reservation_id)
        except Exception:
            log.exception("release failed", extra={"reservation_id": plan.reservation_id})

    def _headers(self, plan: Plan, target: Target) -> dict[str, str]:
        return {
            BACKEND_HEADER: target.url,
            BACKEND_MODEL_HEADER: target.model,
            ATTEMPTS_HEADER: str(len(plan.attempts) + 1),
        }

    # 7-9, unstreamed
    async def run(self, plan: Plan) -> JSONResponse:
        async def call(target: Target, headers: dict[str, str]) -> tuple[dict[str, Any], Usage]:
            return await complete(self.http, target, plan.payload, headers)

        def respond(target: Target, answer: tuple[dict[str, Any], Usage]) -> JSONResponse:
            body, usage = answer
            body["model"] = plan.alias
            settle = functools.partial(
                self.settle, plan, target=target, usage=usage, cost=plan.cost(usage)
            )
            return SettlingJSONResponse(
                body,
                headers=self._headers(plan, target),
                on_close=settle,
                deadline=plan.deadline,
            )

        return await self._first_answer(plan, call, respond, stream=False)

    # 7-9, streamed
    async def run_stream(self, plan: Plan, include_usage: bool) -> StreamingResponse:
        async def call(target: Target, headers: dict[str, str]) -> UpstreamStream:
            return await open_stream(self.http, target, plan.payload, headers)

        def respond(target: Target, upstream: UpstreamStream) -> StreamingResponse:
            # Each read of the stream ends within the target's timeout, so one that starts
            # before `cut_at` ends before the deadline.
            meter = Meter(plan, upstream, include_usage, plan.deadline - target.timeout_seconds)

            async def settle() -> None:
                await meter.close()
                await self.settle(
                    plan,
                    target=target,
                    usage=meter.usage_so_far(),
                    cost=meter.actual(),
                    stream=True,
                    broken=meter.broken,
                    cut=meter.cut,
                )

            return MeteredStream(
                meter.events(),
                on_close=settle,
                headers=self._headers(plan, target),
                deadline=plan.deadline,
                on_deadline=meter.stopped_at_deadline,
            )

        return await self._first_answer(plan, call, respond, stream=True)

    async def _first_answer(
        self,
        plan: Plan,
        call: Callable[[Target, dict[str, str]], Awaitable[A]],
        respond: Callable[[Target, A], R],
        *,
        stream: bool,
    ) -> R:
        """Steps 7-9: `call` the route's backends in order until one answers, and `respond`
        with that answer. Every backend failed: release the reservation and raise the failure;
        anything else that raises releases it too (shielded, so a cancelled request does)."""
        try:
            headers = outbound_headers()
            for backend in plan.route.backends:
                target = plan.target(backend)
                if target is None:
                    break
                started = time.perf_counter()
                try:
                    answer = await call(target, headers)
                except AttemptFailed as failed:
                    if failures.may_fall_back(plan, target, failed, started):
                        continue
                    break
                return respond(target, answer)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.release(plan)
            raise
        await self.release(plan)
        raise await self._all_failed(plan, stream=stream)

    async def _all_failed(self, plan: Plan, *, stream: bool) -> ServiceError:
        error = failures.all_failed(plan, self.settings)
        await self.db.call(
            events.record_completion, self.audit, self.db, plan, stream=stream, error=error
        )
        return error
