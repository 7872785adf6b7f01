"""Secrets never reach a service log or a harness artifact.

This flow handles every kind of secret the platform has (the admin password, a new user's
password, access tokens, an invitation token, an API-key secret, the service token) and then
looks for each exact value in what the harness will write for it and in the raw service logs.
`scripts/scan_artifacts.py`, run by the e2e session after the suite, checks the whole run's
artifacts for anything shaped like a secret.
"""

from __future__ import annotations

import json

import pytest

from gatewright.identity import Client, Org
from gatewright.testkit import Harness

from .actors import Actor

pytestmark = pytest.mark.happy


def test_secrets_stay_out_of_logs_and_artifacts(
    gw: Harness, identity: Client, service_identity: Client, admin: Actor, org: Org
) -> None:
    password = gw.names.password("sam")
    with gw.when("a person is invited, joins, logs in and issues a key"):
        invitation = admin.client.invitations.create(
            org.id, email=gw.names.email("sam"), role="member"
        )
        identity.invitations.accept(token=invitation.token, password=password)
        login = identity.auth.login(gw.names.email("sam"), password)
        sam = identity.with_options(token=login.access_token)
        key = sam.keys.create(org.id, name=gw.names.name("key"))
        service_identity.keys.verify(key.secret)

    secrets = {
        "admin password": gw.target.admin_password,
        "user password": password,
        "access token": login.access_token,
        "invitation token": invitation.token,
        "api key secret": key.secret,
        "service token": gw.target.service_token,
    }
    with gw.then("the recorded exchanges, as the artifacts will hold them, show none"):
        recorded = json.dumps(gw.recorder.to_list())
        assert "/v1/keys/verify" in recorded  # the exchanges really are there
        leaked = [name for name, value in secrets.items() if value and value in recorded]
        assert leaked == []

    services_dir = gw.artifacts_dir.parents[1] / "services"
    if not services_dir.is_dir():
        return  # a deployment target: its logs are not ours to read
    with gw.then("the raw service logs show none either"):
        logs = "\n".join(p.read_text() for p in sorted(services_dir.glob("*.log")))
        assert invitation.id in logs or "/v1/orgs" in logs  # the logs really cover this flow
        leaked = [name for name, value in secrets.items() if value and value in logs]
        assert leaked == []
