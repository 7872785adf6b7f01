"""API keys: revocation is immediate."""

from __future__ import annotations

import pytest

from gatewright.core import AuthenticationError
from gatewright.identity import Client, Org
from gatewright.testkit import Harness

from .actors import Actor

pytestmark = pytest.mark.happy


def test_a_revoked_key_stops_verifying_on_the_next_call(
    gw: Harness, service_identity: Client, admin: Actor, org: Org
) -> None:
    with gw.given("a key that verifies"):
        key = admin.client.keys.create(org.id, name=gw.names.name("key"))
        assert service_identity.keys.verify(key.secret).key_id == key.id

    with gw.when("the admin revokes it"):
        revoked = admin.client.keys.revoke(org.id, key.id)
    with gw.then("the very next verification is refused as revoked"):
        assert revoked.revoked_at is not None
        with pytest.raises(AuthenticationError) as refused:
            service_identity.keys.verify(key.secret)
        assert refused.value.code == "invalid_api_key"
        assert "revoked" in refused.value.message
        assert key.secret not in refused.value.message
    with gw.then("other keys of the org still verify"):
        other = admin.client.keys.create(org.id, name=gw.names.name("other"))
        assert service_identity.keys.verify(other.secret).key_id == other.id


def test_deleting_an_org_stops_its_keys(
    gw: Harness, service_identity: Client, admin: Actor
) -> None:
    with gw.given("an org with a working key"):
        doomed = admin.client.orgs.create(gw.names.name("doomed"))
        key = admin.client.keys.create(doomed.id, name=gw.names.name("key"))
        assert service_identity.keys.verify(key.secret).org_id == doomed.id
    with gw.when("the owner deletes the org"):
        admin.client.orgs.delete(doomed.id)
    with gw.then("its key no longer verifies"), pytest.raises(AuthenticationError):
        service_identity.keys.verify(key.secret)
