"""A key's end reaches the gateway on the very next request: revoked, its org deleted, expired.

Identity's verify endpoint refusing such keys is not the promise users rely on; the gateway
serving them is what matters, and its key cache is exactly the thing that could silently keep a
dead key alive. Each flow warms the cache first, so a cache that ignored the key's end would be
caught.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest

from gatewright.core import AuthenticationError, NotFound
from gatewright.gateway import ChatCompletion
from gatewright.gateway import Client as GatewayClient
from gatewright.identity import Org
from gatewright.modelsim import Client as ModelsimClient
from gatewright.testkit import Harness, Outcome, eventually

from .actors import Actor
from .gateway_fixtures import INPUT_PRICE, OUTPUT_PRICE, KeyMaker, RouteMaker, say

pytestmark = pytest.mark.authz


def _refused(err: AuthenticationError, modelsim: ModelsimClient) -> None:
    assert (err.status_code, err.code) == (401, "invalid_api_key")
    assert modelsim.observations.list(request_id=err.request_id).data == []


def test_a_revoked_key_is_refused_by_the_gateway_on_the_next_request(
    gw: Harness,
    org: Org,
    admin: Actor,
    make_route: RouteMaker,
    make_key: KeyMaker,
    modelsim: ModelsimClient,
) -> None:
    alias = make_route("sim-echo")
    key = make_key()
    with gw.given("a key that was just used, so the gateway has it cached"):
        key.gateway.chat.completions.create(model=alias, messages=say("warm"), max_tokens=1)
    with gw.when("the admin revokes it"):
        admin.client.keys.revoke(org.id, key.id)
    with gw.then("the very next completion is a 401 and reaches no backend"):
        with pytest.raises(AuthenticationError) as refused:
            key.gateway.chat.completions.create(model=alias, messages=say("no"), max_tokens=1)
        _refused(refused.value, modelsim)


def test_a_key_of_a_deleted_org_is_refused_by_the_gateway_on_the_next_request(
    gw: Harness, admin: Actor, gateway_admin: GatewayClient, modelsim: ModelsimClient
) -> None:
    with gw.given("an org of this test's own, with a route and a key that was just used"):
        doomed = admin.client.orgs.create(gw.names.name("doomed"))
        gw.cleanup.add(f"delete org {doomed.id} unless the test did", lambda: _gone(admin, doomed))
        alias = gw.names.name("alias")
        gateway_admin.routes.put(
            alias,
            org_id=doomed.id,
            backends=[{"url": gw.url("modelsim"), "model": "sim-echo"}],
            input_micro_usd_per_mtok=INPUT_PRICE,
            output_micro_usd_per_mtok=OUTPUT_PRICE,
        )
        gw.cleanup.add(
            f"delete route {alias}", lambda: gateway_admin.routes.delete(alias, org_id=doomed.id)
        )
        created = admin.client.keys.create(doomed.id, name=gw.names.name("key"))
        client = GatewayClient(**gw.client_kwargs("gateway", token=created.secret))
        gw.cleanup.release("close the key's gateway client", client.close)
        client.chat.completions.create(model=alias, messages=say("warm"), max_tokens=1)
    with gw.when("the owner deletes the org"):
        admin.client.orgs.delete(doomed.id)
    with gw.then("the very next completion with its key is a 401 and reaches no backend"):
        with pytest.raises(AuthenticationError) as refused:
            client.chat.completions.create(model=alias, messages=say("no"), max_tokens=1)
        _refused(refused.value, modelsim)


def _gone(admin: Actor, org: Org) -> None:
    with contextlib.suppress(NotFound):  # the test deleted it, as it should
        admin.client.orgs.delete(org.id)


def test_an_expired_key_is_never_served_after_its_expiry(
    gw: Harness, make_route: RouteMaker, make_key: KeyMaker, modelsim: ModelsimClient
) -> None:
    alias = make_route("sim-echo")
    expires_at = datetime.now(UTC) + timedelta(seconds=3)
    key = make_key(expires_at=expires_at)
    with gw.given(f"a key expiring at {expires_at:%H:%M:%S.%f}, just used (cached)"):
        key.gateway.chat.completions.create(model=alias, messages=say("warm"), max_tokens=1)

    def probe() -> Outcome[AuthenticationError]:
        asked = datetime.now(UTC)
        try:
            served: ChatCompletion = key.gateway.chat.completions.create(
                model=alias, messages=say("still?"), max_tokens=1
            )
        except AuthenticationError as exc:
            return Outcome.done(exc)
        if asked >= expires_at:
            return Outcome.failed(
                f"served at {asked:%H:%M:%S.%f}, after the key expired "
                f"(request {served.request_id})"
            )
        return Outcome.pending(f"served at {asked:%H:%M:%S.%f}, before its expiry")

    with gw.when("it keeps being used across its expiry"):
        refused = eventually(probe, description="the gateway refuses the expired key")
    with gw.then("from its expiry on it is a 401 that reaches no backend"):
        _refused(refused, modelsim)
