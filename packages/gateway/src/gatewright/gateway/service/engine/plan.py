"""A completion's plan: what it reserved for, its deadline, and its backends' attempts.

`max_tokens_for` decides the `max_tokens` sent upstream (the request's, else the route's
`max_output_tokens`); `Plan` carries the bounds reserved for (decision 10), the deadline by which
the completion must be settled, and what each backend attempt did.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from gatewright.gateway.models import Backend, ChatCompletionRequest, Route
from gatewright.gateway.service import pricing
from gatewright.gateway.service.upstream import Attempt, AttemptFailed, Target, Usage
from gatewright.identity import KeyVerification
from gatewright.servicekit import ServiceError


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


def max_tokens_for(req: ChatCompletionRequest, route: Route) -> int:
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
