"""The completion path: authenticate, allow, limit, route, price, reserve, call, settle.

`Gateway` holds everything a completion needs for the life of the app (identity and budgets
clients, the shared backend `httpx.AsyncClient`, the key cache, the rate limiter, the route
cache) and runs the numbered steps of PLATFORM.md §5. Money: a reservation is made before any
backend is called and is always settled exactly once: committed with the backend's usage once
the answer is out (streamed or not; off the latency path), or released (every backend failed,
or anything raised after reserving).

The reservation bounds what the completion can cost (decision 10): the prompt by the bytes of
the request body, the completion by the `max_tokens` sent upstream (the route's
`max_output_tokens` when the request sets none) times `n`. A completion also never outlives its
reservation: no backend attempt starts after `Plan.deadline` (the reservation TTL less the time
the commit needs), each attempt's timeout is clamped to it, a stream is cut (an error event,
billed for what was streamed) once its next read could end past it, and the sending of an
answer stops at it (a client that stopped reading); so the commit reaches budgets while the
money is still held. A backend that reports more than was reserved is charged in full, logged,
and recorded on the audit event (`overrun_micro_usd`).

Audit (`store.outbox`, shipped by servicekit's deliverer): every completion that reached the
backend stage records ONE `completion.create` event, outcome `success` (model alias, backend,
upstream model, tokens, cost, attempts, stream) or `error` (every backend failed, with the
attempts); the gateway's own refusals record ONE `completion.denied` each (model not allowed
403, rate limited 429, invalid API key 401 with no org). A BUDGET refusal (402) records nothing
here: budgets records `reservation.denied` under the same request ID, and that is the one denied
event of that request. Actor: `{type: api_key, id: key_id}`; org: the key's org.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
import httpx
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from gatewright.core import APIConnectionError, APIStatusError, AuthenticationError, BudgetExceeded
from gatewright.gateway.models import Backend, ChatCompletionRequest, Route
from gatewright.gateway.service import pricing, store
from gatewright.gateway.service.config import GatewaySettings
from gatewright.gateway.service.keycache import KeyCache
from gatewright.gateway.service.ratelimit import RateLimiter
from gatewright.gateway.service.upstream import (
    Attempt,
    AttemptFailed,
    Target,
    UpstreamStream,
    Usage,
    complete,
    open_stream,
    parse_usage,
)
from gatewright.identity import AuthzDecision, KeyVerification
from gatewright.identity.models import MAX_SECRET_LENGTH
from gatewright.servicekit import Database, ServiceError
from gatewright.servicekit.audit import AuditOutbox
from gatewright.servicekit.correlation import current_request_id, outbound_headers

log = logging.getLogger("gatewright.gateway")

BACKEND_HEADER = "X-Gatewright-Backend"
BACKEND_MODEL_HEADER = "X-Gatewright-Backend-Model"
ATTEMPTS_HEADER = "X-Gatewright-Attempts"


# -- collaborator seams (the real identity/budgets AsyncClients satisfy these) ----------------
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


# -- the route cache -------------------------------------------------------------------------
class RouteTable:
    """Route lookups with a short per-replica cache; writes through this replica evict."""

    def __init__(self, db: Database, ttl_seconds: float) -> None:
        self.db = db
        self.ttl = ttl_seconds
        self._cache: dict[tuple[str, str], tuple[float, Route | None]] = {}

    def _lookup(self, org_id: str | None, alias: str) -> Route | None:
        with self.db.session() as s:
            return store.get_route(s, org_id=org_id, alias=alias)

    async def get(self, org_id: str | None, alias: str) -> Route | None:
        key = (org_id or store.GLOBAL, alias)
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        route = await self.db.call(self._lookup, org_id, alias)
        if self.ttl > 0:
            self._cache[key] = (now + self.ttl, route)
        return route

    async def resolve(self, org_id: str, alias: str) -> Route | None:
        """The org's route for `alias`, else the global one."""
        return await self.get(org_id, alias) or await self.get(None, alias)

    def invalidate(self) -> None:
        self._cache.clear()


# -- the gateway -----------------------------------------------------------------------------
@dataclass
class Plan:
    """A priced, reserved request, ready for its backends."""

    key: KeyVerification
    alias: str
    route: Route
    payload: dict[str, Any]
    prompt_tokens: int  # the bound reserved for, not a count
    max_tokens: int  # sent upstream
    completion_tokens: int  # the bound reserved for: max_tokens times n
    estimate: int
    deadline: float  # time.monotonic() by which the completion must be settled
    reservation_id: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    refusal: AttemptFailed | None = None  # a backend refused the request: no fallback
    out_of_time: bool = False  # the deadline shortened or stopped the attempts

    def target(self, backend: Backend) -> Target | None:
        """The backend's next attempt, its timeout clamped to the deadline; None past it."""
        left = self.deadline - time.monotonic()
        if left < backend.timeout_seconds:
            self.out_of_time = True
        if left <= 0:
            return None
        return Target(backend.url, backend.model, min(backend.timeout_seconds, left))

    def cost(self, usage: Usage) -> int:
        return pricing.cost(
            usage.prompt_tokens,
            usage.completion_tokens,
            input_price=self.route.input_micro_usd_per_mtok,
            output_price=self.route.output_micro_usd_per_mtok,
        )


class Gateway:
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
            raise _invalid_key()
        try:
            return await self.keys.get(secret, self.identity.keys.verify)
        except AuthenticationError as exc:
            raise _invalid_key() from exc
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
        max_tokens = self._max_tokens(req, route)
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

    # -- audit ---------------------------------------------------------------------------------
    async def denied(
        self, key: KeyVerification | None, exc: ServiceError, *, model: str | None = None
    ) -> ServiceError:
        """Record `completion.denied` for one of the gateway's own refusals; returns `exc`.

        Not for a budget refusal (402): budgets' `reservation.denied` is that request's event."""
        details: dict[str, Any] = {"status": exc.status_code, "code": exc.code}
        if model is not None:
            details["model"] = model
        details.update(
            {k: v for k, v in exc.details.items() if k in ("model", "allowed_models", "reason")}
        )
        if "rate_limit_rpm" in exc.details:
            details["rate_limit_rpm"] = exc.details["rate_limit_rpm"]
            details["retry_after_seconds"] = exc.details.get("retry_after_seconds")
        try:
            await self.db.call(
                self.audit.record_now,
                self.db,
                org_id=key.org_id if key is not None else None,
                actor_type="api_key" if key is not None else "anonymous",
                actor_id=key.key_id if key is not None else None,
                action="completion.denied",
                outcome="denied",
                reason=exc.message,
                target_type="model" if details.get("model") else None,
                target_id=details.get("model"),
                details=details,
            )
        except Exception:
            log.exception("cannot record the completion.denied audit event")
        return exc

    def record_completion(
        self,
        plan: Plan,
        *,
        stream: bool,
        target: Target | None,
        usage: Usage | None,
        cost: int,
        error: ServiceError | None = None,
        broken: bool = False,
        cut: bool = False,
    ) -> None:
        """`completion.create` (success or error) in its own short transaction (thread pool)."""
        details: dict[str, Any] = {"model": plan.alias, "stream": stream}
        if error is None and target is not None and usage is not None:
            details.update(
                {
                    "backend": target.url,
                    "upstream_model": target.model,
                    "prompt_tokens": usage.prompt_tokens,
                    "completion_tokens": usage.completion_tokens,
                    "cost_micro_usd": cost,
                    "reserved_micro_usd": plan.estimate,
                    # What the backend charged past the reservation (decision 10): an org near
                    # its limit may have ended above it by this much.
                    "overrun_micro_usd": max(0, cost - plan.estimate),
                    "attempts": len(plan.attempts) + 1,
                    "failed_attempts": [a.as_dict() for a in plan.attempts],
                }
            )
            if broken:
                details["stream_broken"] = True
            if cut:
                details["stream_cut_at_deadline"] = True
        else:
            details["attempts"] = [a.as_dict() for a in plan.attempts]
            details["cost_micro_usd"] = 0
        try:
            self.audit.record_now(
                self.db,
                org_id=plan.key.org_id,
                actor_type="api_key",
                actor_id=plan.key.key_id,
                action="completion.create",
                outcome="success" if error is None else "error",
                reason="" if error is None else error.message,
                target_type="model",
                target_id=plan.alias,
                details=details,
            )
        except Exception:
            log.exception("cannot record the completion.create audit event")

    @staticmethod
    def _max_tokens(req: ChatCompletionRequest, route: Route) -> int:
        """The request's max_tokens, else the route's maximum output: never a silent cap below
        what the backend would produce, and a known bound to reserve for."""
        given = [v for v in (req.max_tokens, req.max_completion_tokens) if v is not None]
        if len(set(given)) > 1:
            raise ServiceError(
                400,
                "invalid_request",
                "max_tokens and max_completion_tokens disagree; send one of them.",
            )
        limit = route.max_output_tokens
        value = given[0] if given else limit
        if not 1 <= value <= limit:
            raise ServiceError(
                400,
                "invalid_request",
                f"max_tokens must be between 1 and {limit} for model '{route.alias}' (the "
                f"route's max_output_tokens); got {value}.",
                details={"max_tokens": value, "max_output_tokens": limit},
            )
        return value

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
            self.record_completion,
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

    def _failed(self, plan: Plan) -> ServiceError:
        if plan.refusal is not None:
            return self._refused(plan, plan.refusal)
        all_timeouts = all(a.outcome == "timeout" for a in plan.attempts)
        status, code = (504, "backends_timeout") if all_timeouts else (502, "backends_failed")
        outcomes = ", ".join(f"{a.backend} ({a.model}): {a.outcome}" for a in plan.attempts)
        message = f"Every backend for model '{plan.alias}' failed ({outcomes or 'none tried'})"
        if plan.out_of_time and all_timeouts:
            message = (
                f"The backends for model '{plan.alias}' did not answer within the "
                f"{self.settings.completion_seconds:g} s a completion may take (its budget "
                f"reservation lasts {self.settings.reservation_ttl_seconds} s; attempts: "
                f"{outcomes or 'none'})"
            )
        return ServiceError(
            status,
            code,
            f"{message}; nothing was charged.",
            details={"model": plan.alias, "attempts": [a.as_dict() for a in plan.attempts]},
        )

    @staticmethod
    def _may_fall_back(plan: Plan, target: Target, failed: AttemptFailed, started: float) -> bool:
        """Note a failed attempt; False when the backend refused the request itself."""
        plan.attempts.append(_attempt(target, failed.outcome, started))
        log.warning("backend attempt failed: %s", failed, extra={"backend": target.url})
        if failed.refused:
            plan.refusal = failed
            return False
        return True

    @staticmethod
    def _refused(plan: Plan, refusal: AttemptFailed) -> ServiceError:
        """A backend's 4xx: 400 when the request's content is what it refused (the client can
        fix it; OpenAI's SDK does not retry a 400), else 502 (the route's backend setup)."""
        last = plan.attempts[-1]
        status = 400 if refusal.status in (400, 413, 422) else 502
        return ServiceError(
            status,
            "backend_rejected",
            f"Backend {last.backend} ({last.model}) refused the request for model "
            f"'{plan.alias}' with {refusal.status}: {refusal.detail or 'no detail'}; "
            "no other backend was tried and nothing was charged.",
            details={
                "model": plan.alias,
                "backend_status": refusal.status,
                "attempts": [a.as_dict() for a in plan.attempts],
            },
        )

    def _headers(self, plan: Plan, target: Target) -> dict[str, str]:
        return {
            BACKEND_HEADER: target.url,
            BACKEND_MODEL_HEADER: target.model,
            ATTEMPTS_HEADER: str(len(plan.attempts) + 1),
        }

    # 7-9, unstreamed
    async def run(self, plan: Plan) -> JSONResponse:
        try:
            headers = outbound_headers()
            for backend in plan.route.backends:
                target = plan.target(backend)
                if target is None:
                    break
                started = time.perf_counter()
                try:
                    body, usage = await complete(self.http, target, plan.payload, headers)
                except AttemptFailed as failed:
                    if self._may_fall_back(plan, target, failed, started):
                        continue
                    break
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
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.release(plan)
            raise
        await self.release(plan)
        raise await self._all_failed(plan, stream=False)

    # 7-9, streamed
    async def run_stream(self, plan: Plan, include_usage: bool) -> StreamingResponse:
        try:
            headers = outbound_headers()
            for backend in plan.route.backends:
                target = plan.target(backend)
                if target is None:
                    break
                started = time.perf_counter()
                try:
                    upstream = await open_stream(self.http, target, plan.payload, headers)
                except AttemptFailed as failed:
                    if self._may_fall_back(plan, target, failed, started):
                        continue
                    break
                # Each read of the stream ends within the target's timeout, so one that starts
                # before `cut_at` ends before the deadline.
                meter = Meter(plan, upstream, include_usage, plan.deadline - target.timeout_seconds)

                async def settle(meter: Meter = meter, target: Target = target) -> None:
                    await meter.close()
                    await self.settle(
                        meter.plan,
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
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.release(plan)
            raise
        await self.release(plan)
        raise await self._all_failed(plan, stream=True)

    async def _all_failed(self, plan: Plan, *, stream: bool) -> ServiceError:
        error = self._failed(plan)
        await self.db.call(
            self.record_completion,
            plan,
            stream=stream,
            target=None,
            usage=None,
            cost=0,
            error=error,
        )
        return error


def _attempt(target: Target, outcome: str, started: float) -> Attempt:
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    return Attempt(target.url, target.model, outcome, elapsed)


def _sse(data: Any) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


class Meter:
    """Relays one upstream stream and remembers what it cost so far.

    The relay stops at `cut_at` (time.monotonic()): a read started later could end past the
    plan's deadline, when the reservation may have lapsed."""

    def __init__(
        self, plan: Plan, upstream: UpstreamStream, include_usage: bool, cut_at: float
    ) -> None:
        self.plan = plan
        self.upstream = upstream
        self.include_usage = include_usage
        self.cut_at = cut_at
        self.texts: list[str] = []
        self.usage: Usage | None = None
        self.broken = False
        self.cut = False
        self._events: AsyncIterator[bytes] | None = None

    def events(self) -> AsyncIterator[bytes]:
        self._events = self._relay()
        return self._events

    async def _relay(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.upstream.chunks():
                if chunk.get("usage") is not None:
                    self.usage = parse_usage(chunk["usage"]) or self.usage
                choices = chunk.get("choices") or []
                for choice in choices:
                    delta = choice.get("delta") if isinstance(choice, dict) else None
                    content = delta.get("content") if isinstance(delta, dict) else None
                    if isinstance(content, str):
                        self.texts.append(content)
                if not self.include_usage:
                    if not choices and "usage" in chunk:
                        continue
                    chunk.pop("usage", None)
                chunk["model"] = self.plan.alias
                yield _sse(chunk)
                if self.usage is None and time.monotonic() >= self.cut_at:
                    self.stopped_at_deadline()
                    log.warning(
                        "stream cut: it would outlive its budget reservation",
                        extra={"reservation_id": self.plan.reservation_id},
                    )
                    yield _sse(self._deadline_error())
                    return
        except (AttemptFailed, httpx.HTTPError) as exc:
            self.broken = True
            log.warning("backend stream broke mid-way: %r", exc)
            yield _sse(
                {
                    "error": {
                        "type": "api_error",
                        "code": "backend_stream_failed",
                        "message": "The backend stream broke after it started; you are billed "
                        "only for what was streamed.",
                        "request_id": current_request_id(),
                    }
                }
            )
            return
        yield b"data: [DONE]\n\n"

    def stopped_at_deadline(self) -> None:
        self.cut = True

    @staticmethod
    def _deadline_error() -> dict[str, Any]:
        return {
            "error": {
                "type": "api_error",
                "code": "completion_deadline",
                "message": "The completion was cut: it would have outlived its budget "
                "reservation (GATEWRIGHT_RESERVATION_TTL_SECONDS); you are billed only for what "
                "was streamed.",
                "request_id": current_request_id(),
            }
        }

    def usage_so_far(self) -> Usage:
        """The backend's usage, else the bounds of what was sent and streamed (decision 10):
        never less than a backend bills for it, never more than was reserved."""
        if self.usage is not None:
            return self.usage
        streamed = pricing.streamed_token_bound(self.texts, self.plan.completion_tokens)
        return Usage(self.plan.prompt_tokens, streamed)

    def actual(self) -> int:
        return self.plan.cost(self.usage_so_far())

    async def close(self) -> None:
        if self._events is not None:
            aclose = getattr(self._events, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except Exception:
                    log.debug("relay close failed", exc_info=True)
        await self.upstream.aclose()


class _SettlesWhenSent(Response):
    """Runs `on_close` (the bill) once the response is out, however the sending ended: done,
    the client gone, or an error; shielded, so a cancelled request still settles.

    The sending stops at `deadline` (time.monotonic()): a client that stops reading must not
    hold the commit back until its reservation lapses. `on_deadline` runs when it did."""

    on_close: Callable[[], Awaitable[None]]
    deadline: float
    on_deadline: Callable[[], None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            # asyncio's own timeout: about half the cost of an anyio cancel scope, per response.
            sending = asyncio.timeout(self.deadline - time.monotonic())
            try:
                async with sending:
                    await super().__call__(scope, receive, send)
            except TimeoutError:
                if not sending.expired():
                    raise
                log.warning("stopped sending an answer at its reservation's deadline")
                if self.on_deadline is not None:
                    self.on_deadline()
        finally:
            with anyio.CancelScope(shield=True):
                await self.on_close()


class SettlingJSONResponse(_SettlesWhenSent, JSONResponse):
    """A JSON answer that settles its bill once it is out.

    The commit is off the latency path (one budgets round trip fewer per completion); a crash
    in between leaks nothing: the reservation expires on its own. A client that hung up before
    the body was sent is billed all the same: the backend was paid for."""

    def __init__(
        self,
        content: Any,
        *,
        on_close: Callable[[], Awaitable[None]],
        headers: dict[str, str],
        deadline: float,
    ) -> None:
        super().__init__(content, headers=headers)
        self.on_close = on_close
        self.deadline = deadline


class MeteredStream(_SettlesWhenSent, StreamingResponse):
    """A stream that settles its bill when it ends: done, the client gone mid-stream (billed
    for what was streamed), or an error."""

    def __init__(
        self,
        content: AsyncIterator[bytes],
        *,
        on_close: Callable[[], Awaitable[None]],
        headers: dict[str, str],
        deadline: float,
        on_deadline: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self.on_close = on_close
        self.deadline = deadline
        self.on_deadline = on_deadline
        self.headers["Cache-Control"] = "no-cache"


def _invalid_key() -> ServiceError:
    return ServiceError(
        401, "invalid_api_key", "The API key is not valid (unknown, revoked or expired)."
    )
