"""The gateway's audit events: what `completion.create` and `completion.denied` record.

Every completion that reached the backend stage records ONE `completion.create` event, outcome
`success` (model alias, backend, upstream model, tokens, cost, attempts, stream) or `error`
(every backend failed, with the attempts); the gateway's own refusals record ONE
`completion.denied` each (model not allowed 403, rate limited 429, invalid API key 401 with no
org). A BUDGET refusal (402) records nothing here: budgets records `reservation.denied` under the
same request ID, and that is the one denied event of that request. Actor: `{type: api_key, id:
key_id}`; org: the key's org. Events go to the gateway's outbox (`store.outbox`), shipped by
servicekit's deliverer; recording one never fails the request (it is logged instead).
"""

from __future__ import annotations

import logging
from typing import Any

from gatewright.gateway.service.engine.plan import Plan
from gatewright.gateway.service.upstream import Target, Usage
from gatewright.identity import KeyVerification
from gatewright.servicekit import Database, ServiceError
from gatewright.servicekit.audit import AuditOutbox

log = logging.getLogger("gatewright.gateway")


def denial_details(exc: ServiceError, *, model: str | None = None) -> dict[str, Any]:
    """What `completion.denied` records of a refusal: its status and code, and the details a
    reader needs (the model, the allow-list, the rate limit), never the rest of `exc.details`."""
    details: dict[str, Any] = {"status": exc.status_code, "code": exc.code}
    if model is not None:
        details["model"] = model
    details.update(
        {k: v for k, v in exc.details.items() if k in ("model", "allowed_models", "reason")}
    )
    if "rate_limit_rpm" in exc.details:
        details["rate_limit_rpm"] = exc.details["rate_limit_rpm"]
        details["retry_after_seconds"] = exc.details.get("retry_after_seconds")
    return details


def record_denied(
    audit: AuditOutbox,
    db: Database,
    key: KeyVerification | None,
    exc: ServiceError,
    *,
    model: str | None = None,
) -> None:
    """`completion.denied` for one of the gateway's own refusals, in its own short transaction
    (blocking: run it in the thread pool)."""
    details = denial_details(exc, model=model)
    try:
        audit.record_now(
            db,
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


def record_completion(
    audit: AuditOutbox,
    db: Database,
    plan: Plan,
    *,
    stream: bool,
    target: Target | None = None,
    usage: Usage | None = None,
    cost: int = 0,
    error: ServiceError | None = None,
    broken: bool = False,
    cut: bool = False,
) -> None:
    """`completion.create` in its own short transaction (blocking: run it in the thread pool):
    the backend, tokens and cost of a served completion (and what it was charged past its
    reservation), or the attempts of a failed one (`error`)."""
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
        audit.record_now(
            db,
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
