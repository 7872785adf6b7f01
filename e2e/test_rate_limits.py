"""Per-key rate limits: a burst beyond the key's rpm gets 429 with Retry-After."""

from __future__ import annotations

import pytest

from gatewright.core import RateLimited, RetryPolicy
from gatewright.testkit import Harness

from .gateway_fixtures import KeyMaker, RouteMaker, say

pytestmark = pytest.mark.budgets


def test_a_burst_beyond_the_keys_rpm_is_told_when_to_retry(
    gw: Harness, make_route: RouteMaker, make_key: KeyMaker
) -> None:
    alias = make_route("sim-echo")
    limited, other = make_key("limited", rate_limit_rpm=3), make_key("other", rate_limit_rpm=3)
    no_retry = limited.gateway.with_options(retry=RetryPolicy(max_retries=0))

    with gw.when("the key sends its 3 requests of the minute"):
        for _ in range(3):
            no_retry.chat.completions.create(model=alias, messages=say("tick"), max_tokens=1)
    with gw.when("and a fourth"), pytest.raises(RateLimited) as limited_exc:
        no_retry.chat.completions.create(model=alias, messages=say("tick"), max_tokens=1)
    with gw.then("it is a 429 rate_limited with a Retry-After the client can honour"):
        err = limited_exc.value
        assert (err.status_code, err.code) == (429, "rate_limited")
        assert err.retry_after is not None
        assert 0 < err.retry_after <= 60
    with gw.then("another key's limit is its own"):
        assert (
            other.gateway.chat.completions.create(
                model=alias, messages=say("tock"), max_tokens=1
            ).usage.completion_tokens
            == 1
        )
