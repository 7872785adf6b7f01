"""Per-key rate limits travel with verification; revocations reach registered hooks at once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from identity_fixtures import SERVICE, SERVICE_TOKEN, World, auth, login
from identity_fixtures import app as app
from identity_fixtures import client as client
from identity_fixtures import world as world


class HookReceiver:
    """A loopback HTTP server that records the POSTs identity sends to a revocation hook."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                receiver.calls.append(
                    {
                        "path": self.path,
                        "auth": self.headers.get("Authorization"),
                        "request_id": self.headers.get("X-Request-ID"),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/internal/revoked-keys"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[HookReceiver]:
    with HookReceiver() as r:
        yield r


def test_rate_limit_travels_with_the_key(client: TestClient, world: World) -> None:
    created = client.post(
        f"/v1/orgs/{world.org_id}/keys",
        json={"name": "limited", "rate_limit_rpm": 30},
        headers=world.h("member"),
    )
    assert created.status_code == 201, created.text
    assert created.json()["rate_limit_rpm"] == 30
    verified = client.post(
        "/v1/keys/verify", json={"secret": created.json()["secret"]}, headers=SERVICE
    )
    assert verified.json()["rate_limit_rpm"] == 30
    unlimited = client.post("/v1/keys/verify", json={"secret": world.key_secret}, headers=SERVICE)
    assert unlimited.json()["rate_limit_rpm"] is None


@pytest.mark.parametrize("rpm", [0, -1, 10**7, "fast"])
def test_rate_limit_bounds(client: TestClient, world: World, rpm: object) -> None:
    response = client.post(
        f"/v1/orgs/{world.org_id}/keys",
        json={"name": "bad", "rate_limit_rpm": rpm},
        headers=world.h("member"),
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_failed"


def test_registering_a_hook_is_service_only(client: TestClient, world: World) -> None:
    body = {"url": "http://127.0.0.1:9/hook"}
    assert client.post("/v1/keys/revocation-hooks", json=body).status_code == 401
    denied = client.post("/v1/keys/revocation-hooks", json=body, headers=world.h("owner"))
    assert denied.status_code == 401
    for _ in range(2):  # idempotent
        assert (
            client.post("/v1/keys/revocation-hooks", json=body, headers=SERVICE).status_code == 204
        )


def test_revoking_a_key_calls_every_hook_before_answering(
    client: TestClient, world: World, receiver: HookReceiver
) -> None:
    registered = client.post(
        "/v1/keys/revocation-hooks", json={"url": receiver.url}, headers=SERVICE
    )
    assert registered.status_code == 204
    revoked = client.delete(
        f"/v1/orgs/{world.org_id}/keys/{world.key_id}",
        headers={**world.h("owner"), "X-Request-ID": "rid-revoke-1"},
    )
    assert revoked.status_code == 200
    # The hook was called synchronously: it is already recorded when the DELETE returns.
    assert receiver.calls == [
        {
            "path": "/v1/internal/revoked-keys",
            "auth": f"Bearer {SERVICE_TOKEN}",
            "request_id": "rid-revoke-1",
            "body": {"key_ids": [world.key_id], "org_id": world.org_id},
        }
    ]


def test_deleting_an_org_reports_all_its_keys(
    client: TestClient, world: World, receiver: HookReceiver
) -> None:
    second = client.post(
        f"/v1/orgs/{world.org_id}/keys", json={"name": "b"}, headers=world.h("owner")
    )
    client.post("/v1/keys/revocation-hooks", json={"url": receiver.url}, headers=SERVICE)
    assert client.delete(f"/v1/orgs/{world.org_id}", headers=world.h("owner")).status_code == 204
    assert len(receiver.calls) == 1
    body = receiver.calls[0]["body"]
    assert body["org_id"] == world.org_id
    assert sorted(body["key_ids"]) == sorted([world.key_id, second.json()["id"]])


def test_an_unreachable_hook_does_not_block_revocation(client: TestClient, world: World) -> None:
    client.post(
        "/v1/keys/revocation-hooks", json={"url": "http://127.0.0.1:9/gone"}, headers=SERVICE
    )
    revoked = client.delete(
        f"/v1/orgs/{world.org_id}/keys/{world.key_id}", headers=world.h("owner")
    )
    assert revoked.status_code == 200
    token = login(client, "owner@example.test")
    refused = client.post("/v1/keys/verify", json={"secret": world.key_secret}, headers=SERVICE)
    assert refused.status_code == 401
    assert client.get("/v1/users/me", headers=auth(token)).status_code == 200
