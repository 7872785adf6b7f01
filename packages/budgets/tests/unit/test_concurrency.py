"""Concurrent reservations never overspend, on SQLite and on a real PostgreSQL.

50 threads reserve against a limit that fits exactly N of them, through the HTTP app (the real
route, store and transaction code): exactly N succeed, the rest get 402, spent + reserved never
exceeds the limit, and after committing or releasing everything nothing is held. PostgreSQL runs
in its own schema per test; it is skipped when unreachable, and a failure when CI=true.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from budgets_fixtures import (
    KEY,
    ORG,
    SERVICE,
    Clock,
    FakeIdentity,
    make_settings,
    reserve,
    set_budget,
    spend,
)
from fastapi.testclient import TestClient

from gatewright.budgets.service import create_app

pytestmark = pytest.mark.budgets

THREADS = 50
FITS = 17
AMOUNT = 3_000


@pytest.fixture
def shared_client(
    tmp_path: Path, clock: Clock, identity: FakeIdentity, database_url: str
) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, database_url=database_url)
    with TestClient(create_app(settings, clock=clock), raise_server_exceptions=False) as c:
        yield c


def _race(client: TestClient, *, key_id: str | None) -> list[httpx.Response]:
    start = threading.Barrier(THREADS)

    def one(i: int) -> httpx.Response:
        start.wait()
        return reserve(client, AMOUNT, request_id=f"req_race_{i}", key_id=key_id)

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, range(THREADS)))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("scope", ["org", "key"])
def test_concurrent_reservations_never_overspend(shared_client: TestClient, scope: str) -> None:
    client = shared_client
    limit = FITS * AMOUNT
    if scope == "org":
        set_budget(client, limit)
    else:
        set_budget(client, 10 * limit)
        set_budget(client, limit, "monthly", key_id=KEY)
    responses = _race(client, key_id=KEY)
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == FITS, statuses
    assert statuses.count(402) == THREADS - FITS, statuses
    denial = next(r for r in responses if r.status_code == 402).json()["error"]
    assert denial["details"]["scope"] == scope
    s = spend(client)
    row = s if scope == "org" else s["keys"][0]
    assert row["reserved_micro_usd"] == limit
    assert row["spent_micro_usd"] + row["reserved_micro_usd"] <= limit

    held = [r.json()["id"] for r in responses if r.status_code == 201]

    def settle(i: int) -> int:
        rid = held[i]
        if i % 2:
            r = client.post(f"/v1/reservations/{rid}/release", headers=SERVICE)
        else:
            r = client.post(
                f"/v1/reservations/{rid}/commit",
                json={"actual_micro_usd": AMOUNT - 1},
                headers=SERVICE,
            )
        return r.status_code

    with ThreadPoolExecutor(len(held)) as pool:
        assert set(pool.map(settle, range(len(held)))) == {200}
    s = spend(client)
    committed = (len(held) + 1) // 2
    for row in (s, s["keys"][0]):
        assert row["reserved_micro_usd"] == 0
        assert row["spent_micro_usd"] == committed * (AMOUNT - 1)
    listed = client.get(f"/v1/orgs/{ORG}/reservations?status=held", headers=SERVICE).json()
    assert listed["data"] == []


@pytest.mark.timeout(120)
def test_concurrent_replays_of_one_idempotency_key_reserve_once(shared_client: TestClient) -> None:
    client = shared_client
    set_budget(client, 10 * AMOUNT)
    start = threading.Barrier(20)

    def one(_: int) -> httpx.Response:
        start.wait()
        return reserve(client, AMOUNT, idempotency_key="idk_replayed", request_id="req_label")

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(one, range(20)))
    assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sorted(r.json()["replayed"] for r in responses) == [False] + [True] * 19
    assert spend(client)["reserved_micro_usd"] == AMOUNT


@pytest.mark.timeout(120)
def test_concurrent_creates_sharing_a_request_id_each_hold_their_own(
    shared_client: TestClient,
) -> None:
    """A request ID is a caller's label: twenty creates that share one (and differ in their
    idempotency keys) are twenty holds, and the budget stops them at its limit."""
    client = shared_client
    set_budget(client, 10 * AMOUNT)
    start = threading.Barrier(20)

    def one(_: int) -> int:
        start.wait()
        return reserve(client, AMOUNT, request_id="req_shared_label").status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = sorted(pool.map(one, range(20)))
    assert statuses == [201] * 10 + [402] * 10
    assert spend(client)["reserved_micro_usd"] == 10 * AMOUNT


@pytest.mark.timeout(120)
def test_rollover_racing_commits_loses_nothing(shared_client: TestClient, clock: Clock) -> None:
    """Commits of yesterday's holds racing today's first reservations: today is charged only
    for today, and yesterday's holds never un-reserve today's money."""
    client = shared_client
    set_budget(client, 100 * AMOUNT)
    old = [reserve(client, AMOUNT).json()["id"] for _ in range(10)]
    clock.advance(days=1)
    start = threading.Barrier(20)

    def one(i: int) -> int:
        start.wait()
        if i < 10:
            path = f"/v1/reservations/{old[i]}/commit"
            return client.post(path, json={"actual_micro_usd": AMOUNT}, headers=SERVICE).status_code
        return reserve(client, AMOUNT, request_id=f"req_today_{i}").status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = sorted(pool.map(one, range(20)))
    assert statuses == [200] * 10 + [201] * 10
    s = spend(client)
    assert (s["spent_micro_usd"], s["reserved_micro_usd"]) == (0, 10 * AMOUNT)
