"""Routing: completions reach a backend through the route table, are charged, and fall back."""

from __future__ import annotations

import pytest

from gatewright.budgets import Client as BudgetsClient
from gatewright.core import RetryPolicy, ServiceUnavailable
from gatewright.gateway import DEFAULT_MAX_OUTPUT_TOKENS
from gatewright.gateway import Client as GatewayClient
from gatewright.identity import Client, Org
from gatewright.modelsim import Client as ModelsimClient
from gatewright.testkit import Harness

from .actors import Actor
from .gateway_fixtures import KeyMaker, RouteMaker, cost_of, say, settled_spend


@pytest.mark.happy
def test_new_member_gets_a_completion_and_the_org_is_charged(
    gw: Harness,
    identity: Client,
    admin: Actor,
    org: Org,
    make_route: RouteMaker,
    budgets_admin: BudgetsClient,
    modelsim: ModelsimClient,
) -> None:
    alias = make_route("sim-echo")
    email, password = gw.names.email("mia"), gw.names.password("mia")

    with gw.when("the admin invites Mia, who joins and issues a key"):
        invitation = admin.client.invitations.create(org.id, email=email, role="member")
        identity.invitations.accept(token=invitation.token, password=password)
        mia = identity.with_options(token=identity.auth.login(email, password).access_token)
        key = mia.keys.create(org.id, name=gw.names.name("key"))
        gateway = GatewayClient(**gw.client_kwargs("gateway", token=key.secret))
        gw.cleanup.release("close Mia's gateway client", gateway.close)

    messages = say("hello from the happy path")
    with gw.when("Mia asks for a completion through the route alias"):
        completion = gateway.chat.completions.create(model=alias, messages=messages, max_tokens=6)
    with gw.then("the backend answered and the gateway names it"):
        assert completion.model == alias
        assert completion.content.split() == ["hello", "from", "the", "happy", "path", "hello"]
        assert completion.usage.completion_tokens == 6
        assert completion.served_by == gw.url("modelsim")
        assert completion.attempts == 1
    with gw.then("exactly one request reached the backend, with the same request ID"):
        seen = modelsim.observations.list(request_id=completion.request_id).data
        assert [(o.model, o.max_tokens) for o in seen] == [("sim-echo", 6)]
    with gw.then("the org's spend is the completion's cost, with nothing left reserved"):
        settled_spend(budgets_admin, org.id, cost_of(messages, 6))


@pytest.mark.happy
@pytest.mark.parametrize("route_max", [None, 300], ids=["platform default", "route's own"])
def test_a_request_without_max_tokens_gets_the_routes_whole_output(
    gw: Harness,
    org: Org,
    make_route: RouteMaker,
    make_key: KeyMaker,
    budgets_admin: BudgetsClient,
    modelsim: ModelsimClient,
    route_max: int | None,
) -> None:
    """An official-SDK user who never sets max_tokens must not get answers cut at 16 tokens."""
    expected = route_max or DEFAULT_MAX_OUTPUT_TOKENS
    alias = make_route("sim-echo", max_output_tokens=route_max)
    key = make_key()
    messages = say("tell me everything")
    with gw.when("a completion is requested without max_tokens"):
        completion = key.gateway.chat.completions.create(model=alias, messages=messages)
    with gw.then(f"the backend was asked for the route's maximum output, {expected} tokens"):
        seen = modelsim.observations.list(request_id=completion.request_id).data
        assert [o.max_tokens for o in seen] == [expected]
        assert completion.usage is not None
        assert completion.usage.completion_tokens == expected
    with gw.then("the org is charged what was produced"):
        settled_spend(budgets_admin, org.id, cost_of(messages, expected))


@pytest.mark.happy
def test_a_failing_primary_falls_back_and_is_charged_once(
    gw: Harness,
    org: Org,
    make_route: RouteMaker,
    make_key: KeyMaker,
    budgets_admin: BudgetsClient,
    modelsim: ModelsimClient,
) -> None:
    alias = make_route("sim-fail-503", "sim-echo")
    key = make_key()
    messages = say("fall back please")

    with gw.when("a completion is requested on a route whose primary answers 503"):
        completion = key.gateway.chat.completions.create(
            model=alias, messages=messages, max_tokens=4
        )
    with gw.then("the secondary served it, and the headers say so"):
        assert completion.attempts == 2
        assert completion.usage.completion_tokens == 4
        upstream = modelsim.observations.list(request_id=completion.request_id).data
        assert sorted(o.model for o in upstream) == ["sim-echo", "sim-fail-503"]
    with gw.then("the org was charged once, for the served completion"):
        settled_spend(budgets_admin, org.id, cost_of(messages, 4))


@pytest.mark.budgets
def test_when_every_backend_fails_nothing_is_charged(
    gw: Harness, org: Org, make_route: RouteMaker, make_key: KeyMaker, budgets_admin: BudgetsClient
) -> None:
    alias = make_route("sim-fail-503", "sim-fail-500")
    key = make_key()

    with gw.when("every backend of the route fails"), pytest.raises(ServiceUnavailable) as failed:
        key.gateway.with_options(retry=RetryPolicy(max_retries=0)).chat.completions.create(
            model=alias, messages=say("nobody home"), max_tokens=4
        )
    with gw.then("the gateway answers 502 with each attempt's outcome"):
        err = failed.value
        assert (err.status_code, err.code) == (502, "backends_failed")
        outcomes = [a["outcome"] for a in err.details["attempts"]]
        assert outcomes == ["status_503", "status_500"]
    with gw.then("the spend is unchanged and nothing is reserved"):
        spend = budgets_admin.spend.get(org.id)
        assert (spend.spent_micro_usd, spend.reserved_micro_usd) == (0, 0)
