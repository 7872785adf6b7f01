"""Consumer contract: what `gatewright.audit.Client` needs from the audit service.

Every interaction is registered by a small builder right above the test that exercises it with the
real sync `Client`. Pact's mock server cannot take new interactions once it has served, so the
module fixture (`testkit.pactconsumer`) builds all of them, serves them once for the module, fails
at teardown if any was never requested (or mismatched), then writes `<pact
dir>/audit-client-audit.json` (`GATEWRIGHT_PACT_DIR`, default `<repo>/contracts`) exactly once.
Examples are fixed values (`pact_examples`), so the file is deterministic.

Requests carry `Authorization: Bearer <example token>` under a regex matcher; the provider test
makes exactly those example tokens valid (see its module docstring). Stored events in responses
match `seq` by type and `hash`, `prev_hash`, `received_at` by pattern; everything the emitter sent
comes back as sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pact import Pact, match

from gatewright.audit import (
    CONSUMER,
    PROVIDER,
    STATE_EVENT_STORED,
    STATE_SERVICE_TOKEN,
    STATE_USER_CAN_READ_AUDIT,
    Client,
    EventIn,
)
from gatewright.core import BadRequest, Conflict, PermissionDenied, RetryPolicy
from gatewright.testkit.pactconsumer import Interactions, bearer, error_body, timestamp

from pact_examples import (  # isort: skip
    ALICE_ID,
    ALICE_TOKEN,
    HASH_EXAMPLE,
    HASH_REGEX,
    ORG_ID,
    REQUEST_ID,
    SERVICE_TOKEN,
    TIMESTAMP_EXAMPLE,
    example_event,
)

JSON = "application/json"
UNKNOWN_REQUEST_ID = "req_that_caused_nothing"

interaction = Interactions(CONSUMER, PROVIDER)


def sha() -> Any:
    return match.regex(HASH_EXAMPLE, regex=HASH_REGEX)


def error(code: str) -> dict[str, Any]:
    return error_body(match.str("invalid_request_error"), code)


def stored(sent: dict[str, Any], seq: int) -> dict[str, Any]:
    """The stored form of an example event: what was sent plus its place in the chain."""
    return {
        **sent,
        "seq": match.int(seq),
        "received_at": timestamp(),
        "prev_hash": sha(),
        "hash": sha(),
    }


EVENT_1 = example_event(1)
EVENT_2 = example_event(2, action="authz.denied", outcome="denied", reason="Role lacks it.")
PLATFORM_EVENT = example_event(
    3,
    org_id=None,
    actor={"type": "anonymous", "id": None},
    action="auth.login",
    target=None,
    outcome="denied",
    reason="Unknown email.",
)
SERVICE = {"service_token": SERVICE_TOKEN}
READER = {
    "org_id": ORG_ID,
    "user_id": ALICE_ID,
    "token": ALICE_TOKEN,
    "role": "admin",
    "events": [EVENT_1, EVENT_2],
}


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with interaction.serve() as url:
        yield url


@pytest.fixture
def user(mock_url: str) -> Iterator[Client]:
    with Client(mock_url, token=ALICE_TOKEN, retry=RetryPolicy(max_retries=0)) as client:
        yield client


@pytest.fixture
def service(mock_url: str) -> Iterator[Client]:
    with Client(mock_url, token=SERVICE_TOKEN, retry=RetryPolicy(max_retries=0)) as client:
        yield client


# -- ingest ----------------------------------------------------------------------------------
@interaction
def _ingest(pact: Pact) -> None:
    (
        pact.upon_receiving("a service recording an event")
        .given(STATE_SERVICE_TOKEN, **SERVICE)
        .with_request("POST", "/v1/events")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .with_body(EVENT_1, JSON)
        .will_respond_with(201)
        .with_body(stored(EVENT_1, 1), JSON)
    )


def test_ingest(service: Client) -> None:
    event = service.events.ingest(EventIn.model_validate(EVENT_1))
    assert (event.id, event.seq, event.org_id) == (EVENT_1["id"], 1, ORG_ID)
    assert event.request_id == REQUEST_ID
    assert len(event.hash) == 64


@interaction
def _ingest_platform(pact: Pact) -> None:
    (
        pact.upon_receiving("a service recording a platform event (no org)")
        .given(STATE_SERVICE_TOKEN, **SERVICE)
        .with_request("POST", "/v1/events")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .with_body(PLATFORM_EVENT, JSON)
        .will_respond_with(201)
        .with_body(stored(PLATFORM_EVENT, 1), JSON)
    )


def test_ingest_platform(service: Client) -> None:
    event = service.events.ingest(EventIn.model_validate(PLATFORM_EVENT))
    assert event.org_id is None
    assert event.target is None
    assert event.actor.type == "anonymous"


@interaction
def _ingest_replay(pact: Pact) -> None:
    (
        pact.upon_receiving("a service recording an event it already recorded")
        .given(STATE_EVENT_STORED, **SERVICE, event=EVENT_1)
        .with_request("POST", "/v1/events")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .with_body(EVENT_1, JSON)
        .will_respond_with(200)
        .with_body(stored(EVENT_1, 1), JSON)
    )


def test_ingest_replay(service: Client) -> None:
    assert service.events.ingest(EventIn.model_validate(EVENT_1)).seq == 1


@interaction
def _ingest_conflict(pact: Pact) -> None:
    (
        pact.upon_receiving("a service reusing an event id for different content")
        .given(STATE_EVENT_STORED, **SERVICE, event=EVENT_1)
        .with_request("POST", "/v1/events")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .with_body({**EVENT_1, "reason": "Something else."}, JSON)
        .will_respond_with(409)
        .with_body(error("conflict"), JSON)
    )


def test_ingest_conflict(service: Client) -> None:
    with pytest.raises(Conflict) as info:
        service.events.ingest(EventIn.model_validate({**EVENT_1, "reason": "Something else."}))
    assert info.value.code == "conflict"


@interaction
def _ingest_batch(pact: Pact) -> None:
    (
        pact.upon_receiving("a service recording a batch of events")
        .given(STATE_SERVICE_TOKEN, **SERVICE)
        .with_request("POST", "/v1/events/batch")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .with_body({"events": [EVENT_1, EVENT_2]}, JSON)
        .will_respond_with(200)
        .with_body({"data": [stored(EVENT_1, 1), stored(EVENT_2, 2)]}, JSON)
    )


def test_ingest_batch(service: Client) -> None:
    result = service.events.ingest_batch(
        [EventIn.model_validate(EVENT_1), EventIn.model_validate(EVENT_2)]
    )
    assert [e.seq for e in result.data] == [1, 2]


# -- reading ---------------------------------------------------------------------------------
@interaction
def _list(pact: Pact) -> None:
    (
        pact.upon_receiving("an admin reading the org's audit log, one event per page")
        .given(STATE_USER_CAN_READ_AUDIT, **READER)
        .with_request("GET", f"/v1/orgs/{ORG_ID}/events")
        .with_query_parameters({"request_id": REQUEST_ID, "limit": "1"})
        .with_header("Authorization", bearer(ALICE_TOKEN))
        .will_respond_with(200)
        .with_body({"data": [stored(EVENT_1, 1)], "next_cursor": match.str("MQ")}, JSON)
    )


def test_list(user: Client) -> None:
    page = user.events.list(ORG_ID, request_id=REQUEST_ID, limit=1)
    assert [e.id for e in page.data] == [EVENT_1["id"]]
    assert page.next_cursor


@interaction
def _list_filtered(pact: Pact) -> None:
    (
        pact.upon_receiving("an admin reading the org's denials after a cursor")
        .given(STATE_USER_CAN_READ_AUDIT, **READER)
        .with_request("GET", f"/v1/orgs/{ORG_ID}/events")
        .with_query_parameters(
            {
                "action": "authz.denied",
                "actor": ALICE_ID,
                "outcome": "denied",
                "since": TIMESTAMP_EXAMPLE,
                "cursor": "MQ",
            }
        )
        .with_header("Authorization", bearer(ALICE_TOKEN))
        .will_respond_with(200)
        .with_body({"data": [stored(EVENT_2, 2)], "next_cursor": None}, JSON)
    )


def test_list_filtered(user: Client) -> None:
    page = user.events.list(
        ORG_ID,
        action="authz.denied",
        actor=ALICE_ID,
        outcome="denied",
        since=TIMESTAMP_EXAMPLE,
        cursor="MQ",
    )
    assert [e.outcome for e in page.data] == ["denied"]
    assert page.next_cursor is None


@interaction
def _list_bad_cursor(pact: Pact) -> None:
    (
        pact.upon_receiving("an admin reading the audit log with a cursor it did not get")
        .given(STATE_USER_CAN_READ_AUDIT, **READER)
        .with_request("GET", f"/v1/orgs/{ORG_ID}/events")
        .with_query_parameter("cursor", "not-a-cursor")
        .with_header("Authorization", bearer(ALICE_TOKEN))
        .will_respond_with(400)
        .with_body(error("invalid_cursor"), JSON)
    )


def test_list_bad_cursor(user: Client) -> None:
    with pytest.raises(BadRequest) as info:
        user.events.list(ORG_ID, cursor="not-a-cursor")
    assert info.value.code == "invalid_cursor"


@interaction
def _list_denied(pact: Pact) -> None:
    (
        pact.upon_receiving("a member reading the org's audit log")
        .given(STATE_USER_CAN_READ_AUDIT, **{**READER, "role": "member"})
        .with_request("GET", f"/v1/orgs/{ORG_ID}/events")
        .with_header("Authorization", bearer(ALICE_TOKEN))
        .will_respond_with(403)
        .with_body(error("permission_denied"), JSON)
    )


def test_list_denied(user: Client) -> None:
    with pytest.raises(PermissionDenied) as info:
        user.events.list(ORG_ID)
    assert info.value.code == "permission_denied"


@interaction
def _by_request_id(pact: Pact) -> None:
    (
        pact.upon_receiving("a service looking up every event of one request")
        .given(STATE_EVENT_STORED, **SERVICE, event=EVENT_1)
        .with_request("GET", "/v1/events")
        .with_query_parameter("request_id", REQUEST_ID)
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .will_respond_with(200)
        .with_body({"data": [stored(EVENT_1, 1)]}, JSON)
    )


def test_by_request_id(service: Client) -> None:
    result = service.events.by_request_id(REQUEST_ID)
    assert [e.request_id for e in result.data] == [REQUEST_ID]


@interaction
def _by_request_ids(pact: Pact) -> None:
    (
        pact.upon_receiving("a service looking up the events of several requests at once")
        .given(STATE_EVENT_STORED, **SERVICE, event=EVENT_1)
        .with_request("GET", "/v1/events")
        .with_query_parameters([("request_id", REQUEST_ID), ("request_id", UNKNOWN_REQUEST_ID)])
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .will_respond_with(200)
        .with_body({"data": [stored(EVENT_1, 1)]}, JSON)
    )


def test_by_request_ids(service: Client) -> None:
    result = service.events.by_request_id([REQUEST_ID, UNKNOWN_REQUEST_ID])
    assert [e.request_id for e in result.data] == [REQUEST_ID]


@interaction
def _verify(pact: Pact) -> None:
    (
        pact.upon_receiving("an admin verifying the org's chain")
        .given(STATE_USER_CAN_READ_AUDIT, **READER)
        .with_request("GET", f"/v1/orgs/{ORG_ID}/events/verify")
        .with_header("Authorization", bearer(ALICE_TOKEN))
        .will_respond_with(200)
        .with_body(
            {"org_id": ORG_ID, "ok": True, "count": 2, "first_broken_seq": None, "reason": None},
            JSON,
        )
    )


def test_verify(user: Client) -> None:
    result = user.events.verify(ORG_ID)
    assert (result.ok, result.count, result.first_broken_seq) == (True, 2, None)
