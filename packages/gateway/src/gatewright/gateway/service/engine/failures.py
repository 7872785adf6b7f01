"""The errors a completion answers with when it cannot be served, and its attempts' record.

An invalid API key is 401; every backend failed is 502 (504 when each timed out, with the
deadline named when it shortened them); a backend that refused the request's content is 400
(its backend setup 502), and no other backend is tried. Each says that nothing was charged.
"""

from __future__ import annotations

import logging
import time

from gatewright.gateway.service.config import GatewaySettings
from gatewright.gateway.service.engine.plan import Plan
from gatewright.gateway.service.upstream import Attempt, AttemptFailed, Target
from gatewright.servicekit import ServiceError

log = logging.getLogger("gatewright.gateway")


def invalid_key() -> ServiceError:
    return ServiceError(
        401, "invalid_api_key", "The API key is not valid (unknown, revoked or expired)."
    )


def attempt(target: Target, outcome: str, started: float) -> Attempt:
    """One backend attempt's record: its backend, outcome and milliseconds since `started`."""
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    return Attempt(target.url, target.model, outcome, elapsed)


def may_fall_back(plan: Plan, target: Target, failed: AttemptFailed, started: float) -> bool:
    """Note a failed attempt; False when the backend refused the request itself."""
    plan.attempts.append(attempt(target, failed.outcome, started))
    log.warning("backend attempt failed: %s", failed, extra={"backend": target.url})
    if failed.refused:
        plan.refusal = failed
        return False
    return True


def refused(plan: Plan, refusal: AttemptFailed) -> ServiceError:
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


def all_failed(plan: Plan, settings: GatewaySettings) -> ServiceError:
    """Every backend failed (or the deadline stopped them): 504 when each timed out, else 502;
    a backend's refusal of the request itself is `refused`."""
    if plan.refusal is not None:
        return refused(plan, plan.refusal)
    all_timeouts = all(a.outcome == "timeout" for a in plan.attempts)
    status, code = (504, "backends_timeout") if all_timeouts else (502, "backends_failed")
    outcomes = ", ".join(f"{a.backend} ({a.model}): {a.outcome}" for a in plan.attempts)
    message = f"Every backend for model '{plan.alias}' failed ({outcomes or 'none tried'})"
    if plan.out_of_time and all_timeouts:
        message = (
            f"The backends for model '{plan.alias}' did not answer within the "
            f"{settings.completion_seconds:g} s a completion may take (its budget "
            f"reservation lasts {settings.reservation_ttl_seconds} s; attempts: "
            f"{outcomes or 'none'})"
        )
    return ServiceError(
        status,
        code,
        f"{message}; nothing was charged.",
        details={"model": plan.alias, "attempts": [a.as_dict() for a in plan.attempts]},
    )
