"""Concurrent ingest into one chain stays gap-free and verifiable, on SQLite and PostgreSQL;
stored events re-hash after the database round trip, and tampering is found, on both.

Threads ingest through the HTTP app (the real route, store and transaction code) into the same
chain at once: every event gets a distinct seq, the seqs are exactly 1..N, every prev_hash links,
and verification passes. Replays of one id racing each other store it once. PostgreSQL runs in
its own schema per test; it is skipped when unreachable, and a failure when CI=true.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from audit_fixtures import ORG, SERVICE, Clock, FakeIdentity, event, ingest, make_settings
from fastapi.testclient import TestClient

from gatewright.audit import Event, event_hash
from gatewright.audit.service import create_app, store

pytestmark = pytest.mark.audit

THREADS = 24
PER_THREAD = 5


@pytest.fixture
def shared_client(
    tmp_path: Path, clock: Clock, identity: FakeIdentity, database_url: str
) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, database_url=database_url)
    with TestClient(create_app(settings, clock=clock), raise_server_exceptions=False) as c:
        yield c


def _all(client: TestClient, org_id: str = ORG) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        body = client.get(f"/v1/orgs/{org_id}/events", params=params, headers=SERVICE).json()
        out += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return out


@pytest.mark.timeout(120)
def test_concurrent_ingest_into_one_chain_is_gap_free(shared_client: TestClient) -> None:
    client = shared_client
    start = threading.Barrier(THREADS)

    def one(i: int) -> list[httpx.Response]:
        start.wait()
        responses = []
        for j in range(PER_THREAD):
            if j % 2:
                responses.append(ingest(client, event(details={"t": i, "j": j})))
            else:
                batch = {"events": [event(), event(org_id=None, actor={"type": "anonymous"})]}
                responses.append(client.post("/v1/events/batch", json=batch, headers=SERVICE))
        return responses

    with ThreadPoolExecutor(THREADS) as pool:
        responses = [r for rs in pool.map(one, range(THREADS)) for r in rs]
    assert {r.status_code for r in responses} <= {200, 201}, [r.text for r in responses][:3]
    expected = PER_THREAD * THREADS  # one org event per single ingest and per batch
    stored = _all(client)
    assert [e["seq"] for e in stored] == list(range(1, expected + 1))
    for prev, cur in itertools.pairwise(stored):
        assert cur["prev_hash"] == prev["hash"]
    for chain in (ORG, "_platform"):
        result = client.get(f"/v1/orgs/{chain}/events/verify", headers=SERVICE).json()
        assert result["ok"] is True, result
    assert client.get(f"/v1/orgs/{ORG}/events/verify", headers=SERVICE).json()["count"] == expected
    platform = _all(client, "_platform")
    assert len(platform) == THREADS * ((PER_THREAD + 1) // 2)


@pytest.mark.timeout(120)
def test_concurrent_replays_of_one_id_store_it_once(shared_client: TestClient) -> None:
    client = shared_client
    body = event()
    start = threading.Barrier(16)

    def one(_: int) -> httpx.Response:
        start.wait()
        return ingest(client, body)

    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(one, range(16)))
    assert sorted(r.status_code for r in responses) == [200] * 15 + [201]
    assert len({r.json()["hash"] for r in responses}) == 1
    assert len(_all(client)) == 1


@pytest.mark.timeout(120)
def test_one_id_racing_into_two_chains_is_stored_once(shared_client: TestClient) -> None:
    client = shared_client
    body = event()
    start = threading.Barrier(16)

    def one(i: int) -> httpx.Response:
        start.wait()
        return ingest(client, body | {"org_id": f"org_race_{i % 2}"})

    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(one, range(16)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1, statuses
    assert set(statuses) <= {200, 201, 409}
    assert statuses.count(409) == 8, statuses
    stored = _all(client, "org_race_0") + _all(client, "org_race_1")
    assert len(stored) == 1


def test_stored_events_rehash_and_tampering_is_found(shared_client: TestClient) -> None:
    """The database round trip (microsecond times, unicode, floats, big ints, nested details)
    keeps every hash reproducible, and an edited row is named by seq, on both databases."""
    client = shared_client
    details = {"ü": [1.1, 2**62, None, {"z": True, "a": "x\u2028y"}], "float": 0.1 + 0.2}
    for i in range(4):
        body = event(time=f"2026-03-14T12:00:00.{i:06d}+05:30", details=details | {"i": i})
        assert ingest(client, body).status_code == 201
    assert client.get(f"/v1/orgs/{ORG}/events/verify", headers=SERVICE).json()["ok"] is True
    stored = _all(client)
    for e in stored:
        assert e["hash"] == event_hash(Event.model_validate(e))
    db = client.app.state.db  # type: ignore[attr-defined]
    with db.session() as s, s.begin():
        s.execute(
            sa.update(store.events)
            .where(store.events.c.chain == ORG, store.events.c.seq == 3)
            .values(outcome="denied")
        )
    result = client.get(f"/v1/orgs/{ORG}/events/verify", headers=SERVICE).json()
    assert (result["ok"], result["first_broken_seq"]) == (False, 3)
    assert result["reason"] == (
        f"event seq 3 ({stored[2]['id']}): stored hash does not match its content"
    )
